#!/usr/bin/env bash
# bench/remote-bench.sh - sitevault vs restic to real S3 servers on loopback (SeaweedFS, Ceph RGW).
# Usage: bench/remote-bench.sh [--scale S] [--workdir DIR] [--servers seaweedfs,rgw] [--repeat N]
# Generates the bench dataset (bench/gen-dataset.py, ~1.5 GB at scale 1; default 0.3), starts the
# servers with scripts/s3-servers.sh, and for each server runs, for sitevault then restic, on a fresh
# bucket: backup (first), restore (full, into an empty folder), check --read-data. Prints wall times,
# MB/s of the dataset and sitevault's speed-up (restic wall / sitevault wall; > 1 = sitevault faster).
# --repeat N runs every server's rounds N times (fresh buckets each time) and prints the median of
# each phase with every sample; restore and check alternate which tool goes first (odd rounds
# sitevault, even rounds restic). --restore-dir DIR restores there (e.g. /dev/shm/x: on ext4, creating
# thousands of files right after thousands were deleted costs the first restore far more than the
# second — the kernel's recently_deleted scan — which a tmpfs does not have). SITEVAULT_BIN picks the binary (default: swift build -c release).
# Needs root (Ceph) and restic.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
SCALE=0.3 WORK=/tmp/sitevault-remote-bench SERVERS=seaweedfs,rgw REPEAT=1 RESTORE_DIR=
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) SCALE=$2; shift 2 ;;
    --workdir) WORK=$2; shift 2 ;;
    --servers) SERVERS=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    --restore-dir) RESTORE_DIR=$2; shift 2 ;;
    -h|--help) sed -n 2,15p "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 64 ;;
  esac
done
command -v restic >/dev/null || { echo "restic is not installed: scripts/install-deps.sh --bench" >&2; exit 1; }
if [ -z "${SITEVAULT_BIN:-}" ]; then
  (cd "$ROOT" && swift build -c release 2>&1 | tail -n 1)
  SITEVAULT_BIN=$ROOT/.build/release/sitevault
fi
unset SITEVAULT_REPOSITORY SITEVAULT_PASSWORD_FILE RESTIC_REPOSITORY
mkdir -p "$WORK"
DATA=$WORK/dataset-$SCALE
RESTORE_DIR=${RESTORE_DIR:-$WORK}
if [ ! -d "$DATA" ]; then python3 "$BENCH_DIR/gen-dataset.py" "$DATA" --scale "$SCALE" --quiet; fi
BYTES=$(du -sb "$DATA" | cut -f1)
SRV=$WORK/servers
"$ROOT/scripts/s3-servers.sh" stop "$SRV" 2>/dev/null || true
rm -rf "$SRV"
trap '"$ROOT/scripts/s3-servers.sh" stop "$SRV"' EXIT
IFS=, read -r -a want <<< "$SERVERS"
"$ROOT/scripts/s3-servers.sh" start "$SRV" "${want[@]}" >/dev/null
set -a; . "$SRV/env"; set +a
export AWS_ACCESS_KEY_ID=$SITEVAULT_TEST_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$SITEVAULT_TEST_S3_SECRET_KEY
export SITEVAULT_PASSWORD=remote-bench-password RESTIC_PASSWORD=remote-bench-password

timed() {   # LABEL COMMAND...: runs it (output to a log), prints seconds
  local log=$WORK/logs/$1.log start end
  mkdir -p "$WORK/logs"
  sync
  start=$(date +%s.%N)
  "${@:2}" >"$log" 2>&1 || { echo "failed: ${*:2} (see $log)" >&2; tail -n 5 "$log" >&2; exit 1; }
  end=$(date +%s.%N)
  python3 -c "print(f'{$end - $start:.2f}')"
}

results=()
for round in $(seq 1 "$REPEAT"); do
for server in "${want[@]}"; do
  var=SITEVAULT_TEST_S3_$(echo "$server" | tr a-z A-Z)
  ep=${!var}
  tag=$(date +%s)-$round
  sv_repo="s3:$ep/sv-bench-$tag/repo" rs_repo="s3:$ep/restic-bench-$tag/repo"
  rm -rf "$RESTORE_DIR/restore-sv" "$RESTORE_DIR/restore-rs" "$WORK/restic-cache"
  "$SITEVAULT_BIN" init --repo "$sv_repo" --quiet >/dev/null
  restic -r "$rs_repo" --cache-dir "$WORK/restic-cache" init >/dev/null
  sb=$(timed "$server-sitevault-backup" "$SITEVAULT_BIN" backup --repo "$sv_repo" --quiet "$DATA")
  rb=$(timed "$server-restic-backup" restic -r "$rs_repo" --cache-dir "$WORK/restic-cache" backup --quiet "$DATA")
  sv_restore() { timed "$server-sitevault-restore" "$SITEVAULT_BIN" restore latest --repo "$sv_repo" --target "$RESTORE_DIR/restore-sv"; }
  rs_restore() { timed "$server-restic-restore" restic -r "$rs_repo" --cache-dir "$WORK/restic-cache" restore latest --target "$RESTORE_DIR/restore-rs"; }
  sv_check() { timed "$server-sitevault-check" "$SITEVAULT_BIN" check --repo "$sv_repo" --read-data; }
  rs_check() { timed "$server-restic-check" restic -r "$rs_repo" --cache-dir "$WORK/restic-cache" check --read-data; }
  if [ $((round % 2)) -eq 1 ]; then
    sr=$(sv_restore); rr=$(rs_restore); sc=$(sv_check); rc=$(rs_check)
  else
    rr=$(rs_restore); sr=$(sv_restore); rc=$(rs_check); sc=$(sv_check)
  fi
  diff -rq "$DATA" "$RESTORE_DIR/restore-sv$DATA" >/dev/null || { echo "sitevault's restore differs from the dataset" >&2; exit 1; }
  results+=("$server backup $sb $rb" "$server restore $sr $rr" "$server check-read-data $sc $rc")
  rm -rf "$RESTORE_DIR/restore-sv" "$RESTORE_DIR/restore-rs"
  echo "round $round $server: ${results[*]: -3}" >&2
done
done
python3 - "$BYTES" "${results[@]}" <<'PY'
import statistics, sys
size = int(sys.argv[1])
rows = {}
for row in sys.argv[2:]:
    server, phase, s, r = row.split()
    rows.setdefault((server, phase), []).append((float(s), float(r)))
print(f"dataset: {size/1e6:.0f} MB; medians of {max(len(v) for v in rows.values())} round(s)")
print(f"{'server':10} {'phase':16} {'sitevault s':>11} {'MB/s':>7} {'restic s':>9} {'MB/s':>7} {'speed-up':>9}  samples (sitevault/restic)")
for (server, phase), v in rows.items():
    s = statistics.median(x for x, _ in v)
    r = statistics.median(y for _, y in v)
    samples = " ".join(f"{x:.2f}/{y:.2f}" for x, y in v)
    print(f"{server:10} {phase:16} {s:11.2f} {size/1e6/s:7.1f} {r:9.2f} {size/1e6/r:7.1f} {r/s:8.2f}x  {samples}")
PY
