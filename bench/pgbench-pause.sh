#!/usr/bin/env bash
# Measures what the application sees while sitevault backs a PostgreSQL database up: pgbench runs
# for the whole backup (4 clients) and logs every transaction's latency; the script prints the
# worst latency and the 99.9th percentile before/during the backup, for a logical and a physical
# backup. The bar (issue 4): no application-visible pause of 1 s or more, whatever the size.
# Usage: bench/pgbench-pause.sh [CLUSTER_DIR] [DATABASE]   (defaults: the db-bench cluster and its "bench" database)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-/tmp/sitevault-db-bench/pg}; db=${2:-bench}
sv=${SITEVAULT_BIN:-$PWD/.build-bench/release/sitevault}
[ -x "$sv" ] || { swift build -c release --product sitevault --scratch-path .build-bench >/dev/null; }
eval "$(scripts/pg-cluster.sh start "$dir" | sed 's/^/export PG_/')"
work=$(mktemp -d /tmp/sitevault-pause.XXXXXX)
trap 'scripts/pg-cluster.sh stop "$dir"; rm -rf "$work"' EXIT
head -c 24 /dev/urandom | base64 > "$work/pw"; chmod 600 "$work/pw"
SITEVAULT_PASSWORD_FILE="$work/pw" "$sv" init --repo "$work/repo" --quiet
for method in logical physical; do
  cat > "$work/site.toml" <<TOML
site = "pause"
time_zone = "UTC"
state_dir = "$work/state-$method"
[repository]
path = "$work/repo"
password_file = "$work/pw"
[[component]]
name = "db"
kind = "database"
engine = "postgresql"
host = "127.0.0.1"
port = $PG_PORT
password_file = "$PG_PASSWORD_FILE"
method = "$method"
$( [ "$method" = logical ] && echo "databases = [\"$db\"]" )
TOML
  rm -f "$work"/pgbench_log.*
  ( cd "$work" && "$PG_BIN/pgbench" -h "$PG_SOCKET" -p "$PG_PORT" -U postgres -n -c 4 -T 14 -l --log-prefix=pgbench_log "$db" >/dev/null 2>&1 ) &
  load=$!
  sleep 4
  start=$(date +%s.%N)
  "$sv" site backup --site "$work/site.toml" --quiet
  end=$(date +%s.%N)
  wait $load
  # pgbench log: client tx latency_us script_no epoch_s epoch_us
  cat "$work"/pgbench_log.* | python3 -c '
import sys
start, end = float(sys.argv[1]), float(sys.argv[2])
before, during = [], []
for line in sys.stdin:
    f = line.split()
    t_end = int(f[4]) + int(f[5]) / 1e6; lat = int(f[2]) / 1e6
    (during if t_end - lat < end and t_end > start else before if t_end < start else []).append(lat)
def q(v, p): v = sorted(v); return v[min(len(v) - 1, int(len(v) * p))] if v else 0
print("%-8s backup %.2f s | before: %d tx, worst %.0f ms, p99.9 %.0f ms | during: %d tx, worst %.0f ms, p99.9 %.0f ms | bar (< 1000 ms): %s" % (
    sys.argv[3], end - start, len(before), 1000 * max(before or [0]), 1000 * q(before, .999),
    len(during), 1000 * max(during or [0]), 1000 * q(during, .999), "met" if max(during or [0]) < 1 else "NOT met"))
' "$start" "$end" "$method"
done
