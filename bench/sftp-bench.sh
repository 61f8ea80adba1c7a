#!/usr/bin/env bash
# bench/sftp-bench.sh - sitevault vs restic to the same SFTP server (OpenSSH on loopback, started
# here with scripts/sftp-server.sh), same dataset, in one run: backup, restore, check --read-data.
#   bench/sftp-bench.sh [--scale S] [--workdir DIR]
# --scale   dataset scale for bench/gen-dataset.py (default 0.33, ~500 MB; 0.02 = smoke run)
# --workdir everything goes below DIR (default /tmp/sitevault-sftp-bench; dataset cached per scale)
# SITEVAULT_BIN the sitevault binary (default .build/release/sitevault, built if missing).
# Both tools reach the server through the same ssh command (ssh -F DIR/ssh_config svtest -s sftp):
# sitevault through SITEVAULT_SFTP_COMMAND, restic through -o sftp.command=…. Warm page cache, one
# repetition: run it on an idle machine, and read the numbers as one sample.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"
WORK=/tmp/sitevault-sftp-bench
SCALE=0.33
while [[ $# -gt 0 ]]; do
    case $1 in
    --scale) need_arg "$@"; SCALE=$2; shift 2 ;;
    --workdir) need_arg "$@"; WORK=$2; shift 2 ;;
    -h | --help) sed -n '2,11p' "$0"; exit 0 ;;
    *) die "unknown option $1" ;;
    esac
done
scale_key "$SCALE"
unset_site_env
unset SITEVAULT_SFTP_COMMAND RESTIC_REPOSITORY RESTIC_PASSWORD RESTIC_PASSWORD_FILE
command -v restic >/dev/null || die "restic not found (apt-get install restic)"
SV=${SITEVAULT_BIN:-$ROOT/.build/release/sitevault}
if [[ ! -x $SV ]]; then
    note "building sitevault (release)"
    (cd "$ROOT" && swift build -c release --product sitevault) >&2 || die "swift build failed"
fi
open_workdir
prepare_dataset
SERVER=$WORK/sftp
"$ROOT/scripts/sftp-server.sh" stop "$SERVER"
"$ROOT/scripts/sftp-server.sh" start "$SERVER" >/dev/null
trap '"$ROOT/scripts/sftp-server.sh" stop "$SERVER"' EXIT
COMMAND="ssh -F $SERVER/ssh_config svtest -s sftp"
head -c 24 /dev/urandom | base64 >"$WORK/password"; chmod 600 "$WORK/password"
RESULTS=$WORK/results.tsv
: >"$RESULTS"

# phase TOOL NAME CMD...: runs CMD under GNU time, records wall seconds.
phase() {
    local tool=$1 name=$2; shift 2
    sync
    /usr/bin/time -f '%e %U %S' -o "$WORK/time" "$@" >"$WORK/$tool-$name.log" 2>&1 ||
        { show_tail 20 "$WORK/$tool-$name.log"; die "$tool $name failed"; }
    read -r wall user sys <"$WORK/time"
    printf '%s\t%s\t%s\t%s\t%s\n' "$tool" "$name" "$wall" "$user" "$sys" >>"$RESULTS"
    note "$tool $name: ${wall}s wall, ${user}s user, ${sys}s sys"
}

for tool in sitevault restic; do
    repo=$SERVER/repos/$tool
    rm -rf "$repo" "$WORK/restore-$tool" "$WORK/cache-$tool"
    if [[ $tool == sitevault ]]; then
        export SITEVAULT_SFTP_COMMAND=$COMMAND SITEVAULT_PASSWORD_FILE=$WORK/password
        loc=sftp:svtest:$repo
        "$SV" init --quiet --repo "$loc" >/dev/null
        phase sitevault backup "$SV" backup --quiet --repo "$loc" "$DATA"
        phase sitevault restore "$SV" restore latest --quiet --repo "$loc" --target "$WORK/restore-$tool"
        phase sitevault check-read-data "$SV" check --read-data --quiet --repo "$loc"
        unset SITEVAULT_SFTP_COMMAND SITEVAULT_PASSWORD_FILE
    else
        export RESTIC_PASSWORD_FILE=$WORK/password
        r=(restic --quiet -r "sftp:svtest:$repo" -o "sftp.command=$COMMAND" --cache-dir "$WORK/cache-$tool")
        "${r[@]}" init >/dev/null
        phase restic backup "${r[@]}" backup "$DATA"
        phase restic restore "${r[@]}" restore latest --target "$WORK/restore-$tool"
        phase restic check-read-data "${r[@]}" check --read-data
        unset RESTIC_PASSWORD_FILE
    fi
    rm -rf "$WORK/restore-$tool"
done

mib=$((DATA_BYTES / 1048576))
echo "dataset: $DATA ($DATA_FILES files, $mib MiB); restic $(restic version | cut -d' ' -f2); $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-16s %12s %12s %10s %10s %8s\n' phase "sitevault s" "restic s" "sv MB/s" "restic MB/s" "ratio"
for p in backup restore check-read-data; do
    s=$(awk -F'\t' -v p="$p" '$1 == "sitevault" && $2 == p {print $3}' "$RESULTS")
    r=$(awk -F'\t' -v p="$p" '$1 == "restic" && $2 == p {print $3}' "$RESULTS")
    awk -v p="$p" -v s="$s" -v r="$r" -v b="$DATA_BYTES" 'BEGIN {
        printf "%-16s %12.2f %12.2f %10.1f %10.1f %7.2fx\n", p, s, r, b / 1e6 / s, b / 1e6 / r, r / s }'
done
