#!/usr/bin/env bash
# Recovery-drill benchmark: a first full `sitevault site backup` of a site made of the bench dataset
# (bench/gen-dataset.py) and a pgbench database, then `sitevault site drill` of that snapshot; the
# drill's measured recovery time over the backup's time, against the 1.5x bar of issue 6.
# Usage and options: `bench/drill-bench.sh --help`; results: bench/DRILL-RESULTS.md.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: bench/drill-bench.sh [options]

Per repetition, on a fresh repository:
  backup   sitevault site backup --site SITE --json     (first full backup, timed)
           SITE = one "folders" component (the bench dataset, bench/gen-dataset.py --scale)
                + one PostgreSQL component (a pgbench database of --pg-scale on a throwaway
                  cluster started with scripts/pg-cluster.sh; method "logical", default verify)
  recover  sitevault site recover --site SITE --target DIR --database restore
           --database-name bench=bench_recovered --json   (the real recovery of the same
           snapshot, relocated: the cached dataset and the live database are left alone)
  drill    sitevault site drill --site SITE --json      (timed; sandbox below the workdir)
The drill restores the files into its sandbox and reads them back against the snapshot's
checksums while, in a second lane, the dump is restored with pg_restore into a scratch database
on the same server and checked. Its report gives recoverySeconds (both lanes, the site's measured
recovery time) and backupSeconds (the snapshot's backup, from its manifest). The recovery runs
first and what it restored stays until the next repetition, so that neither command creates its
files right after the other deleted as many (see --settle).

Bars: issue 6, recoverySeconds <= 1.5 x the backup's time (the ratio is computed per repetition,
recoverySeconds / backupSeconds of the drill report, and its median compared with 1.5); issue 11,
the drill's recoverySeconds within 20 % of the real recovery's durationSeconds (median of the
per-repetition ratios between 0.8 and 1.2).

Options:
  --scale S        bench dataset scale (default 1.0, ~1.5 GB; 0.05 for a smoke run)
  --pg-scale N     pgbench scale of the database (default 20, ~300 MiB)
  --repeat N       repetitions, medians reported (default 3)
  --workdir DIR    default /tmp/sitevault-drill-bench (the drill sandbox lives below it, so the
                   sandbox is on the workdir's disk)
  --no-build       do not build; use SITEVAULT_BIN or .build-bench/release/sitevault
  --settle SEC     pause after deleting the previous repetition's files, before each
                   repetition (default 370). On ext4 without a journal, creating a file scans
                   every inode of its group freed in the last 60 s, or in the last 360 s when
                   the inode table block is dirty again (and creating files dirties it): the
                   drill's restore of 20,000 files right after the previous drill deleted its
                   sandbox took 4-16 s instead of 1.2-2.5 s (perf: recently_deleted,
                   find_get_block_common). 370 s lets every repetition start clean, as a
                   scheduled drill does (see bench/DRILL-RESULTS.md)
  --solo           also back up and drill each component alone (a files-only and a
                   PostgreSQL-only site) after the main measurement: each lane's time without
                   the other one competing for the 2 cores
  --verify-sql     give the PostgreSQL component verify_sql = the pgbench invariant (sum of
                   account = branch = teller balances): the drill's "check" step then runs it
                   in the scratch database instead of only reading the row statistics (the
                   backup is unchanged: verify stays at its default, "list")
  --fresh          regenerate the cached cluster (the dataset is regenerated when
                   gen-dataset.py or the scale changes)
  -h, --help

Environment: SITEVAULT_BIN  sitevault binary to use (no build).

Every sitevault command runs under /usr/bin/time (wall, user+sys CPU and peak RSS of sitevault
and the programs it waits for: pg_dump, pg_restore, psql). The PostgreSQL server's own CPU is not
in that figure; it is measured separately ("server CPU": user+sys of the postmaster, its children
and the children it reaped, from /proc, before and after each command). Page cache warm (not
dropped); CHECKPOINT and `sync` run before each timed command. Needs root (the cluster runs as the
postgres user), PostgreSQL 15 (postgresql-15), GNU time and python3.

Below the workdir: datasets/ (cached per scale), pg/ (cached cluster, per --pg-scale), logs/ (each
command's stderr, /usr/bin/time output, JSON reports), raw.tsv, meta.tsv, summary.md,
results.json. tmp/ (repositories, state, sandbox) is removed at the end.

Example (smoke run): bench/drill-bench.sh --scale 0.05 --pg-scale 2 --repeat 1 --settle 0
EOF
}

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"
REPORT=$BENCH_DIR/drill-report.py

SCALE=1.0
PG_SCALE=20
REPEAT=3
WORK=/tmp/sitevault-drill-bench
BUILD=1
SETTLE=370
SOLO=0
FRESH=0
VERIFY_SQL=

while [[ $# -gt 0 ]]; do
    case $1 in
        --scale) need_arg "$@"; SCALE=$2; shift 2 ;;
        --pg-scale) need_arg "$@"; PG_SCALE=$2; shift 2 ;;
        --repeat) need_arg "$@"; REPEAT=$2; shift 2 ;;
        --workdir) need_arg "$@"; WORK=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --settle) need_arg "$@"; SETTLE=$2; shift 2 ;;
        --solo) SOLO=1; shift ;;
        --verify-sql) VERIFY_SQL="SELECT (SELECT sum(abalance) FROM pgbench_accounts) = (SELECT sum(bbalance) FROM pgbench_branches) AND (SELECT sum(bbalance) FROM pgbench_branches) = (SELECT sum(tbalance) FROM pgbench_tellers)"; shift ;;
        --fresh) FRESH=1; shift ;;
        --*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}" ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done

posint --pg-scale "$PG_SCALE"
posint --repeat "$REPEAT"
[[ $SETTLE =~ ^[0-9]+$ ]] || die "--settle must be a number of seconds, got '$SETTLE'"
scale_key "$SCALE"

(($(id -u) == 0)) || die "run as root: the PostgreSQL cluster runs as the postgres user (runuser)"

unset_site_env

# ---------------------------------------------------------------- requirements
missing_deps() {
    local m=() b t
    [[ -x /usr/bin/time ]] || m+=("time (GNU time at /usr/bin/time)")
    command -v python3 >/dev/null || m+=(python3)
    b=$(pg_bindir)
    for t in initdb pg_ctl psql pgbench pg_dump pg_restore; do
        [[ -n $b && -x $b/$t ]] || { m+=("postgresql-15 ($t)"); break; }
    done
    id postgres >/dev/null 2>&1 || m+=("the postgres user (postgresql-15)")
    printf '%s\n' "${m[@]}"
}
ensure_deps "postgresql-15 time python3"
PGBIN=$(pg_bindir)

open_workdir
# The postgres user must reach the cluster folder.
postgres_reaches_workdir
LOGS=$WORK/logs
RAW=$WORK/raw.tsv
META=$WORK/meta.tsv
T=$WORK/tmp
PG=$WORK/pg
SANDBOX=$T/sandbox
rm -rf "$LOGS" "$T"
mkdir -p "$LOGS" "$T" "$WORK/datasets" "$SANDBOX"
: >"$RAW"
: >"$META"
[[ $(stat -c %d "$SANDBOX") == $(stat -c %d "$WORK") ]] || die "the sandbox $SANDBOX is not on the workdir's file system"

# ---------------------------------------------------------------- cleanup
# bench/lib.sh: on exit the cluster is stopped and tmp/ removed; a signal ends the running repetition first.
install_traps

# ---------------------------------------------------------------- sitevault
resolve_sitevault

REPO_PW=$T/repo-password
(umask 077 && printf 'sitevault-drill-bench-not-a-secret\n' >"$REPO_PW")
export XDG_CACHE_HOME=$T/cache

# ---------------------------------------------------------------- dataset
prepare_dataset

# ---------------------------------------------------------------- measuring
# timed PHASE REP STDOUT -- CMD...: runs CMD under /usr/bin/time (stdout to STDOUT, stderr to the
# log), records "time" in raw.tsv with the server's CPU over the same interval, prints a line.
# Returns the command's exit code (its JSON report is kept either way).
timed() {
    local phase=$1 rep=$2 out=$3; shift 4
    local tf=$LOGS/$phase.r$rep.time log=$LOGS/$phase.r$rep.log rc=0 TIME_WALL TIME_USER TIME_SYS TIME_RSS s0 s1 scpu
    psql_admin -c CHECKPOINT >/dev/null
    sync
    s0=$(server_cpu)
    time_command "$tf" "$@" >"$out" 2>"$log" </dev/null || rc=$?
    s1=$(server_cpu)
    if ((rc != 0)); then
        echo "!! $phase (repetition $rep) failed with exit code $rc: $*" >&2
        show_tail 20 "$log"
        printf 'fail\t%s\t%s\texit %s (log: %s)\n' "$phase" "$rep" "$rc" "$log" >>"$RAW"
        return $rc
    fi
    read_times "$tf"
    scpu=$(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.2f", b - a }')
    printf 'time\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$phase" "$rep" "$TIME_WALL" "$TIME_USER" "$TIME_SYS" "$TIME_RSS" "$scpu" >>"$RAW"
    awk -v p="$phase" -v r="$rep" -v w="$TIME_WALL" -v u="$TIME_USER" -v s="$TIME_SYS" -v m="$TIME_RSS" -v c="$scpu" \
        'BEGIN { printf "  %-13s r%-2s wall %7.2fs  cpu %7.2fs (user %.2f, sys %.2f)  peak RSS %7.1f MiB  server cpu %6.2fs\n", p, r, w, u + s, u, s, m / 1024, c }'
}
# CPU seconds (user+sys) used so far by the cluster: the postmaster, its live children, and the
# children it has reaped (cutime/cstime): backends that served pg_dump/pg_restore and have exited.
server_cpu() {
    python3 - "$PG/data/postmaster.pid" <<'PY'
import os, sys
hz = os.sysconf("SC_CLK_TCK")
pm = int(open(sys.argv[1]).readline())
def stat(pid):
    try:
        s = open(f"/proc/{pid}/stat").read()
    except OSError:
        return None
    return s[s.rindex(")") + 2:].split()  # from field 3 (state) on
total = 0
f = stat(pm)
total += sum(int(x) for x in f[11:15])  # utime stime cutime cstime
for p in os.listdir("/proc"):
    if p.isdigit() and int(p) != pm:
        f = stat(p)
        if f and int(f[1]) == pm:
            total += int(f[11]) + int(f[12])
print(f"{total / hz:.2f}")
PY
}

# ---------------------------------------------------------------- the cluster
# psql_admin, start_cluster, stop_cluster, load_pgbench: bench/lib.sh.
# "accounts,branches,tellers,history-delta,history-rows,accounts-rows": equal first four = invariant holds.
invariant() {
    psql_admin -d bench -c "SELECT (SELECT coalesce(sum(abalance),0) FROM pgbench_accounts) || ',' || (SELECT coalesce(sum(bbalance),0) FROM pgbench_branches) || ',' || (SELECT coalesce(sum(tbalance),0) FROM pgbench_tellers) || ',' || (SELECT coalesce(sum(delta),0) FROM pgbench_history) || ',' || (SELECT count(*) FROM pgbench_history) || ',' || (SELECT count(*) FROM pgbench_accounts)"
}
DATASET_KEY="pgbench scale=$PG_SCALE v1"
setup_cluster() {
    if ! cluster_cached; then
        discard_cluster
        note "creating the cluster in $PG: pgbench scale $PG_SCALE (cached for later runs)"
        start_cluster
        load_pgbench "$PG_SCALE"
        psql_admin -d bench -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null
        echo "$DATASET_KEY" >"$PG/dataset.ok"
    else
        start_cluster
    fi
    drop_leftover_dbs "datname LIKE 'sitevault\_drill\_%' OR datname LIKE 'sitevault\_verify\_%'" "dropping leftover scratch database"
    psql_admin -c "CHECKPOINT" >/dev/null
    DB_BYTES=$(psql_admin -c "SELECT pg_database_size('bench')")
    ROWS_ACCOUNTS=$(psql_admin -d bench -c "SELECT count(*) FROM pgbench_accounts")
    echo "cluster: $PG (PostgreSQL $(psql_admin -c 'SHOW server_version'), port $PORT)"
    echo "         database bench $((DB_BYTES / 1048576)) MiB ($ROWS_ACCOUNTS accounts); invariant $(invariant)"
    meta db_bytes "$DB_BYTES"
    meta db_rows_accounts "$ROWS_ACCOUNTS"
    meta pg_version "$(psql_admin -c 'SHOW server_version')"
    meta pg_settings "$(psql_admin -c "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ', ' ORDER BY name) FROM pg_settings WHERE name IN ('shared_buffers', 'maintenance_work_mem', 'max_wal_size', 'fsync', 'synchronous_commit', 'wal_level', 'max_parallel_maintenance_workers')")"
}

# ---------------------------------------------------------------- the site
# site_file DIR PARTS: DIR/site.toml with a repository in DIR/repo; PARTS is "files", "pg" or "files,pg".
site_file() {
    local dir=$1 parts=$2
    mkdir -p "$dir"
    SITEVAULT_PASSWORD_FILE=$REPO_PW "$SV" init --repo "$dir/repo" --quiet || die "sitevault init --repo $dir/repo failed"
    {
        cat <<EOF
site = "drillbench"
time_zone = "UTC"
state_dir = "$dir/state"
staging_dir = "$dir/staging"

[repository]
path = "$dir/repo"
password_file = "$REPO_PW"

[drill]
sandbox = "$SANDBOX"
EOF
        if [[ ,$parts, == *,files,* ]]; then
            cat <<EOF

[[component]]
name = "files"
kind = "folders"
paths = ["$DATA"]
EOF
        fi
        if [[ ,$parts, == *,pg,* ]]; then
            cat <<EOF

[[component]]
name = "pg"
kind = "database"
engine = "postgresql"
host = "127.0.0.1"
port = $PORT
user = "postgres"
password_file = "$PG/password"
databases = ["bench"]
method = "logical"
${VERIFY_SQL:+verify_sql = \"$VERIFY_SQL\"}
EOF
        fi
    } >"$dir/site.toml"
    "$SV" validate --site "$dir/site.toml" >"$dir/validate.log" 2>&1 || { cat "$dir/validate.log" >&2; die "the control file $dir/site.toml is refused"; }
}

# backup_and_drill TAG REP PARTS: TAG "site" (the whole site) or "solo-files" / "solo-pg".
backup_and_drill() {
    local tag=$1 rep=$2 parts=$3 dir=$T/$1.r$2 bp dp rc=0 c
    bp=backup; dp=drill
    [[ $tag == site ]] || { bp=$tag.backup; dp=$tag.drill; }
    site_file "$dir" "$parts"
    timed "$bp" "$rep" "$LOGS/$bp.r$rep.json" -- "$SV" site backup --site "$dir/site.toml" --json || return 1
    local res
    res=$(json_get "$LOGS/$bp.r$rep.json" 'd.get("result")')
    [[ $res == succeeded ]] || { echo "!! $bp r$rep: result '$res' (not succeeded): $(json_get "$LOGS/$bp.r$rep.json" 'd.get("failureMessage")')" >&2; printf 'fail\t%s\t%s\tresult %s\n' "$bp" "$rep" "$res" >>"$RAW"; return 1; }
    value "$bp" durationSeconds "$rep" "$(json_get "$LOGS/$bp.r$rep.json" 'd["durationSeconds"]')"
    for c in ${parts//,/ }; do
        value "$bp" "component.$c.seconds" "$rep" "$(json_get "$LOGS/$bp.r$rep.json" "next(x['durationSeconds'] for x in d['components'] if x['name'] == '$c')")"
        value "$bp" "component.$c.bytes" "$rep" "$(json_get "$LOGS/$bp.r$rep.json" "next(x['bytes'] for x in d['components'] if x['name'] == '$c')")"
    done
    value "$bp" repo_bytes "$rep" "$(du -sb "$dir/repo" | cut -f1)"

    # The real recovery of the same snapshot first, relocated (the cached dataset and the live
    # database stay as they are): files under a target folder, the dump restored into the same
    # server under another name. The drill's recoverySeconds must be within 20 % of its time
    # (issue 11). It runs before the drill and its output stays until the next repetition's
    # settle: neither of the two creates its 20,000 files right after the other deleted as many
    # (the ext4 slow path described under --settle).
    local rp=${dp/drill/recover} target=$T/recovered.r$rep
    local args=(site recover --site "$dir/site.toml" --json --no-probe --target "$target")
    [[ ,$parts, == *,pg,* ]] && args+=(--database restore --database-name bench=bench_recovered)
    psql_admin -c "DROP DATABASE IF EXISTS bench_recovered" >/dev/null
    timed "$rp" "$rep" "$LOGS/$rp.r$rep.json" -- "$SV" "${args[@]}" || return 1
    value "$rp" durationSeconds "$rep" "$(json_get "$LOGS/$rp.r$rep.json" 'd["durationSeconds"]')"
    value "$rp" result "$rep" "$(json_get "$LOGS/$rp.r$rep.json" 'd["result"]')"

    timed "$dp" "$rep" "$LOGS/$dp.r$rep.json" -- "$SV" site drill --site "$dir/site.toml" --json || rc=$?
    if [[ ! -s $LOGS/$dp.r$rep.json ]]; then
        echo "!! $dp r$rep: no JSON report" >&2
        return 1
    fi
    local r
    r=$(json_get "$LOGS/$dp.r$rep.json" 'd.get("result")')
    echo "  $dp r$rep: result $r$( ((rc == 0)) || echo ", exit $rc"): $(json_get "$LOGS/$dp.r$rep.json" 'd.get("failure") or ""')"
    python3 - "$LOGS/$dp.r$rep.json" "$dp" "$rep" >>"$RAW" <<'PY'
import json, sys
d, phase, rep = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
def out(k, v):
    if v is not None:
        print(f"value\t{phase}\t{k}\t{rep}\t{v}")
for k in ("recoverySeconds", "backupSeconds", "totalSeconds", "cleanupSeconds", "commandSeconds", "result"):
    out(k, d.get(k))
if d.get("recoverySeconds") and d.get("backupSeconds"):
    out("ratio", d["recoverySeconds"] / d["backupSeconds"])
for s in d.get("steps", []):
    # one key per step: "step.COMPONENT.NAME" (the database name dropped: one database here)
    name = s["name"].split(" ")[0]
    out(f"step.{s.get('component') or '-'}.{name}", s["seconds"])
    out(f"stepresult.{s.get('component') or '-'}.{name}", s["result"])
    out(f"stepdetail.{s.get('component') or '-'}.{name}", s["detail"].replace("\t", " ").replace("\n", " "))
PY
    # The drill must leave nothing behind: its sandbox folder, its scratch databases.
    local left
    left=$(find "$SANDBOX" -mindepth 1 -maxdepth 1 | head -n 3)
    [[ -z $left ]] || { echo "!! $dp r$rep: the sandbox was not cleaned: $left" >&2; value "$dp" leftover_sandbox "$rep" "$left"; rm -rf "${SANDBOX:?}"/*; }
    left=$(psql_admin -c "SELECT string_agg(datname, ',') FROM pg_database WHERE datname LIKE 'sitevault\_drill\_%'")
    [[ -z $left ]] || { echo "!! $dp r$rep: scratch databases left: $left" >&2; value "$dp" leftover_db "$rep" "$left"; }
    ((rc == 0)) || return 1
    [[ $r == passed ]] || return 1

}

settle() {
    rm -rf "$T"/site.r* "$T"/solo-*.r* "$T"/recovered.r* "${SANDBOX:?}"/*
    [[ -z ${PGBIN:-} ]] || psql_admin -c "DROP DATABASE IF EXISTS bench_recovered" >/dev/null 2>&1 || true
    sync
    if ((SETTLE > 0)); then
        note "settling $SETTLE s (freed inodes; see bench/README.md)"
        sleep "$SETTLE"
    fi
}

# ---------------------------------------------------------------- main
meta scale "$SCALE_KEY"; meta pg_scale "$PG_SCALE"; meta repeat "$REPEAT"; meta settle "$SETTLE"
meta dataset "$DATA"; meta dataset_files "$DATA_FILES"; meta dataset_bytes "$DATA_BYTES"
meta sitevault "$SV_VERSION"; meta sitevault_bin "$SV"
meta nproc "$(nproc)"; meta cpu "$(cpu_model)"
meta mem "$(free -m | awk '/^Mem:/ { print $2 " MiB total, " $7 " MiB available" }')"
meta kernel "$(uname -sr)"; meta started "$(utc_now)"; meta loadavg_start "$(loadavg)"
meta workdir_fs "$(df -T "$WORK" | awk 'NR == 2 { print $1 " (" $2 ")" }')"
meta sandbox "$SANDBOX"
meta verify_sql "${VERIFY_SQL:-none (default)}"
meta page_cache "warm (not dropped); CHECKPOINT and sync before each timed command"
meta pg_dump "$("$PGBIN/pg_dump" --version)"
echo "sitevault: $SV ($SV_VERSION)"
echo "dataset:   $DATA ($DATA_FILES files, $((DATA_BYTES / 1048576)) MiB)"
echo "repetitions: $REPEAT (median reported); page cache warm; load $(loadavg)"

setup_cluster

FAILED=()
# Each repetition runs in a subshell with errexit, in a process group of its own (terminated on
# SIGINT/SIGTERM before the cleanup).
run_rep() { # TAG REP PARTS
    run_grouped backup_and_drill "$@"
    if ((GROUP_RC != 0)); then FAILED+=("$1 r$2"); note "$1 repetition $2 failed (logs in $LOGS)"; fi
}
for ((rep = 1; rep <= REPEAT; rep++)); do
    echo "== repetition $rep/$REPEAT: site backup + site drill (files + pg)"
    settle
    run_rep site $rep files,pg
done
if ((SOLO)); then
    for ((rep = 1; rep <= REPEAT; rep++)); do
        for part in files pg; do
            echo "== solo $part, repetition $rep/$REPEAT"
            settle
            run_rep solo-$part $rep $part
        done
    done
fi
rm -rf "$T"/site.r* "$T"/solo-*.r* "$T"/recovered.r*
psql_admin -c "DROP DATABASE IF EXISTS bench_recovered" >/dev/null

stop_cluster
meta loadavg_end "$(loadavg)"; meta finished "$(utc_now)"
meta failed "${FAILED[*]:-}"
python3 "$REPORT" "$WORK" | tee "$WORK/summary.md"
((${#FAILED[@]} == 0)) || die "failed: ${FAILED[*]}"
