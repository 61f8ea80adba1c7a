#!/usr/bin/env bash
# Database benchmark: sitevault's PostgreSQL and SQLite components against the native tools,
# side by side in one run, on ONE throwaway PostgreSQL cluster (scripts/pg-cluster.sh).
# Usage, phases and options: `bench/db-bench.sh --help`; results: bench/DB-RESULTS.md.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: bench/db-bench.sh [options]

Measures, side by side, on one PostgreSQL cluster started with scripts/pg-cluster.sh
(a pgbench database of --scale, plus a table of --random-mb MiB of random bytea):

  logical   pg_dump -Fc -d bench > FILE      vs  sitevault site backup (postgresql, logical, verify = "list")
            -> throughput = database size / wall; bar: sitevault >= 0.9x pg_dump
  physical  pgbackrest backup --type=full    vs  sitevault site backup (postgresql, method = "physical")
            -> bar: pgbackrest wall / sitevault wall >= 1.6
  restore   pg_restore -d NEWDB FILE         vs  sitevault restore --include /pg/bench.dump + pg_restore
            pgbackrest restore (new folder)  vs  sitevault restore --include /cluster/base.tar + tar -x
            (each restored database/cluster is then checked untimed: pgbench invariant, row counts)
  sqlite    sitevault site backup of a --sqlite-mb MiB WAL database while bench/sqlite-writer.py commits
            --sqlite-rate single-row inserts per second; bar: no commit slower than 50 ms during the
            backup; integrity result read back with `sitevault site show latest --json`

Options:
  --scale N          pgbench scale (default 50, ~750 MiB; plus --random-mb)
  --repeat N         repetitions per measurement, the median is reported (default 3)
  --only LIST        run only these phases (comma-separated: logical,physical,restore,sqlite)
  --no-build         do not build; use SITEVAULT_BIN or .build-bench/release/sitevault
  --workdir DIR      default /tmp/sitevault-db-bench
  --random-mb N      MiB of random bytea in table bench.blobs (default 200)
  --sqlite-mb N      size of the SQLite database (default 500)
  --sqlite-rate N    writer commits per second (default 1000)
  --sqlite-sync M    the writer's PRAGMA synchronous: NORMAL (default) or FULL
  --pgbr-compress T  pgBackRest compress-type (default: pgBackRest's own default, gz)
  --pgbr-process-max N  pgBackRest process-max (default: pgBackRest's own default, 1)
  --no-verify        skip the untimed checks of restored databases and clusters
  --fresh            regenerate the cached cluster and SQLite database
  -h, --help

Every tool runs under /usr/bin/time (wall, user+sys CPU, peak RSS of the process and the children
it waited for; PostgreSQL's server processes are not included for any tool). Page cache is warm
(not dropped); `sync` runs before each timed command; the order of the two tools alternates
between repetitions. Needs root (the cluster and pgBackRest run as the `postgres` user through
runuser), PostgreSQL 15 (postgresql-15), pgbackrest, GNU time and python3.

Cached between runs below the workdir: the cluster with its data (pg/, regenerated when --scale or
--random-mb changes) and the SQLite database (datasets/). Everything else lives in tmp/ and is
removed at the end; logs/, raw.tsv, meta.tsv and summary.md stay.

Example (smoke run): bench/db-bench.sh --scale 5 --repeat 1 --random-mb 20 --sqlite-mb 100
EOF
}

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"
WRITER=$BENCH_DIR/sqlite-writer.py
REPORT=$BENCH_DIR/db-report.py

SCALE=50
REPEAT=3
ONLY=logical,physical,restore,sqlite
BUILD=1
WORK=/tmp/sitevault-db-bench
RANDOM_MB=200
SQLITE_MB=500
SQLITE_RATE=1000
SQLITE_SYNC=NORMAL
PGBR_COMPRESS=
PGBR_PROCESS_MAX=
VERIFY=1
FRESH=0

while [[ $# -gt 0 ]]; do
    case $1 in
        --scale) need_arg "$@"; SCALE=$2; shift 2 ;;
        --repeat) need_arg "$@"; REPEAT=$2; shift 2 ;;
        --only) need_arg "$@"; ONLY=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --workdir) need_arg "$@"; WORK=$2; shift 2 ;;
        --random-mb) need_arg "$@"; RANDOM_MB=$2; shift 2 ;;
        --sqlite-mb) need_arg "$@"; SQLITE_MB=$2; shift 2 ;;
        --sqlite-rate) need_arg "$@"; SQLITE_RATE=$2; shift 2 ;;
        --sqlite-sync) need_arg "$@"; SQLITE_SYNC=$2; shift 2 ;;
        --pgbr-compress) need_arg "$@"; PGBR_COMPRESS=$2; shift 2 ;;
        --pgbr-process-max) need_arg "$@"; PGBR_PROCESS_MAX=$2; shift 2 ;;
        --no-verify) VERIFY=0; shift ;;
        --fresh) FRESH=1; shift ;;
        --*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}" ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done

posint --scale "$SCALE"
posint --repeat "$REPEAT"
posint --random-mb "$RANDOM_MB"
posint --sqlite-mb "$SQLITE_MB"
posint --sqlite-rate "$SQLITE_RATE"
[[ -z $PGBR_PROCESS_MAX ]] || posint --pgbr-process-max "$PGBR_PROCESS_MAX"
case $SQLITE_SYNC in NORMAL | FULL) ;; *) die "--sqlite-sync must be NORMAL or FULL, got '$SQLITE_SYNC'" ;; esac
case $PGBR_COMPRESS in "" | gz | lz4 | zst | bz2 | none) ;; *) die "--pgbr-compress must be gz, lz4, zst, bz2 or none" ;; esac
declare -A WANT=()
for p in ${ONLY//,/ }; do
    case $p in logical | physical | restore | sqlite) WANT[$p]=1 ;; *) die "unknown phase in --only: '$p' (phases: logical,physical,restore,sqlite)" ;; esac
done
((${#WANT[@]} > 0)) || die "--only names no phase"
want() { [[ -n ${WANT[$1]:-} ]]; }
NEED_PG=0
{ want logical || want physical || want restore; } && NEED_PG=1

(($(id -u) == 0)) || die "run as root: the cluster and pgBackRest run as the postgres user (runuser)"

unset_site_env

# ---------------------------------------------------------------- requirements
missing_deps() {
    local m=() b
    [[ -x /usr/bin/time ]] || m+=("time (GNU time at /usr/bin/time)")
    command -v python3 >/dev/null || m+=(python3)
    if ((NEED_PG)); then
        b=$(pg_bindir)
        for t in initdb pg_ctl psql pgbench pg_dump pg_restore pg_basebackup; do
            [[ -n $b && -x $b/$t ]] || { m+=("postgresql-15 ($t)"); break; }
        done
        { want physical || want restore; } && ! command -v pgbackrest >/dev/null && m+=(pgbackrest)
        id postgres >/dev/null 2>&1 || m+=("the postgres user (postgresql-15)")
    fi
    printf '%s\n' "${m[@]}"
}
ensure_deps "postgresql-15 pgbackrest time python3"
PGBIN=$(pg_bindir)

open_workdir
# The postgres user must reach the cluster, pgBackRest's folders and the restored data folders.
postgres_reaches_workdir
LOGS=$WORK/logs
RAW=$WORK/raw.tsv
META=$WORK/meta.tsv
T=$WORK/tmp
PG=$WORK/pg
rm -rf "$LOGS" "$T"
mkdir -p "$LOGS" "$T" "$WORK/datasets"
chmod 755 "$T"
: >"$RAW"

# ---------------------------------------------------------------- cleanup
# Phases run in subshells: what they start is recorded in files for the exit trap (bench/lib.sh
# cleanup, which then stops the cluster and removes tmp/).
WRITER_PIDFILE=$T/writer.pid
RESTORED_LIST=$T/restored-clusters
cleanup_more() {
    local pid c i
    if [[ -s $WRITER_PIDFILE ]]; then
        pid=$(<"$WRITER_PIDFILE")
        kill -0 "$pid" 2>/dev/null && kill -TERM "$pid"
        for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    if [[ -s $RESTORED_LIST ]]; then
        while read -r c; do
            [[ -s $c/postmaster.pid ]] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$c" -m immediate -w stop >/dev/null 2>&1
        done <"$RESTORED_LIST"
    fi
    return 0
}
install_traps

# ---------------------------------------------------------------- sitevault
resolve_sitevault

REPO_PW=$T/repo-password
(umask 077 && printf 'sitevault-db-bench-not-a-secret\n' >"$REPO_PW")
export XDG_CACHE_HOME=$T/cache

# ---------------------------------------------------------------- measuring
# timed PHASE TOOL REP STDOUT -- CMD...: runs CMD under /usr/bin/time (stdout to STDOUT, stderr to
# the log), records "time" in raw.tsv, prints a line. Fails (returns 1) with the log's end shown.
timed() {
    local phase=$1 tool=$2 rep=$3 out=$4; shift 5
    local slug=${phase}.${tool//[^A-Za-z0-9_-]/_}.r$rep
    local tf=$LOGS/$slug.time log=$LOGS/$slug.log rc=0 TIME_WALL TIME_USER TIME_SYS TIME_RSS
    sync
    time_command "$tf" "$@" >"$out" 2>"$log" </dev/null || rc=$?
    if ((rc != 0)); then
        echo "!! $phase / $tool (repetition $rep) failed with exit code $rc: $*" >&2
        show_tail 20 "$log"
        printf 'fail\t%s\t%s\t%s\texit %s (log: %s)\n' "$phase" "$tool" "$rep" "$rc" "$log" >>"$RAW"
        return 1
    fi
    read_times "$tf"
    printf 'time\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$phase" "$tool" "$rep" "$TIME_WALL" "$TIME_USER" "$TIME_SYS" "$TIME_RSS" >>"$RAW"
    awk -v p="$phase" -v t="$tool" -v r="$rep" -v w="$TIME_WALL" -v u="$TIME_USER" -v s="$TIME_SYS" -v m="$TIME_RSS" \
        'BEGIN { printf "  %-16s %-22s r%-2s wall %8.2fs  cpu %8.2fs  peak RSS %8.1f MiB\n", p, t, r, w, u + s, m / 1024 }'
}
bytes_of() { du -sb "$1" | cut -f1; }

# ---------------------------------------------------------------- the cluster
PGPASS=$T/pgpass
# start_cluster (bench/lib.sh), then a pgpass file: the client programs sitevault is compared with
# connect like sitevault, over TCP with a password.
start_cluster_pgpass() {
    start_cluster
    local pw
    pw=$(<"$PG/password"); pw=${pw//\\/\\\\}; pw=${pw//:/\\:}
    (umask 077 && printf '127.0.0.1:%s:*:postgres:%s\n' "$PORT" "$pw" >"$PGPASS")
}

PGBR_CONF=$T/pgbackrest/pgbackrest.conf
write_pgbr_conf() { # the stanza "bench"; repository below tmp/ (removed at the end)
    mkdir -p "$T/pgbackrest"/{repo,log,lock,spool}
    chown -R postgres:postgres "$T/pgbackrest"
    cat >"$PGBR_CONF" <<EOF
[global]
repo1-path=$T/pgbackrest/repo
repo1-retention-full=9999
log-path=$T/pgbackrest/log
lock-path=$T/pgbackrest/lock
spool-path=$T/pgbackrest/spool
log-level-console=warn
log-level-file=off
start-fast=y
${PGBR_COMPRESS:+compress-type=$PGBR_COMPRESS}
${PGBR_PROCESS_MAX:+process-max=$PGBR_PROCESS_MAX}

[bench]
pg1-path=$PG/data
pg1-port=$PORT
pg1-socket-path=$SOCKET
EOF
    chmod 644 "$PGBR_CONF"
}
pgbr() { runuser -u postgres -- pgbackrest --config="$PGBR_CONF" --stanza=bench "$@"; }
# WAL archiving: pgBackRest needs it (its backup waits until the WAL it needs is archived, and its
# restore fetches WAL with archive-get). It is pointed at pgBackRest only while pgBackRest runs;
# otherwise segments are discarded (/bin/true), as on a server that sitevault alone backs up.
archive_to() { # pgbackrest | none
    local cmd=/bin/true
    [[ $1 == pgbackrest ]] && cmd="pgbackrest --config=$PGBR_CONF --stanza=bench archive-push %p"
    psql_admin -c "ALTER SYSTEM SET archive_command = '$cmd'" -c "SELECT pg_reload_conf()" >/dev/null
    sleep 0.5
    wait_archiver
}
wait_archiver() { # until no segment waits for the archiver (max 120 s)
    local i
    for ((i = 0; i < 240; i++)); do
        compgen -G "$PG/data/pg_wal/archive_status/*.ready" >/dev/null || return 0
        sleep 0.5
    done
    die "the WAL archiver did not catch up in 120 s (see $PG/server.log)"
}

DATASET_KEY="scale=$SCALE random_mb=$RANDOM_MB v1"
setup_cluster() {
    if ! cluster_cached; then
        discard_cluster
        note "creating the cluster in $PG: pgbench scale $SCALE + $RANDOM_MB MiB of random bytea (cached for later runs)"
        start_cluster_pgpass
        psql_admin -c "ALTER SYSTEM SET archive_mode = 'on'" -c "ALTER SYSTEM SET archive_command = '/bin/true'" >/dev/null
        load_pgbench "$SCALE"
        local fill
        if psql_admin -d bench -c "CREATE EXTENSION IF NOT EXISTS pgcrypto" >/dev/null 2>&1; then
            fill="gen_random_bytes(1000)"
        else # 62 independent md5 values per row: 992 bytes that do not compress
            fill="(SELECT decode(string_agg(md5(random()::text || g::text || i::text), ''), 'hex') FROM generate_series(1, 62) i)"
        fi
        echo "$fill" >"$PG/random-data.sql"
        psql_admin -d bench -c "CREATE TABLE blobs (id bigint PRIMARY KEY, payload bytea NOT NULL)" \
            -c "INSERT INTO blobs SELECT g, $fill FROM generate_series(1, $RANDOM_MB * 1048576 / 1000) g" \
            -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null
        stop_cluster # archive_mode needs a restart
        echo "$DATASET_KEY" >"$PG/dataset.ok"
    fi
    start_cluster_pgpass
    [[ $(psql_admin -c "SHOW archive_mode") == on ]] || die "archive_mode is not on in $PG (remove $PG or use --fresh)"
    psql_admin -c "ALTER SYSTEM SET archive_command = '/bin/true'" -c "SELECT pg_reload_conf()" >/dev/null
    drop_leftover_dbs "datname LIKE 'bench\_restore\_%'"
    psql_admin -c "CHECKPOINT" >/dev/null
    DB_BYTES=$(psql_admin -c "SELECT pg_database_size('bench')")
    CLUSTER_BYTES=$(psql_admin -c "SELECT sum(pg_database_size(datname)) FROM pg_database")
    ROWS_ACCOUNTS=$(psql_admin -d bench -c "SELECT count(*) FROM pgbench_accounts")
    ROWS_BLOBS=$(psql_admin -d bench -c "SELECT count(*) FROM blobs")
    INVARIANT=$(invariant_sql "$SOCKET" "$PORT")
    echo "cluster: $PG (PostgreSQL $(psql_admin -c 'SHOW server_version'), port $PORT)"
    echo "         database bench $((DB_BYTES / 1048576)) MiB ($ROWS_ACCOUNTS accounts, $ROWS_BLOBS random rows), cluster $((CLUSTER_BYTES / 1048576)) MiB"
    meta db_bytes "$DB_BYTES"; meta cluster_bytes "$CLUSTER_BYTES"
    meta random_data "blobs: $ROWS_BLOBS rows of $(cat "$PG/random-data.sql" 2>/dev/null || echo '?')"
    meta pg_version "$(psql_admin -c 'SHOW server_version')"
    meta pg_data "$PG/data ($(du -sb "$PG/data" | cut -f1) bytes on disk)"
}
# "accounts,branches,tellers,history-delta,history-rows" balances; equal first four = invariant holds.
invariant_sql() { # SOCKET PORT
    "$PGBIN/psql" -X -A -t -q -v ON_ERROR_STOP=1 -h "$1" -p "$2" -U postgres -d bench -c \
        "SELECT (SELECT coalesce(sum(abalance),0) FROM pgbench_accounts) || ',' || (SELECT coalesce(sum(bbalance),0) FROM pgbench_branches) || ',' || (SELECT coalesce(sum(tbalance),0) FROM pgbench_tellers) || ',' || (SELECT coalesce(sum(delta),0) FROM pgbench_history) || ',' || (SELECT count(*) FROM pgbench_history) || ',' || (SELECT count(*) FROM pgbench_accounts) || ',' || (SELECT count(*) FROM blobs)"
}

# ---------------------------------------------------------------- sitevault sites
new_repo() { # DIR
    rm -rf "$1"
    SITEVAULT_PASSWORD_FILE=$REPO_PW "$SV" init --repo "$1" --quiet || die "sitevault init --repo $1 failed"
}
site_file() { # DIR COMPONENT-BODY: writes DIR/site.toml with a repository in DIR/repo
    local dir=$1 body=$2
    mkdir -p "$dir"
    new_repo "$dir/repo"
    cat >"$dir/site.toml" <<EOF
site = "dbbench"
time_zone = "UTC"
state_dir = "$dir/state"
staging_dir = "$dir/staging"

[repository]
path = "$dir/repo"
password_file = "$REPO_PW"

[[component]]
$body
EOF
}
pg_component() { # NAME EXTRA
    printf 'name = "%s"\nkind = "database"\nengine = "postgresql"\nhost = "127.0.0.1"\nport = %s\nuser = "postgres"\npassword_file = "%s"\n%s\n' \
        "$1" "$PORT" "$PG/password" "$2"
}
check_site_run() { # JSON-FILE COMPONENT: the run succeeded and the component is ok
    local res comp
    res=$(json_get "$1" 'd.get("result")') || res="(no JSON)"
    comp=$(json_get "$1" "next((c.get('result') for c in d.get('components', []) if c.get('name') == '$2'), None)") || comp=""
    if [[ $res != succeeded || $comp != ok ]]; then
        echo "!! sitevault site backup: result '$res', component $2 '$comp'" >&2
        return 1
    fi
}

# ---------------------------------------------------------------- phase: logical
logical_pg_dump() { # REP
    local dir=$T/logical/r$1
    mkdir -p "$dir"
    timed logical pg_dump "$1" "$dir/bench.dump" -- env PGHOST=127.0.0.1 PGPORT="$PORT" PGUSER=postgres PGPASSFILE="$PGPASS" \
        "$PGBIN/pg_dump" -Fc -d bench || return 1
    value logical pg_dump.bytes "$1" "$(bytes_of "$dir/bench.dump")"
}
logical_sitevault() { # REP
    local dir=$T/logical/r$1/sv
    site_file "$dir" "$(pg_component pg 'databases = ["bench"]
verify = "list"')"
    timed logical sitevault "$1" "$dir/run.json" -- "$SV" site backup --site "$dir/site.toml" --json || return 1
    check_site_run "$dir/run.json" pg || return 1
    value logical sitevault.repo_bytes "$1" "$(bytes_of "$dir/repo")"
    value logical sitevault.check "$1" "$(json_get "$dir/run.json" "d['components'][0].get('check')")"
    # Fixed cost inside every run: opening the repository (scrypt key derivation, index).
    timed logical "sitevault open" "$1" /dev/null -- env SITEVAULT_PASSWORD_FILE="$REPO_PW" "$SV" snapshots --repo "$dir/repo" || true
}
phase_logical() {
    echo "== logical: pg_dump -Fc vs sitevault (postgresql, logical, verify = list)"
    local rep
    for ((rep = 1; rep <= REPEAT; rep++)); do
        if ((rep % 2)); then logical_pg_dump $rep && logical_sitevault $rep; else logical_sitevault $rep && logical_pg_dump $rep; fi || return 1
        ((rep > 1)) && rm -rf "$T/logical/r$((rep - 1))"
        echo "$T/logical/r$rep" >"$T/logical.last"
    done
}

# ---------------------------------------------------------------- phase: physical
physical_pgbackrest() { # REP
    archive_to pgbackrest
    psql_admin -c CHECKPOINT >/dev/null
    local rc=0
    timed physical pgbackrest "$1" /dev/null -- runuser -u postgres -- pgbackrest --config="$PGBR_CONF" --stanza=bench backup --type=full || rc=1
    if ((rc == 0)); then
        local label
        label=$(pgbr info --output=json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["backup"][-1]["label"])')
        value physical pgbackrest.repo_bytes "$1" "$(bytes_of "$T/pgbackrest/repo/backup/bench/$label")"
        pgbr expire --repo1-retention-full=1 >/dev/null 2>&1 || note "pgbackrest expire failed (ignored)"
        echo "$label" >"$T/pgbackrest.last"
    fi
    archive_to none
    return $rc
}
physical_sitevault() { # REP
    local dir=$T/physical/r$1
    psql_admin -c CHECKPOINT >/dev/null
    site_file "$dir" "$(pg_component cluster 'method = "physical"')"
    timed physical sitevault "$1" "$dir/run.json" -- "$SV" site backup --site "$dir/site.toml" --json || return 1
    check_site_run "$dir/run.json" cluster || return 1
    value physical sitevault.repo_bytes "$1" "$(bytes_of "$dir/repo")"
    ((1 < $1)) && rm -rf "$T/physical/r$(($1 - 1))"
    echo "$dir" >"$T/physical.last"
}
pgbr_stanza() {
    [[ -f $T/pgbackrest.stanza ]] && return 0
    write_pgbr_conf
    pgbr stanza-create >"$LOGS/pgbackrest-stanza.log" 2>&1 || { cat "$LOGS/pgbackrest-stanza.log" >&2; die "pgbackrest stanza-create failed"; }
    touch "$T/pgbackrest.stanza"
}
phase_physical() {
    echo "== physical: pgbackrest backup --type=full vs sitevault (postgresql, method = physical)"
    pgbr_stanza
    local rep
    for ((rep = 1; rep <= REPEAT; rep++)); do
        if ((rep % 2)); then physical_pgbackrest $rep && physical_sitevault $rep; else physical_sitevault $rep && physical_pgbackrest $rep; fi || return 1
    done
}

# ---------------------------------------------------------------- phase: restore
# A restored cluster, started untimed on its own port and socket, must hold the same pgbench data.
check_cluster() { # PHASE TOOL REP DATADIR
    local phase=$1 tool=$2 rep=$3 data=$4 sock port start rc=0 got t0 t1
    sock=$T/sock-$rep-${tool//[^a-z]/}
    mkdir -p "$sock" && chown postgres "$sock"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    echo "$data" >>"$RESTORED_LIST"
    t0=$(date +%s.%N)
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$data" -l "$sock/server.log" -w -t 300 \
        -o "-p $port -k $sock -c listen_addresses='' -c archive_mode=off" start >/dev/null || rc=$?
    t1=$(date +%s.%N)
    if ((rc != 0)); then
        echo "!! $tool: the restored cluster does not start:" >&2; show_tail 15 "$sock/server.log"
        printf 'fail\t%s\t%s\t%s\trestored cluster does not start (%s)\n' "$phase" "$tool" "$rep" "$sock/server.log" >>"$RAW"
        return 1
    fi
    value "$phase" "$tool.startup_s" "$rep" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
    got=$(invariant_sql "$sock" "$port") || got="(query failed)"
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
    cp "$sock/server.log" "$LOGS/$phase.${tool//[^A-Za-z0-9_-]/_}.r$rep.server.log" 2>/dev/null || true
    check_invariant "$phase" "$tool" "$rep" "$got"
}
check_invariant() { # PHASE TOOL REP GOT
    local ok=no
    if [[ $4 == "$INVARIANT" ]] && awk -F, '{ exit !($1 == $2 && $2 == $3 && $3 == $4) }' <<<"$4"; then ok=yes; fi
    value "$1" "$2.verified" "$3" "$ok"
    if [[ $ok == yes ]]; then
        printf '  %-16s %-22s r%-2s restored data checked: pgbench invariant holds, same balances and row counts\n' "$1" "$2" "$3"
    else
        echo "!! $2 (repetition $3): restored data differs: got '$4', source '$INVARIANT'" >&2
        printf 'fail\t%s\t%s\t%s\trestored data differs: %s vs %s\n' "$1" "$2" "$3" "$4" "$INVARIANT" >>"$RAW"
        return 1
    fi
}
restore_db_check() { # PHASE TOOL REP DB
    ((VERIFY)) || return 0
    local got
    got=$("$PGBIN/psql" -X -A -t -q -h "$SOCKET" -p "$PORT" -U postgres -d "$4" -c \
        "SELECT (SELECT coalesce(sum(abalance),0) FROM pgbench_accounts) || ',' || (SELECT coalesce(sum(bbalance),0) FROM pgbench_branches) || ',' || (SELECT coalesce(sum(tbalance),0) FROM pgbench_tellers) || ',' || (SELECT coalesce(sum(delta),0) FROM pgbench_history) || ',' || (SELECT count(*) FROM pgbench_history) || ',' || (SELECT count(*) FROM pgbench_accounts) || ',' || (SELECT count(*) FROM blobs)") || got="(query failed)"
    check_invariant "$1" "$2" "$3" "$got"
}
drop_db() { psql_admin -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" >/dev/null; }

restore_logical_plain() { # REP DUMPFILE
    local db=bench_restore_plain rc=0
    drop_db $db; psql_admin -c "CREATE DATABASE $db" >/dev/null
    timed restore-logical pg_restore "$1" /dev/null -- env PGHOST=127.0.0.1 PGPORT="$PORT" PGUSER=postgres PGPASSFILE="$PGPASS" \
        "$PGBIN/pg_restore" -d $db "$2" || rc=1
    ((rc)) || restore_db_check restore-logical pg_restore "$1" $db || rc=1
    drop_db $db
    return $rc
}
restore_logical_sitevault() { # REP SITEDIR
    local db=bench_restore_sv target=$T/restore-logical/r$1 snap rc=0
    snap=$(json_get "$2/run.json" 'd["snapshot"]')
    rm -rf "$target"
    timed restore-logical "sitevault restore" "$1" /dev/null -- env SITEVAULT_PASSWORD_FILE="$REPO_PW" \
        "$SV" restore "$snap" --repo "$2/repo" --target "$target" --include /pg/bench.dump || return 1
    [[ -s $target/pg/bench.dump ]] || { echo "!! the restore did not produce $target/pg/bench.dump" >&2; return 1; }
    drop_db $db; psql_admin -c "CREATE DATABASE $db" >/dev/null
    timed restore-logical "pg_restore (sv dump)" "$1" /dev/null -- env PGHOST=127.0.0.1 PGPORT="$PORT" PGUSER=postgres PGPASSFILE="$PGPASS" \
        "$PGBIN/pg_restore" -d $db "$target/pg/bench.dump" || rc=1
    ((rc)) || restore_db_check restore-logical "sitevault" "$1" $db || rc=1
    drop_db $db
    rm -rf "$target"
    return $rc
}
restore_physical_pgbackrest() { # REP
    local data=$T/restore-physical/pgbr-r$1 rc=0
    rm -rf "$data"; mkdir -p "$data"; chown postgres:postgres "$data"; chmod 700 "$data"
    timed restore-physical "pgbackrest restore" "$1" /dev/null -- runuser -u postgres -- pgbackrest --config="$PGBR_CONF" --stanza=bench \
        --pg1-path="$data" restore || return 1
    value restore-physical "pgbackrest restore.bytes" "$1" "$(bytes_of "$data")"
    if ((VERIFY)); then check_cluster restore-physical "pgbackrest restore" "$1" "$data" || rc=1; fi
    rm -rf "$data"
    return $rc
}
restore_physical_sitevault() { # REP SITEDIR
    local target=$T/restore-physical/sv-r$1 data=$T/restore-physical/svdata-r$1 snap rc=0
    snap=$(json_get "$2/run.json" 'd["snapshot"]')
    rm -rf "$target" "$data"; mkdir -p "$data"; chown postgres:postgres "$data"; chmod 700 "$data"
    timed restore-physical "sitevault restore" "$1" /dev/null -- env SITEVAULT_PASSWORD_FILE="$REPO_PW" \
        "$SV" restore "$snap" --repo "$2/repo" --target "$target" --include /cluster/base.tar || return 1
    [[ -s $target/cluster/base.tar ]] || { echo "!! the restore did not produce $target/cluster/base.tar" >&2; return 1; }
    # As root, tar keeps the owner recorded in the archive (postgres).
    timed restore-physical "tar -x" "$1" /dev/null -- tar -xf "$target/cluster/base.tar" -C "$data" || return 1
    rm -rf "$target"
    if ((VERIFY)); then check_cluster restore-physical sitevault "$1" "$data" || rc=1; fi
    rm -rf "$data"
    return $rc
}
phase_restore() {
    echo "== restore: pg_restore vs sitevault restore + pg_restore; pgbackrest restore vs sitevault restore + tar -x"
    local ldir pdir rep
    # What the restores start from: the last backups of the logical and physical phases, or new ones (untimed).
    if [[ -s $T/logical.last && -d $(<"$T/logical.last") ]]; then ldir=$(<"$T/logical.last"); else
        note "restore: making the backups to restore from (untimed)"
        logical_pg_dump 0 >/dev/null && logical_sitevault 0 >/dev/null || return 1
        ldir=$T/logical/r0
    fi
    if [[ ! -s $T/physical.last || ! -s $T/pgbackrest.last ]]; then
        pgbr_stanza
        physical_pgbackrest 0 >/dev/null && physical_sitevault 0 >/dev/null || return 1
    fi
    pdir=$(<"$T/physical.last")
    archive_to none
    local rc=0
    for ((rep = 1; rep <= REPEAT; rep++)); do
        if ((rep % 2)); then
            restore_logical_plain $rep "$ldir/bench.dump" && restore_logical_sitevault $rep "$ldir/sv" || rc=1
            restore_physical_pgbackrest $rep && restore_physical_sitevault $rep "$pdir" || rc=1
        else
            restore_logical_sitevault $rep "$ldir/sv" && restore_logical_plain $rep "$ldir/bench.dump" || rc=1
            restore_physical_sitevault $rep "$pdir" && restore_physical_pgbackrest $rep || rc=1
        fi
        psql_admin -c CHECKPOINT >/dev/null
    done
    return $rc
}

# ---------------------------------------------------------------- phase: sqlite
phase_sqlite() {
    echo "== sqlite: sitevault site backup of a ${SQLITE_MB} MiB WAL database while a writer commits ${SQLITE_RATE}/s"
    local cache=$WORK/datasets/sqlite-${SQLITE_MB}mb.db key
    key="mb=$SQLITE_MB gen=$(python3 "$WRITER" gen-version)"
    if ((FRESH)) || [[ ! -f $cache || ! -f $cache.ok || $(<"$cache.ok") != "$key" ]]; then
        rm -f "$cache" "$cache.ok"
        note "generating the SQLite database $cache (cached for later runs)"
        python3 "$WRITER" gen "$cache" --mb "$SQLITE_MB" >"$LOGS/sqlite-gen.log" || { cat "$LOGS/sqlite-gen.log" >&2; die "generating the SQLite database failed"; }
        echo "$key" >"$cache.ok"
    fi
    meta sqlite_db "$cache ($(stat -c %s "$cache") bytes)"
    local rep dir t0 t1 stats rc=0
    for ((rep = 1; rep <= REPEAT; rep++)); do
        dir=$T/sqlite/r$rep
        mkdir -p "$dir/data"
        cp --reflink=auto "$cache" "$dir/data/app.db"
        sync # the copy's writeback would otherwise stall the writer's first checkpoints
        site_file "$dir" "name = \"appdb\"
kind = \"database\"
engine = \"sqlite\"
path = \"$dir/data/app.db\"
check = \"integrity\""
        python3 "$WRITER" write "$dir/data/app.db" --out "$dir/latency.tsv" --rate "$SQLITE_RATE" \
            --synchronous "$SQLITE_SYNC" --ready "$dir/writer.ready" >"$LOGS/sqlite.writer.r$rep.log" 2>&1 &
        WRITER_PID=$!
        echo "$WRITER_PID" >"$WRITER_PIDFILE"
        local i
        for ((i = 0; i < 100; i++)); do [[ -s $dir/writer.ready ]] && break; kill -0 "$WRITER_PID" 2>/dev/null || break; sleep 0.1; done
        [[ -s $dir/writer.ready ]] || { cat "$LOGS/sqlite.writer.r$rep.log" >&2; die "the SQLite writer did not start"; }
        sleep 3 # baseline
        t0=$(date +%s.%N)
        timed sqlite sitevault $rep "$dir/run.json" -- "$SV" site backup --site "$dir/site.toml" --json || rc=1
        t1=$(date +%s.%N)
        sleep 2
        kill -TERM "$WRITER_PID"
        wait "$WRITER_PID" || { cat "$LOGS/sqlite.writer.r$rep.log" >&2; die "the SQLite writer failed"; }
        rm -f "$WRITER_PIDFILE"
        cp "$dir/latency.tsv" "$LOGS/sqlite.latency.r$rep.tsv"
        ((rc == 0)) || return 1
        check_site_run "$dir/run.json" appdb || return 1
        stats=$(python3 "$WRITER" stats "$dir/latency.tsv" --from "$t0" --to "$t1")
        echo "$stats" >"$LOGS/sqlite.stats.r$rep.json"
        local k
        for k in p50_ms p99_ms p999_ms max_ms max_late_ms over_50ms errors commits commits_per_s; do
            value sqlite "during.$k" $rep "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["during"].get(sys.argv[2]))' "$stats" "$k")"
            value sqlite "before.$k" $rep "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["before"].get(sys.argv[2]))' "$stats" "$k")"
        done
        # The integrity check result as the snapshot's manifest records it.
        "$SV" site show latest --site "$dir/site.toml" --json >"$dir/show.json" 2>"$LOGS/sqlite.show.r$rep.log" || { cat "$LOGS/sqlite.show.r$rep.log" >&2; return 1; }
        value sqlite integrity $rep "$(json_get "$dir/show.json" "next((c.get('check') for c in d['manifest']['components'] if c['name'] == 'appdb'), None)")"
        value sqlite result $rep "$(json_get "$dir/show.json" "next((c.get('result') for c in d['manifest']['components'] if c['name'] == 'appdb'), None)")"
        value sqlite sitevault.bytes $rep "$(json_get "$dir/show.json" "next((c.get('bytes') for c in d['manifest']['components'] if c['name'] == 'appdb'), None)")"
        value sqlite sitevault.repo_bytes $rep "$(bytes_of "$dir/repo")"
        python3 - "$stats" "$rep" <<'PY'
import json, sys
s = json.loads(sys.argv[1]); d, b = s["during"], s["before"]
print(f"  sqlite           writer during backup   r{sys.argv[2]:<2} {d.get('commits')} commits ({d.get('commits_per_s')}/s): "
      f"p50 {d.get('p50_ms')} ms, p99 {d.get('p99_ms')} ms, max {d.get('max_ms')} ms, > 50 ms: {d.get('over_50ms')}, "
      f"errors {d.get('errors')}; before the backup: p99 {b.get('p99_ms')} ms, max {b.get('max_ms')} ms")
PY
        echo "  sqlite           integrity (manifest)    r$rep $(json_get "$dir/show.json" "next((c.get('check') for c in d['manifest']['components'] if c['name'] == 'appdb'), None)")"
        rm -rf "$dir"
    done
}

# ---------------------------------------------------------------- main
: >"$META"
meta scale "$SCALE"; meta repeat "$REPEAT"; meta phases "$ONLY"; meta random_mb "$RANDOM_MB"
meta sqlite_mb "$SQLITE_MB"; meta sqlite_rate "$SQLITE_RATE"; meta sqlite_sync "$SQLITE_SYNC"
meta sitevault "$SV_VERSION"; meta sitevault_bin "$SV"
meta nproc "$(nproc)"; meta cpu "$(cpu_model)"
meta kernel "$(uname -sr)"; meta started "$(utc_now)"; meta loadavg_start "$(loadavg)"
meta page_cache "warm (not dropped); sync before each timed command"
if ((NEED_PG)); then
    meta pg_dump "$("$PGBIN/pg_dump" --version)"
    command -v pgbackrest >/dev/null && meta pgbackrest "$(pgbackrest version) (compress-type ${PGBR_COMPRESS:-default gz}, process-max ${PGBR_PROCESS_MAX:-default 1})"
fi
echo "sitevault: $SV ($SV_VERSION)"
echo "phases: $ONLY; repetitions: $REPEAT (median reported); page cache warm; load $(loadavg)"

((NEED_PG)) && setup_cluster

# Each phase runs in a subshell with errexit in force (a failing phase is reported and the others
# still run), in a process group of its own: on SIGINT/SIGTERM the whole group (tools, writer) is
# terminated before the cleanup.
FAILED=()
run_phase() {
    run_grouped "phase_$1"
    if ((GROUP_RC != 0)); then FAILED+=("$1"); note "phase $1 failed (exit $GROUP_RC; logs in $LOGS)"; fi
}
for phase in logical physical restore; do
    want $phase && run_phase $phase
done
if ((NEED_PG)); then stop_cluster; fi
want sqlite && run_phase sqlite

meta loadavg_end "$(loadavg)"; meta finished "$(utc_now)"
meta failed "${FAILED[*]:-}"
python3 "$REPORT" "$WORK" | tee "$WORK/summary.md"
((${#FAILED[@]} == 0)) || die "failed phases: ${FAILED[*]}"
