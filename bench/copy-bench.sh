#!/usr/bin/env bash
# bench/copy-bench.sh - `sitevault copy` vs `restic copy` between two local repositories with the
# same chunker parameters. See --help.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: bench/copy-bench.sh [--scale S] [--repeat N] [--workdir DIR] [--no-build] [-h|--help]

Copies one snapshot of a generated dataset (bench/gen-dataset.py; ~375 MB at the default
scale 0.25) from a source repository into a new, empty repository made with the same chunker
parameters (`init --copy-chunker-params --from-repo SRC`, another password), with sitevault and
with restic, side by side. Each copy runs under /usr/bin/time; the medians of N repetitions
(default 3) of wall time, CPU (user+sys) and peak RSS are printed, with the ratio
restic wall / sitevault wall (> 1: sitevault is faster). Untimed: the source backups (once), the
empty targets (each repetition), and a `check --read-data` of each tool's first copy.

Options:
  --scale S      dataset scale (default 0.25 ≈ 375 MB)
  --repeat N     repetitions, the median is reported (default 3)
  --workdir DIR  everything is written below DIR (default /tmp/sitevault-copy-bench)
  --no-build     do not run `swift build -c release`; use SITEVAULT_BIN or .build/release/sitevault

Environment: SITEVAULT_BIN, RESTIC_BIN. restic comes from scripts/install-deps.sh --bench.
USAGE
}

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"

SCALE=0.25 REPEAT=3 WORK=/tmp/sitevault-copy-bench BUILD=1
while (($#)); do
    case $1 in
        --scale) need_arg "$@"; SCALE=$2; shift 2 ;;
        --repeat) need_arg "$@"; posint "$1" "$2"; REPEAT=$2; shift 2 ;;
        --workdir) need_arg "$@"; WORK=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
scale_key "$SCALE"
unset_site_env
unset RESTIC_REPOSITORY RESTIC_PASSWORD RESTIC_PASSWORD_FILE RESTIC_FROM_REPOSITORY RESTIC_FROM_PASSWORD_FILE \
    SITEVAULT_FROM_REPOSITORY SITEVAULT_FROM_PASSWORD_FILE SITEVAULT_FROM_PASSWORD

missing_deps() {
    command -v "${RESTIC_BIN:-restic}" >/dev/null || echo restic
    [[ -x /usr/bin/time ]] || echo time
}
ensure_deps "restic time"
RESTIC=$(command -v "${RESTIC_BIN:-restic}")
if [[ -n ${SITEVAULT_BIN:-} ]]; then
    SV=$SITEVAULT_BIN
else
    if ((BUILD)); then (cd "$ROOT" && swift build -c release --product sitevault >&2) || die "swift build -c release failed"; fi
    SV=$ROOT/.build/release/sitevault
fi
[[ -x $SV ]] || die "no sitevault binary at $SV (build it, or set SITEVAULT_BIN)"

open_workdir
DATA=$WORK/datasets/$SCALE_KEY
if [[ ! -f $DATA/.complete ]]; then
    note "generating the dataset (scale $SCALE_KEY) in $DATA"
    rm -rf "$DATA"
    python3 "$GEN" --quiet --scale "$SCALE_KEY" "$DATA"
    touch "$DATA/.complete"
fi
LOGS=$WORK/logs RAW=$WORK/raw.tsv
mkdir -p "$LOGS" "$WORK/pw"
: >"$RAW"
for n in src dst; do [[ -s $WORK/pw/$n ]] || head -c 24 /dev/urandom | base64 >"$WORK/pw/$n"; done
chmod 600 "$WORK"/pw/*

# Untimed: one source repository per tool holding one snapshot of the dataset.
prepare_sources() {
    rm -rf "$WORK/sv-src" "$WORK/restic-src" "$WORK/cache"
    SITEVAULT_REPOSITORY=$WORK/sv-src SITEVAULT_PASSWORD_FILE=$WORK/pw/src "$SV" init --quiet
    SITEVAULT_REPOSITORY=$WORK/sv-src SITEVAULT_PASSWORD_FILE=$WORK/pw/src "$SV" backup --quiet "$DATA"
    RESTIC_REPOSITORY=$WORK/restic-src RESTIC_PASSWORD_FILE=$WORK/pw/src RESTIC_CACHE_DIR=$WORK/cache \
        "$RESTIC" init --repository-version 2 -q
    RESTIC_REPOSITORY=$WORK/restic-src RESTIC_PASSWORD_FILE=$WORK/pw/src RESTIC_CACHE_DIR=$WORK/cache \
        "$RESTIC" backup -q "$DATA"
}

# Untimed: an empty target with the source's chunker parameters.
fresh_target() { # tool
    rm -rf "$WORK/$1-dst" "$WORK/cache"
    case $1 in
        sv) SITEVAULT_REPOSITORY=$WORK/sv-dst SITEVAULT_PASSWORD_FILE=$WORK/pw/dst "$SV" init --quiet \
                --copy-chunker-params --from-repo "$WORK/sv-src" --from-password-file "$WORK/pw/src" ;;
        restic) RESTIC_REPOSITORY=$WORK/restic-dst RESTIC_PASSWORD_FILE=$WORK/pw/dst RESTIC_CACHE_DIR=$WORK/cache \
                "$RESTIC" init -q --repository-version 2 --copy-chunker-params \
                --from-repo "$WORK/restic-src" --from-password-file "$WORK/pw/src" ;;
    esac
}

timed_copy() { # tool rep
    local tf=$LOGS/$1.r$2.time log=$LOGS/$1.r$2.log TIME_WALL TIME_USER TIME_SYS TIME_RSS
    sync
    case $1 in
        sv) SITEVAULT_REPOSITORY=$WORK/sv-dst SITEVAULT_PASSWORD_FILE=$WORK/pw/dst \
                time_command "$tf" "$SV" copy --from-repo "$WORK/sv-src" --from-password-file "$WORK/pw/src" >"$log" 2>&1 ;;
        restic) RESTIC_REPOSITORY=$WORK/restic-dst RESTIC_PASSWORD_FILE=$WORK/pw/dst RESTIC_CACHE_DIR=$WORK/cache \
                time_command "$tf" "$RESTIC" copy --from-repo "$WORK/restic-src" --from-password-file "$WORK/pw/src" >"$log" 2>&1 ;;
    esac || { show_tail 15 "$log"; die "$1 copy failed (log: $log)"; }
    read_times "$tf"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$TIME_WALL" "$TIME_USER" "$TIME_SYS" "$TIME_RSS" >>"$RAW"
    awk -v t="$1" -v r="$2" -v w="$TIME_WALL" -v u="$TIME_USER" -v s="$TIME_SYS" -v m="$TIME_RSS" \
        'BEGIN { printf "  %-9s r%-2s copy  wall %7.2fs  cpu %7.2fs  peak RSS %7.1f MiB\n", t, r, w, u + s, m / 1024 }'
}

verify_copy() { # tool: the copy holds one snapshot and reads back clean
    case $1 in
        sv) SITEVAULT_REPOSITORY=$WORK/sv-dst SITEVAULT_PASSWORD_FILE=$WORK/pw/dst "$SV" check --read-data --quiet ;;
        restic) RESTIC_REPOSITORY=$WORK/restic-dst RESTIC_PASSWORD_FILE=$WORK/pw/dst RESTIC_CACHE_DIR=$WORK/cache \
                "$RESTIC" check --read-data -q ;;
    esac >"$LOGS/$1.check.log" 2>&1 || die "$1: check --read-data of the copy failed (log: $LOGS/$1.check.log)"
    echo "  $1 copy checked (check --read-data)"
}

echo "dataset: $DATA ($(du -sh "$DATA" | cut -f1)), scale $SCALE_KEY; $(nproc) CPU(s): $(cpu_model); load $(loadavg)"
echo "sitevault: $("$SV" --version)   restic: $("$RESTIC" version | head -n 1)"
prepare_sources
echo "sources: sitevault $(du -sh "$WORK/sv-src" | cut -f1), restic $(du -sh "$WORK/restic-src" | cut -f1)"
for ((rep = 1; rep <= REPEAT; rep++)); do
    order=(sv restic)
    ((rep % 2 == 0)) && order=(restic sv)
    for tool in "${order[@]}"; do
        fresh_target "$tool"
        timed_copy "$tool" "$rep"
        ((rep == 1)) && verify_copy "$tool"
    done
done

python3 - "$RAW" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
med = {}
for tool in ("sv", "restic"):
    r = [x for x in rows if x[0] == tool]
    med[tool] = (statistics.median(float(x[2]) for x in r),
                 statistics.median(float(x[3]) + float(x[4]) for x in r),
                 statistics.median(float(x[5]) / 1024 for x in r), len(r))
print()
print(f"{'copy (median of %d)' % med['sv'][3]:<22}{'wall s':>9}{'CPU s':>9}{'peak RSS MiB':>14}")
for tool, name in (("sv", "sitevault copy"), ("restic", "restic copy")):
    w, c, m, _ = med[tool]
    print(f"{name:<22}{w:>9.2f}{c:>9.2f}{m:>14.1f}")
ratio = med["restic"][0] / med["sv"][0]
cpu = med["restic"][1] / med["sv"][1]
print(f"\nrestic wall / sitevault wall = {ratio:.2f}x   (CPU {cpu:.2f}x; the bar is >= 3x)")
PY
