#!/usr/bin/env bash
# bench/run.sh - benchmark sitevault against restic and borg. See --help and bench/README.md.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: bench/run.sh [--profile mixed|site|both] [--scale S] [--repeat N] [--workdir DIR]
                    [--tools LIST] [--limits] [--limits-only] [--settle SEC]
                    [--no-build] [--no-verify] [-h|--help]

Benchmarks sitevault against restic and borg on a generated, reproducible
dataset (bench/gen-dataset.py; ~1.5 GB "mixed" or ~1.7 GB "site" at scale 1.0)
and prints a table of medians per profile; machine-readable results go to
WORKDIR/PROFILE/results.json.

Options:
  --profile P     dataset profile: mixed (default; today's), site (shaped like a
                  real web site: small text files, uploads, a SQLite database, an
                  archive) or both (each repetition runs every tool on both; one
                  table per profile)
  --scale S       dataset scale factor (default 1.0; 0.05 = smoke run)
  --repeat N      repetitions per phase; the median is reported (default 3)
  --workdir DIR   everything is written below DIR (default /tmp/sitevault-bench):
                  datasets/ (cached per profile and scale), tree/, repos/,
                  restore/, cache/, and per profile PROFILE/ with logs/, raw.tsv,
                  meta.tsv, limits.json, results.json
  --limits        first measure this machine's single-core speeds on each
                  dataset (bench/limits.py: read/write files, SHA-256,
                  AES-256-GCM, zstd -3, zstd -d, fsync'ed writes) and the limits
                  they imply for a first backup and a restore; the table then
                  shows "vs limit" = wall / limit for those two phases
  --limits-only   only that: prepare the dataset(s), measure, print, exit
  --tools LIST    comma-separated subset of sitevault,restic,borg (default: all);
                  a tool that is not installed is skipped with a notice
  --no-build      do not run `swift build`; use SITEVAULT_BIN or an existing
                  .build/release/sitevault, else skip sitevault with a notice
  --no-verify     do not compare the restored tree with the source (untimed)
  --settle SEC    pause after deleting the previous repetition's trees (default 65;
                  see bench/README.md: freed inodes slow file creation for 60 s)
  -h, --help      show this help

Environment:
  SITEVAULT_BIN   sitevault binary to use (skips the build)
  RESTIC_BIN, BORG_BIN   override the restic / borg binaries (default: from PATH)

Per repetition and tool, on a fresh copy of the dataset (cp -a) and a fresh repository:
  init                 create the repository
  backup-first         first backup of the tree            (+ repo size, du -sb)
  open                 list snapshots (sitevault snapshots / restic snapshots /
                       borg list): fixed cost of opening the repository
  backup-unchanged     second backup of the unchanged tree
  backup-churn         backup after `gen-dataset.py churn` (~5% of small files
                       modified, files added/deleted, big log appended)
  restore              full restore of the latest snapshot into an empty dir
                       (then verified against the tree with diff -r, untimed)
  check-read-data      sitevault/restic `check --read-data`, borg `check --verify-data`
Each phase is run under /usr/bin/time (wall, user+sys CPU, peak RSS). The table
also shows "unchanged minus open" (per-run difference, then median), and for
sitevault rows "vs restic"/"vs borg" = other wall / sitevault wall (>1 means
sitevault is faster; for repo size: other size / sitevault size), and with
--limits "vs limit" = wall / the limit for the first backup and the restore
(1.00 = at the limit of this machine; see bench/README.md for the model).

The page cache is NOT dropped (no root needed): all phases run with warm caches,
identically for every tool; `sync` is run before each timed phase. The tool order
is rotated between repetitions. Passwords are passed via files/environment only
(SITEVAULT_PASSWORD_FILE, RESTIC_PASSWORD_FILE, BORG_PASSPHRASE).

Example (quick smoke run):  bench/run.sh --scale 0.02 --repeat 1 --tools restic,borg
Both profiles with limits:  bench/run.sh --profile both --limits
EOF
}

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"
REPORT=$BENCH_DIR/report.py

SCALE=1.0
REPEAT=3
SETTLE=65
WORK=/tmp/sitevault-bench
TOOLS=sitevault,restic,borg
BUILD=1
VERIFY=1
PROFILE_ARG=mixed
LIMITS=0

while [[ $# -gt 0 ]]; do
    case $1 in
        --scale) need_arg "$@"; SCALE=$2; shift 2 ;;
        --scale=*) SCALE=${1#*=}; shift ;;
        --repeat) need_arg "$@"; REPEAT=$2; shift 2 ;;
        --repeat=*) REPEAT=${1#*=}; shift ;;
        --workdir) need_arg "$@"; WORK=$2; shift 2 ;;
        --workdir=*) WORK=${1#*=}; shift ;;
        --tools) need_arg "$@"; TOOLS=$2; shift 2 ;;
        --tools=*) TOOLS=${1#*=}; shift ;;
        --no-build) BUILD=0; shift ;;
        --no-verify) VERIFY=0; shift ;;
        --profile) need_arg "$@"; PROFILE_ARG=$2; shift 2 ;;
        --profile=*) PROFILE_ARG=${1#*=}; shift ;;
        --limits) LIMITS=1; shift ;;
        --limits-only) LIMITS=2; shift ;;
        --settle) need_arg "$@"; SETTLE=$2; shift 2 ;;
        --settle=*) SETTLE=${1#*=}; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done

posint --repeat "$REPEAT"
scale_key "$SCALE"
case $PROFILE_ARG in
    mixed | site) PROFILES=("$PROFILE_ARG") ;;
    both) PROFILES=(mixed site) ;;
    *) die "--profile must be mixed, site or both, got '$PROFILE_ARG'" ;;
esac
[[ -x /usr/bin/time ]] || die "GNU time (/usr/bin/time) is required"
for t in ${TOOLS//,/ }; do
    case $t in sitevault | restic | borg) ;; *) die "unknown tool in --tools: $t (known: sitevault,restic,borg)" ;; esac
done

open_workdir
TREE=$WORK/tree
RESTORE=$WORK/restore
PWFILE=$WORK/password

# Never let a caller's environment choose passwords/repos for us.
unset RESTIC_PASSWORD RESTIC_PASSWORD_COMMAND RESTIC_REPOSITORY RESTIC_REPOSITORY_FILE \
    BORG_PASSPHRASE BORG_PASSCOMMAND BORG_PASSPHRASE_FD BORG_REPO \
    SITEVAULT_REPOSITORY SITEVAULT_PASSWORD_FILE

# ---------------------------------------------------------------- limits
# measure_limits: bench/limits.py on DATA into OUT/limits.json (its summary on stdout).
measure_limits() {
    echo "== limits of this machine on the $PROFILE dataset (bench/limits.py)"
    python3 "$BENCH_DIR/limits.py" "$DATA" "$WORK/limits-tmp" --out "$OUT/limits.json" ||
        die "bench/limits.py failed on $DATA"
}

if ((LIMITS == 2)); then
    for PROFILE in "${PROFILES[@]}"; do
        prepare_dataset "$PROFILE"
        OUT=$WORK/$PROFILE
        mkdir -p "$OUT"
        measure_limits
    done
    exit 0
fi

# ---------------------------------------------------------------- tools
declare -A BIN=() VERSION=() FAILED=()
ACTIVE=()
SKIPPED=()
want() { [[ ",$TOOLS," == *",$1,"* ]]; }
skip() { note "skipping $1: $2"; SKIPPED+=("$1: $2"); }

if want sitevault; then
    if sitevault_from_env; then
        BIN[sitevault]=$SV
    elif ((BUILD)); then
        note "building sitevault: swift build -c release --product sitevault (log: $WORK/build.log)"
        (cd "$ROOT" && swift build -c release --product sitevault) 2>&1 | tee "$WORK/build.log" ||
            die "swift build failed (see $WORK/build.log); use --tools restic,borg or --no-build to skip sitevault"
        BIN[sitevault]=$ROOT/.build/release/sitevault
        [[ -x ${BIN[sitevault]} ]] || die "build succeeded but ${BIN[sitevault]} does not exist"
    elif [[ -x $ROOT/.build/release/sitevault ]]; then
        BIN[sitevault]=$ROOT/.build/release/sitevault
        note "--no-build: using existing ${BIN[sitevault]} (may be stale)"
    else
        skip sitevault "--no-build given, SITEVAULT_BIN not set and $ROOT/.build/release/sitevault does not exist"
    fi
    if [[ -n ${BIN[sitevault]:-} ]]; then
        VERSION[sitevault]=$("${BIN[sitevault]}" --version 2>/dev/null | head -n 1) || true
        VERSION[sitevault]="${VERSION[sitevault]:-unknown} (sha256 $(sha256sum "${BIN[sitevault]}" | cut -c1-12))"
        ACTIVE+=(sitevault)
    fi
fi
if want restic; then
    p=${RESTIC_BIN:-$(command -v restic || true)}
    if [[ -n $p && -x $p ]]; then
        BIN[restic]=$p
        VERSION[restic]=$("$p" version 2>/dev/null | head -n 1) || VERSION[restic]=unknown
        ACTIVE+=(restic)
    else
        skip restic "not installed (apt-get install restic)"
    fi
fi
if want borg; then
    p=${BORG_BIN:-$(command -v borg || true)}
    if [[ -n $p && -x $p ]]; then
        BIN[borg]=$p
        VERSION[borg]=$("$p" --version 2>/dev/null | head -n 1) || VERSION[borg]=unknown
        ACTIVE+=(borg)
    else
        skip borg "not installed (apt-get install borgbackup)"
    fi
fi
((${#ACTIVE[@]} > 0)) || die "no tool to benchmark"

# ---------------------------------------------------------------- datasets, limits, setup
rm -rf "$TREE" "$RESTORE" "$WORK/repos" "$WORK/cache" "$WORK/limits-tmp"
mkdir -p "$WORK/repos" "$WORK/cache"
(umask 077 && printf 'sitevault-bench-%s\n' "not-a-secret-benchmark-password" >"$PWFILE")

# Canonical table order: sitevault, restic, borg.
ORDERED=()
for t in sitevault restic borg; do
    for a in "${ACTIVE[@]}"; do [[ $a == "$t" ]] && ORDERED+=("$t"); done
done
ACTIVE=("${ORDERED[@]}")

# use_profile P: the dataset and output files of profile P (DATA, DATA_FILES, DATA_BYTES, OUT, LOGS, RAW,
# META, FAILS), as prepare_profile set them up.
declare -A DATA_OF=() FILES_OF=() BYTES_OF=()
use_profile() {
    PROFILE=$1
    DATA=${DATA_OF[$PROFILE]} DATA_FILES=${FILES_OF[$PROFILE]} DATA_BYTES=${BYTES_OF[$PROFILE]}
    OUT=$WORK/$PROFILE
    LOGS=$OUT/logs RAW=$OUT/raw.tsv META=$OUT/meta.tsv FAILS=$OUT/failures.tsv
}
prepare_profile() {
    prepare_dataset "$1"
    DATA_OF[$1]=$DATA FILES_OF[$1]=$DATA_FILES BYTES_OF[$1]=$DATA_BYTES
    use_profile "$1"
    rm -rf "$OUT"
    mkdir -p "$LOGS"
    : >"$RAW"
    : >"$FAILS"
    if ((LIMITS)); then measure_limits; fi
    {
        printf 'profile\t%s\nscale\t%s\nrepeat\t%s\n' "$PROFILE" "$SCALE_KEY" "$REPEAT"
        printf 'tools\t%s\n' "$(IFS=,; echo "${ACTIVE[*]}")"
        printf 'skipped\t%s\n' "$(IFS=';'; echo "${SKIPPED[*]:-}")"
        printf 'dataset\t%s\ndataset_files\t%s\ndataset_bytes\t%s\n' "$DATA" "$DATA_FILES" "$DATA_BYTES"
        printf 'nproc\t%s\n' "$(nproc)"
        printf 'cpu\t%s\n' "$(cpu_model)"
        printf 'kernel\t%s\n' "$(uname -sr)"
        printf 'started\t%s\n' "$(utc_now)"
        printf 'loadavg_start\t%s\n' "$(loadavg)"
        printf 'page_cache\t%s\n' "warm (not dropped); sync before each timed phase"
        for t in "${ACTIVE[@]}"; do
            printf 'version.%s\t%s\nbin.%s\t%s\n' "$t" "${VERSION[$t]}" "$t" "${BIN[$t]}"
        done
    } >"$META"
    echo "dataset: $PROFILE: $DATA ($DATA_FILES files, $((DATA_BYTES / 1048576)) MiB)"
}
for p in "${PROFILES[@]}"; do prepare_profile "$p"; done

echo "tools:   ${ACTIVE[*]}; repetitions: $REPEAT (median reported)"
echo "note:    page cache is warm (not dropped); the machine may be shared/noisy"
for t in "${ACTIVE[@]}"; do echo "         $t: ${BIN[$t]} (${VERSION[$t]})"; done

# ---------------------------------------------------------------- per-tool commands
# Sets CMD for tool $TOOL and phase $1. Repository/password come from the environment.
cmd_for() {
    local b=${BIN[$TOOL]}
    case $TOOL:$1 in
        sitevault:init) CMD=("$b" init) ;;
        sitevault:backup-*) CMD=("$b" backup "$TREE") ;;
        sitevault:open) CMD=("$b" snapshots) ;;
        sitevault:restore) CMD=("$b" restore latest --target "$RESTORE") ;;
        sitevault:check-read-data) CMD=("$b" check --read-data) ;;
        restic:init) CMD=("$b" init --repository-version 2) ;;
        restic:backup-*) CMD=("$b" backup "$TREE") ;;
        restic:open) CMD=("$b" snapshots) ;;
        restic:restore) CMD=("$b" restore latest --target "$RESTORE") ;;
        restic:check-read-data) CMD=("$b" check --read-data) ;;
        borg:init) CMD=("$b" init --encryption=repokey-blake2 "$REPO") ;;
        borg:backup-*) CMD=("$b" create --compression zstd,3 "$REPO::${1#backup-}" "$TREE") ;;
        borg:open) CMD=("$b" list "$REPO") ;;
        borg:restore) CMD=("$b" extract "$REPO::churn") ;; # extracts into the cwd
        borg:check-read-data) CMD=("$b" check --verify-data "$REPO") ;;
        *) die "internal: no command for $TOOL:$1" ;;
    esac
}

setup_env() {
    case $TOOL in
        sitevault) export SITEVAULT_REPOSITORY=$REPO SITEVAULT_PASSWORD_FILE=$PWFILE XDG_CACHE_HOME=$CACHE ;;
        restic) export RESTIC_REPOSITORY=$REPO RESTIC_PASSWORD_FILE=$PWFILE RESTIC_CACHE_DIR=$CACHE ;;
        borg)
            BORG_PASSPHRASE=$(<"$PWFILE")
            export BORG_PASSPHRASE BORG_BASE_DIR=$CACHE BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
            ;;
    esac
}

fail() { # phase message
    printf '%s\t%s\t%s\t%s\n' "$TOOL" "$REP" "$1" "$2" >>"$FAILS"
    echo "!! $TOOL rep $REP $1: $2" >&2
}

# timed PHASE: run the tool command for PHASE under /usr/bin/time, record a raw.tsv line.
timed() {
    local phase=$1 cwd=$WORK rc=0 TIME_WALL TIME_USER TIME_SYS TIME_RSS
    local tf=$LOGS/$TOOL.r$REP.$phase.time log=$LOGS/$TOOL.r$REP.$phase.log
    cmd_for "$phase"
    [[ $phase == restore ]] && cwd=$RESTORE
    sync
    (cd "$cwd" && time_command "$tf" "${CMD[@]}") >"$log" 2>&1 </dev/null || rc=$?
    if ((rc != 0)); then
        if [[ $TOOL == borg && $rc == 1 ]]; then
            note "borg $phase finished with warnings (rc 1), see $log"
        else
            fail "$phase" "exit code $rc: ${CMD[*]} (log: $log)"
            show_tail 15 "$log"
            return 1
        fi
    fi
    read_times "$tf"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$TOOL" "$REP" "$phase" "$TIME_WALL" "$TIME_USER" "$TIME_SYS" "$TIME_RSS" >>"$RAW"
    awk -v t="$TOOL" -v r="$REP" -v p="$phase" -v w="$TIME_WALL" -v u="$TIME_USER" -v s="$TIME_SYS" -v m="$TIME_RSS" \
        'BEGIN { printf "  %-9s r%-2s %-17s wall %8.2fs  cpu %8.2fs  peak RSS %8.1f MiB\n", t, r, p, w, u + s, m / 1024 }'
}

verify_restore() {
    local got="" cand
    for cand in "$RESTORE/${TREE#/}" "$RESTORE/$(basename "$TREE")" "$RESTORE"; do
        if [[ -d $cand/site && -d $cand/big ]]; then got=$cand; break; fi
    done
    if [[ -z $got ]]; then
        fail restore "restored tree not found under $RESTORE"
        return 1
    fi
    local vlog=$LOGS/$TOOL.r$REP.verify.log
    if ! diff -r --no-dereference -q "$TREE" "$got" >"$vlog" 2>&1; then
        fail restore "restored data differs from the source (see $vlog)"
        head -n 10 "$vlog" | sed 's/^/   | /' >&2
        return 1
    fi
    # File modes, sizes and mtimes; directory modes.
    local listing='find . \( -type d -printf "%y %P %m\n" \) -o -printf "%y %P %m %s %T@\n" | LC_ALL=C sort'
    if ! diff <(cd "$TREE" && eval "$listing") <(cd "$got" && eval "$listing") >"$vlog" 2>&1; then
        fail restore "restored metadata (mode/size/mtime) differs from the source (see $vlog)"
        head -n 10 "$vlog" | sed 's/^/   | /' >&2
        return 1
    fi
    printf '  %-9s r%-2s %-17s restored tree identical to the source (data, modes, sizes, mtimes)\n' "$TOOL" "$REP" verify
}

# Two effects of this kind of machine skew timings, whichever tool runs:
# - on ext4 without a journal the inode allocator skips every inode freed in the last 60 s (360 s
#   when its table block is dirty), scanning them in the kernel, so creating 20,000 files right after
#   deleting 40,000 costs seconds of system time;
# - page cache growing into memory the VM never touched is slow (each new page faults in the host),
#   so old trees must really be deleted, not kept aside.
# So old trees are deleted at the start of a repetition, followed by a sync and a pause of
# SETTLE seconds (default 65) before the untimed copy of the dataset.
discard() {
    rm -rf "$@"
}

run_rep() {
    REPO=$WORK/repos/$PROFILE-$TOOL
    CACHE=$WORK/cache/$PROFILE-$TOOL
    discard "$TREE" "$REPO" "$CACHE" "$RESTORE"
    sync
    sleep "$SETTLE"
    mkdir -p "$CACHE"
    cp -a --reflink=auto "$DATA" "$TREE"
    setup_env

    timed init
    timed backup-first
    printf '%s\t%s\trepo-size\t%s\n' "$TOOL" "$REP" "$(du -sb "$REPO" | cut -f1)" >>"$RAW"
    timed open
    timed backup-unchanged
    python3 "$GEN" churn --quiet "$TREE"
    timed backup-churn
    mkdir "$RESTORE"
    timed restore
    if ((VERIFY)); then verify_restore; fi
    timed check-read-data
    discard "$TREE" "$REPO" "$CACHE" "$RESTORE"
}

# ---------------------------------------------------------------- main loop
# Each repetition runs every tool on every profile (so both profiles see the same machine load).
n=${#ACTIVE[@]}
for ((REP = 1; REP <= REPEAT; REP++)); do
    for p in "${PROFILES[@]}"; do
        use_profile "$p"
        for ((k = 0; k < n; k++)); do
            TOOL=${ACTIVE[$(((k + REP - 1) % n))]} # rotate the order between repetitions
            [[ -z ${FAILED[$PROFILE:$TOOL]:-} ]] || continue
            echo "== repetition $REP/$REPEAT: $PROFILE: $TOOL"
            set +e
            (
                set -euo pipefail
                run_rep
            )
            rc=$?
            set -e
            if ((rc != 0)); then
                FAILED[$PROFILE:$TOOL]=1
                note "$TOOL failed on $PROFILE in repetition $REP; not running it again on $PROFILE" \
                    "(repo kept in $WORK/repos/$PROFILE-$TOOL, logs in $LOGS)"
            fi
        done
    done
done
rm -rf "$TREE" "$RESTORE"

status=0
for p in "${PROFILES[@]}"; do
    use_profile "$p"
    printf 'loadavg_end\t%s\nfinished\t%s\n' "$(loadavg)" "$(utc_now)" >>"$META"
    python3 "$REPORT" "$OUT" || status=1
done
exit "$status"
