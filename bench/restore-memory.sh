#!/usr/bin/env bash
# bench/restore-memory.sh - peak memory (max RSS) of restoring many small files.
#
# Generates FILES small files (default 200,000, in folders of 1,000), backs them up and restores
# them with sitevault, and with restic when it is installed (scripts/install-deps.sh --bench), each
# restore measured with /usr/bin/time -v. With BEFORE_BIN set, that sitevault binary (e.g. one built
# from an older commit) is measured too, on the same repository.
#
# Usage: bench/restore-memory.sh [--files N] [--workdir DIR] [--no-build]
#   SITEVAULT_BIN=path   sitevault binary to use (default: build .build/release/sitevault)
#   BEFORE_BIN=path      an older sitevault binary to compare with (optional)
# Everything stays below the workdir (default /tmp/sitevault-restore-memory), removed at the end.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
FILES=200000
WORK=/tmp/sitevault-restore-memory
BUILD=1
while [[ $# -gt 0 ]]; do
    case $1 in
        --files) FILES=${2:?--files needs a number}; shift 2 ;;
        --workdir) WORK=${2:?--workdir needs a folder}; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n 2,13p "$0"; exit 0 ;;
        *) echo "restore-memory.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[[ $FILES =~ ^[1-9][0-9]*$ ]] || { echo "restore-memory.sh: --files must be a positive integer" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "restore-memory.sh: GNU time is needed at /usr/bin/time (apt-get install time)" >&2; exit 2; }

SV=${SITEVAULT_BIN:-$ROOT/.build/release/sitevault}
if [[ -z ${SITEVAULT_BIN:-} && $BUILD == 1 ]]; then
    (cd "$ROOT" && swift build -c release --product sitevault >&2)
fi
[[ -x $SV ]] || { echo "restore-memory.sh: no sitevault binary at $SV (build it or set SITEVAULT_BIN)" >&2; exit 2; }

[[ $WORK != / ]] || { echo "restore-memory.sh: refusing / as workdir" >&2; exit 2; }
rm -rf "$WORK"; mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT
SRC=$WORK/src
echo "bench-password" > "$WORK/password"; chmod 600 "$WORK/password"

echo "generating $FILES files in $SRC" >&2
python3 - "$SRC" "$FILES" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "d%04d" % (i // 1000))
    if i % 1000 == 0:
        os.makedirs(d)
    with open(os.path.join(d, "f%06d.txt" % i), "w") as f:
        f.write(("file %d of the restore memory benchmark\n" % i) * (1 + i % 5))
PY

# measure LABEL CMD...: runs CMD under /usr/bin/time -v; prints "seconds peak_kib".
measure() {
    local label=$1; shift
    /usr/bin/time -v -o "$WORK/time.$label" "$@" > "$WORK/out.$label" 2>&1 || {
        echo "restore-memory.sh: $label failed:" >&2; tail -5 "$WORK/out.$label" >&2; return 1; }
    awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i] }
                /Maximum resident set size/ { rss = $2 }
                END { printf "%.1f %d\n", s, rss }' "$WORK/time.$label"
}

row() { printf "%-22s %10s %12s %14s\n" "$@"; }
RESULTS=()
add() { read -r s kib <<<"$2"; RESULTS+=("$(row "$1" "$FILES" "$s" "$((kib / 1024))")"); }

export SITEVAULT_REPOSITORY=$WORK/sv-repo SITEVAULT_PASSWORD_FILE=$WORK/password
echo "sitevault: init, backup" >&2
"$SV" init > /dev/null
add "sitevault backup" "$(measure sv-backup "$SV" backup "$SRC")"
echo "sitevault: restore" >&2
add "sitevault restore" "$(measure sv-restore "$SV" restore latest --target "$WORK/sv-out")"
rm -rf "$WORK/sv-out"
if [[ -n ${BEFORE_BIN:-} ]]; then
    echo "older sitevault ($BEFORE_BIN): restore" >&2
    add "older sitevault restore" "$(measure before-restore "$BEFORE_BIN" restore latest --target "$WORK/before-out")"
    rm -rf "$WORK/before-out"
fi

if command -v restic > /dev/null; then
    export RESTIC_REPOSITORY=$WORK/restic-repo RESTIC_PASSWORD_FILE=$WORK/password
    echo "restic: init, backup, restore" >&2
    restic init > /dev/null
    add "restic backup" "$(measure restic-backup restic backup "$SRC")"
    add "restic restore" "$(measure restic-restore restic restore latest --target "$WORK/restic-out")"
else
    echo "restic is not installed (scripts/install-deps.sh --bench): skipped" >&2
fi

row "step" "files" "seconds" "peak RSS MiB"
printf '%s\n' "${RESULTS[@]}"
