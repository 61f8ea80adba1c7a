# bench/lib.sh - shared by bench/run.sh, bench/db-bench.sh and bench/drill-bench.sh (sourced, not run).
# The sourcing script sets BENCH_DIR (its own folder) first; messages carry the script's name.
# shellcheck shell=bash

PROG=$(basename "${BASH_SOURCE[1]}")
ROOT=$(cd "$BENCH_DIR/.." && pwd)
GEN=$BENCH_DIR/gen-dataset.py
PGCLUSTER=$ROOT/scripts/pg-cluster.sh

die() { echo "$PROG: $*" >&2; exit 2; }
note() { echo "$PROG: $*" >&2; }

# ---------------------------------------------------------------- options
need_arg() { [[ $# -ge 2 && -n $2 ]] || die "$1 needs an argument"; }
posint() { [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 must be a positive integer, got '$2'"; }
# scale_key S: the dataset scale as gen-dataset.py is given it and the dataset cache is named ("1.0" -> "1").
scale_key() {
    SCALE_KEY=$(python3 -c 'import sys; s = float(sys.argv[1]); assert s > 0; print(f"{s:g}")' "$1" 2>/dev/null) ||
        die "--scale must be a positive number, got '$1'"
}

# ---------------------------------------------------------------- workdir
# open_workdir: makes WORK absolute and holds its lock (fd 9) for the whole run.
open_workdir() {
    mkdir -p "$WORK"
    WORK=$(cd "$WORK" && pwd)
    [[ $WORK != / ]] || die "refusing to use / as workdir"
    exec 9>"$WORK/.lock"
    flock -n 9 || die "another $PROG is using $WORK"
}
# postgres_reaches_workdir: the postgres user can enter WORK and every folder above it.
postgres_reaches_workdir() {
    local d
    chmod 755 "$WORK"
    d=$WORK
    while [[ $d != / ]]; do
        runuser -u postgres -- test -x "$d" || die "the postgres user cannot enter $d: choose a --workdir it can reach (e.g. below /tmp)"
        d=$(dirname "$d")
    done
}

# Never let a caller's environment choose repositories, passwords or servers for us.
unset_site_env() {
    unset SITEVAULT_REPOSITORY SITEVAULT_PASSWORD_FILE SITEVAULT_PASSWORD SITEVAULT_SITE \
        PGHOST PGPORT PGUSER PGPASSWORD PGPASSFILE PGDATABASE PGSERVICE PGSERVICEFILE PGSSLMODE PGOPTIONS
}

# ---------------------------------------------------------------- requirements
pg_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
# ensure_deps PACKAGES: missing_deps (the script's own) lists what is missing; one attempt with
# scripts/install-deps.sh --bench, then die naming PACKAGES to install by hand.
ensure_deps() {
    local missing
    missing=$(missing_deps)
    if [[ -n $missing ]]; then
        note "missing: $(echo "$missing" | paste -sd, -); trying scripts/install-deps.sh --bench"
        "$ROOT/scripts/install-deps.sh" --bench || true
        missing=$(missing_deps)
        [[ -z $missing ]] || die "still missing: $(echo "$missing" | paste -sd, -). Install them (apt-get install $1) and run again"
    fi
}

# ---------------------------------------------------------------- cleanup and signals (db-bench.sh, drill-bench.sh)
# On exit: cleanup_more (if the script defines it), the cluster stopped, T removed. On SIGINT/SIGTERM
# the process group of the running step (run_grouped) is terminated first.
CLUSTER_UP=0
GROUP_PID=
cleanup() {
    local rc=$?
    set +e
    declare -F cleanup_more >/dev/null && cleanup_more
    ((CLUSTER_UP)) && { "$PGCLUSTER" stop "$PG" || note "could not stop the cluster in $PG"; }
    rm -rf "$T"
    exit "$rc"
}
on_signal() {
    trap - INT TERM
    note "interrupted"
    if [[ -n ${GROUP_PID:-} ]]; then
        kill -TERM -- "-$GROUP_PID" 2>/dev/null
        wait "$GROUP_PID" 2>/dev/null
    fi
    exit 130
}
install_traps() {
    trap cleanup EXIT
    trap on_signal INT TERM
}
# run_grouped CMD...: CMD in a subshell with errexit in force, in a process group of its own (the one
# on_signal terminates); its exit code in GROUP_RC (the function itself always returns 0).
run_grouped() {
    set +e
    set -m
    (
        set +m -euo pipefail
        trap - INT TERM
        "$@"
    ) &
    GROUP_PID=$!
    set +m
    wait "$GROUP_PID"
    GROUP_RC=$?
    GROUP_PID=
    set -e
}

# ---------------------------------------------------------------- sitevault
# sitevault_from_env: SV = SITEVAULT_BIN made absolute; returns 1 when SITEVAULT_BIN is not set.
sitevault_from_env() {
    [[ -n ${SITEVAULT_BIN:-} ]] || return 1
    [[ -x $SITEVAULT_BIN && -f $SITEVAULT_BIN ]] || die "SITEVAULT_BIN=$SITEVAULT_BIN is not an executable file"
    SV=$(cd "$(dirname "$SITEVAULT_BIN")" && pwd)/$(basename "$SITEVAULT_BIN")
}
SOURCE_STATE=
source_state() {
    git -C "$ROOT" rev-parse --short HEAD >/dev/null 2>&1 || { echo "an unknown tree (no git)"; return; }
    local s diff
    s="commit $(git -C "$ROOT" rev-parse --short HEAD)"
    diff=$(git -C "$ROOT" diff HEAD -- Sources Package.swift 2>/dev/null | sha256sum | cut -c1-12)
    [[ -z $(git -C "$ROOT" status --porcelain -- Sources Package.swift 2>/dev/null) ]] ||
        s+=" + uncommitted changes in Sources/ (diff sha256 $diff)"
    echo "$s"
}
# build_sitevault: swift build into .build-bench (not .build, which others may be building in),
# three attempts a minute apart (the sources may be mid-edit). Log in LOGS/build.log.
build_sitevault() {
    local attempt
    for attempt in 1 2 3; do
        SOURCE_STATE=$(source_state)
        note "building sitevault (attempt $attempt): swift build -c release --product sitevault --scratch-path .build-bench (log: $LOGS/build.log)"
        if (cd "$ROOT" && swift build -c release --product sitevault --scratch-path .build-bench) >"$LOGS/build.log" 2>&1; then
            return 0
        fi
        show_tail 20 "$LOGS/build.log"
        ((attempt < 3)) && { note "build failed (the sources may be mid-edit); retrying in 60 s"; sleep 60; }
    done
    die "swift build failed 3 times (see $LOGS/build.log); use --no-build with an existing binary or SITEVAULT_BIN"
}
# resolve_sitevault: SV from SITEVAULT_BIN, else a fresh build (BUILD=1) or the existing
# .build-bench/release/sitevault (--no-build). SV_VERSION: sitevault has no --version, so the
# binary's hash, and for a fresh build the source state it was built from (others may be editing
# Sources/ meanwhile).
resolve_sitevault() {
    if sitevault_from_env; then
        :
    elif ((BUILD)); then
        build_sitevault
        SV=$ROOT/.build-bench/release/sitevault
    else
        SV=$ROOT/.build-bench/release/sitevault
        [[ -x $SV ]] || die "--no-build given but $SV does not exist (build it or set SITEVAULT_BIN)"
        note "--no-build: using existing $SV (may be stale)"
    fi
    [[ -x $SV ]] || die "sitevault binary $SV not found"
    SV_VERSION="binary sha256 $(sha256sum "$SV" | cut -c1-12)"
    SV_VERSION+=${SOURCE_STATE:+", built from $SOURCE_STATE"}
}

# ---------------------------------------------------------------- dataset (run.sh, drill-bench.sh, sftp-bench.sh)
# prepare_dataset [PROFILE]: WORK/datasets/PROFILE-scale-SCALE_KEY from gen-dataset.py (PROFILE mixed or
# site, default mixed), cached while the generator's files are unchanged; sets DATA, DATA_FILES, DATA_BYTES.
prepare_dataset() {
    local gen_hash profile=${1:-mixed}
    DATA=$WORK/datasets/$profile-scale-$SCALE_KEY
    gen_hash=$(cat "$GEN" "$BENCH_DIR/datasetlib.py" "$BENCH_DIR/site_dataset.py" | sha256sum | cut -d' ' -f1)
    mkdir -p "$WORK/datasets"
    if [[ -d $DATA && -f $DATA.ok && $(cat "$DATA.ok") == "$gen_hash" ]]; then
        note "using cached dataset $DATA"
    else
        rm -rf "$DATA" "$DATA.tmp" "$DATA.ok"
        note "generating dataset (profile $profile, scale $SCALE_KEY) in $DATA"
        python3 "$GEN" --profile "$profile" --scale "$SCALE_KEY" "$DATA.tmp"
        mv "$DATA.tmp" "$DATA"
        echo "$gen_hash" >"$DATA.ok"
    fi
    DATA_FILES=$(find "$DATA" -type f | wc -l)
    DATA_BYTES=$(find "$DATA" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
}

# ---------------------------------------------------------------- measuring
# time_command TIMEFILE CMD...: CMD under GNU time; TIMEFILE's last line: wall user sys (s), peak RSS (KiB).
# read_times TIMEFILE: TIME_WALL TIME_USER TIME_SYS TIME_RSS from that line (declare them local).
time_command() { local tf=$1; shift; /usr/bin/time -f '%e %U %S %M' -o "$tf" "$@"; }
read_times() { read -r TIME_WALL TIME_USER TIME_SYS TIME_RSS < <(tail -n 1 "$1"); }
show_tail() { tail -n "$1" "$2" | sed 's/^/   | /' >&2; } # N FILE: the end of a log, indented, on stderr
value() { printf 'value\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RAW"; }
meta() { printf '%s\t%s\n' "$1" "$2" >>"$META"; }
cpu_model() { grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
utc_now() { date -u +%Y-%m-%dT%H:%M:%SZ; }
json_get() { # FILE EXPR (python expression over d)
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); v = eval(sys.argv[2]); print("" if v is None else v)' "$1" "$2"
}

# ---------------------------------------------------------------- the cluster (db-bench.sh, drill-bench.sh)
# One throwaway cluster in PG (scripts/pg-cluster.sh), cached while PG/dataset.ok holds DATASET_KEY.
PORT= SOCKET=
psql_admin() { # over the trusted local socket, as postgres
    PGOPTIONS="-c client_min_messages=warning" "$PGBIN/psql" -X -A -t -q -v ON_ERROR_STOP=1 -h "$SOCKET" -p "$PORT" -U postgres "$@"
}
start_cluster() {
    local out
    "$PGCLUSTER" stop "$PG" >/dev/null 2>&1 || true
    out=$("$PGCLUSTER" start "$PG") || die "scripts/pg-cluster.sh start $PG failed"
    CLUSTER_UP=1
    PORT=$(sed -n 's/^PORT=//p' <<<"$out")
    SOCKET=$(sed -n 's/^SOCKET=//p' <<<"$out")
    [[ -n $PORT && -n $SOCKET ]] || die "could not read PORT/SOCKET from scripts/pg-cluster.sh: $out"
}
stop_cluster() { "$PGCLUSTER" stop "$PG"; CLUSTER_UP=0; }
cluster_cached() { ((!FRESH)) && [[ -f $PG/dataset.ok && $(<"$PG/dataset.ok") == "$DATASET_KEY" ]]; }
discard_cluster() {
    "$PGCLUSTER" stop "$PG" >/dev/null 2>&1 || true
    rm -rf "$PG"
}
# load_pgbench SCALE: database bench with pgbench's tables at SCALE, then 5 s of pgbench traffic
# (some history: the database is not only freshly loaded tables, and the pgbench invariant checked
# after restores means something). Log in LOGS/pgbench-init.log.
load_pgbench() {
    psql_admin -c "CREATE DATABASE bench" >/dev/null
    "$PGBIN/pgbench" -i -q -s "$1" -h "$SOCKET" -p "$PORT" -U postgres bench >"$LOGS/pgbench-init.log" 2>&1 ||
        { tail "$LOGS/pgbench-init.log" >&2; die "pgbench -i failed"; }
    "$PGBIN/pgbench" -n -c 2 -T 5 -h "$SOCKET" -p "$PORT" -U postgres bench >>"$LOGS/pgbench-init.log" 2>&1 ||
        { tail "$LOGS/pgbench-init.log" >&2; die "pgbench run failed"; }
}
# drop_leftover_dbs CONDITION [NOTE]: drops the databases pg_database WHERE CONDITION selects (a crashed
# run's), each announced with NOTE if given.
drop_leftover_dbs() {
    local leftover
    for leftover in $(psql_admin -c "SELECT datname FROM pg_database WHERE $1"); do
        [[ -z ${2:-} ]] || note "$2 $leftover"
        psql_admin -c "DROP DATABASE \"$leftover\" WITH (FORCE)" >/dev/null
    done
}
