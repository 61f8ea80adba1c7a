#!/usr/bin/env bash
# End-to-end recovery of a real third-party application installed from Debian's packages:
#
#   scripts/realapp/run.sh mediawiki [--variant sqlite|postgres|postgres-physical] [--new-keys[=start,probe,consistency,drill]]
#   scripts/realapp/run.sh dokuwiki  [--new-keys[=…]]
#                                    [--disaster destroy|damage|machine] [--items N] [--keep] [--dir DIR]
#
# install → setup (instance under DIR, web server as www-data, control file) → write N items through
# HTTP (ledger with hashes) → `sitevault site backup` while a background loop keeps writing through
# HTTP → stop writing → `sitevault site drill` → destroy everything the application owns (or, with
# --disaster damage, leave it running and delete half the uploads, change its configuration and
# corrupt its database; with --disaster machine, also delete the control file and sitevault's state
# and recover from the repository alone: `site recover --repo R --site-from-snapshot --target /`) →
# `sitevault site recover --site DIR/site.toml` (one command, nothing by hand) → the application
# answers HTTP 200 → every item of the ledger read back through HTTP, byte for byte, and every file's
# owner/group/mode as before → one edit and one upload still work. Prints a summary; exit 0 only when
# every check passed. The whole log is DIR/harness/run.log (kept, with DIR, on failure or --keep).
#
# Environment: SITEVAULT (the binary; default /tmp/sv-bin/sitevault, else sitevault in PATH),
# REALAPP_NEW_KEYS=1 (same as --new-keys: writer `start`, [recovery] probe, consistency = "site", [drill] start/probe; or a
# comma-separated subset, e.g. REALAPP_NEW_KEYS=start,probe),
# REALAPP_REAL_KDF=1 (do not set SITEVAULT_INSECURE_TEST_KDF), REALAPP_SV_TIMEOUT (seconds a sitevault
# command may take before it gets SIGTERM; default 420).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
app=${1:?usage: run.sh APP [--variant V] [--new-keys] [--items N] [--keep] [--dir DIR]}; shift
variant=""; disaster=destroy; new_keys=${REALAPP_NEW_KEYS:-}; items=30; keep=0; dir=""
[ "$new_keys" = 1 ] && new_keys=all; [ "$new_keys" = 0 ] && new_keys=""
while [ $# -gt 0 ]; do
  case "$1" in
    --variant) variant=$2; shift 2 ;;
    --new-keys) new_keys=all; shift ;;
    --new-keys=*) new_keys=${1#--new-keys=}; shift ;;
    --items) items=$2; shift 2 ;;
    --disaster) disaster=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --dir) dir=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 64 ;;
  esac
done
case "$app" in
  mediawiki)
    harness="$here/mediawiki_site.py"
    variant=${variant:-sqlite}
    case "$variant" in
      sqlite) setup_args=(--db sqlite) ;;
      postgres) setup_args=(--db postgres --pg-method logical) ;;
      postgres-physical) setup_args=(--db postgres --pg-method physical) ;;
      *) echo "unknown variant $variant (sqlite, postgres, postgres-physical)" >&2; exit 64 ;;
    esac ;;
  dokuwiki)
    harness="$here/dokuwiki_site.py"
    variant=${variant:-files}
    [ "$variant" = files ] || { echo "unknown variant $variant (files)" >&2; exit 64; }
    setup_args=() ;;
  *) echo "unknown application $app (mediawiki, dokuwiki)" >&2; exit 64 ;;
esac
if [ "$new_keys" = all ]; then setup_args+=(--new-keys); elif [ -n "$new_keys" ]; then setup_args+=(--new-keys "$new_keys"); fi
[ "$(id -u)" = 0 ] || { echo "run.sh needs root (packages, www-data and postgres users)" >&2; exit 1; }

if [ -z "${SITEVAULT:-}" ]; then
  if [ -x /tmp/sv-bin/sitevault ]; then SITEVAULT=/tmp/sv-bin/sitevault; else SITEVAULT=$(command -v sitevault || true); fi
fi
[ -x "$SITEVAULT" ] || { echo "sitevault binary not found (set SITEVAULT)" >&2; exit 1; }
export SITEVAULT
[ "${REALAPP_REAL_KDF:-0}" = 1 ] || export SITEVAULT_INSECURE_TEST_KDF=1
unset SITEVAULT_SITE SITEVAULT_REPOSITORY SITEVAULT_PASSWORD_FILE

if [ -z "$dir" ]; then dir=$(mktemp -d "/tmp/realapp-$app-$variant.XXXXXX"); fi
mkdir -p "$dir/harness"; chmod 755 "$dir"
dir=$(cd "$dir" && pwd)
# The applications run as www-data (and postgres): every folder above DIR must let them through.
runuser -u www-data -- test -x "$dir" || { echo "www-data cannot reach $dir (a parent folder is private): choose another --dir" >&2; exit 1; }
H="$dir/harness"
logf="$H/run.log"; : > "$logf"
site="$dir/site.toml"
py() { python3 "$harness" "$@"; }
say() { echo "[run.sh $(date -u +%H:%M:%S)] $*" | tee -a "$logf"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

declare -a checks=()
failed=0
check() { # check NAME ok|FAIL DETAIL
  checks+=("$(printf '%-4s %-28s %s' "$2" "$1" "$3")")
  [ "$2" = ok ] || failed=1
  say "check $1: $2 $3"
}
writer_pid=""
cleanup() {
  [ -n "$writer_pid" ] && { touch "$H/stop-writing"; kill "$writer_pid" 2>/dev/null; wait "$writer_pid" 2>/dev/null; }
  if [ "$keep" = 1 ] || [ "$failed" = 1 ]; then
    py teardown "$dir" --keep >>"$logf" 2>&1
    say "instance kept in $dir (processes stopped); log $logf"
  else
    py teardown "$dir" >>"$logf" 2>&1
  fi
}
trap cleanup EXIT
sv_timeout=${REALAPP_SV_TIMEOUT:-420}
sv() { # sv site CMD ARGS… : runs sitevault; stdout in $H/site-CMD.out, stderr in .err, status $rc, seconds $took
  # A sitevault command that hangs gets SIGTERM after REALAPP_SV_TIMEOUT seconds (exit 124).
  local t0; t0=$(now)
  timeout -s TERM -k 30 "$sv_timeout" "$SITEVAULT" "$@" >"$H/$1-$2.out" 2>"$H/$1-$2.err"; rc=$?
  [ "$rc" = 124 ] && echo "sitevault $1 $2 did not end within ${sv_timeout}s: ended by SIGTERM (REALAPP_SV_TIMEOUT)" >>"$H/$1-$2.err"
  took=$(secs "$t0" "$(now)")
  { echo "--- sitevault $* (exit $rc, ${took}s)"; cat "$H/$1-$2.err" "$H/$1-$2.out"; } >>"$logf"
}
both() { cat "$H/$1.err" "$H/$1.out" 2>/dev/null; }

say "application $app, variant $variant, disaster $disaster, new keys ${new_keys:-none}, binary $SITEVAULT ($("$SITEVAULT" --version 2>/dev/null | head -n 1)), folder $dir"
t_start=$(now)
py install >>"$logf" 2>&1 || { check install FAIL "apt-get install failed (see $logf)"; exit 1; }
py setup "$dir" ${setup_args[@]+"${setup_args[@]}"} >>"$logf" 2>&1 || { check setup FAIL "see $logf"; tail -n 30 "$logf"; exit 1; }
version=$(dpkg-query -W -f='${Version}' "$app" 2>/dev/null)
say "set up $app $version: $(py status "$dir" 2>&1)"
"$SITEVAULT" validate --site "$site" >>"$logf" 2>&1 || { check validate FAIL "control file refused"; cat "$site" >>"$logf"; tail -n 20 "$logf"; exit 1; }

py write "$dir" "$items" "$H/before.json" >>"$logf" 2>&1 || { check write FAIL "writing through HTTP failed"; tail -n 20 "$logf"; exit 1; }
say "wrote $(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(len(d['items']), 'items,', sum(e.get('size',0) for e in d['items']), 'bytes of uploads')" "$H/before.json") before the backup"

# Backup while the application keeps writing through HTTP.
rm -f "$H/stop-writing"
py write-loop "$dir" "$H/during.json" --stop-file "$H/stop-writing" >>"$H/write-loop.log" 2>&1 &
writer_pid=$!
sleep 2
sv site backup --site "$site"; backup_rc=$rc; backup_s=$took
sleep 1
touch "$H/stop-writing"; wait "$writer_pid"; writer_pid=""
cat "$H/write-loop.log" >>"$logf"
during=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['items']))" "$H/during.json" 2>/dev/null || echo 0)
if [ "$backup_rc" = 0 ]; then check backup ok "exit 0 in ${backup_s}s while $during items were written through HTTP"
else
  check backup FAIL "exit $backup_rc in ${backup_s}s: $(both site-backup | grep -E '^<[0-3]>|did not end' | tail -n 3 | tr '\n' ' ')"
  { echo; echo "=== $app $(dpkg-query -W -f='${Version}' "$app" 2>/dev/null) ($variant, $disaster$([ -n "$new_keys" ] && echo ", new keys: $new_keys")) — FAILED (no snapshot)"
    printf '%s\n' "${checks[@]}"; echo "--- sitevault site backup:"; both site-backup; } | tee -a "$logf"
  exit 1
fi

# Drill before the disaster.
sv site drill --site "$site" --json; drill_rc=$rc; drill_s=$took
drill_rs=$(python3 -c "import json,sys; print(round(json.load(open(sys.argv[1])).get('recoverySeconds', -1), 2))" "$H/site-drill.out" 2>/dev/null || echo "?")
drill_app=$(python3 -c "
import json,sys; d=json.load(open(sys.argv[1])); s={x.get('name'): x.get('result') for x in d.get('steps', []) if not x.get('component')}
print('; the wiki started from the sandbox and its probe passed' if s.get('start') == 'ok' and s.get('probe') == 'ok' else '')" "$H/site-drill.out" 2>/dev/null)
if [ "$drill_rc" = 0 ]; then check drill ok "passed; recovery time ${drill_rs}s (command ${drill_s}s)$drill_app"
else check drill FAIL "exit $drill_rc: $(python3 -c "
import json,sys
d=json.load(open(sys.argv[1]))
print('; '.join(f\"{s.get('component')}/{s.get('name')}: {s.get('detail')}\" for s in d.get('steps',[]) if s.get('result') not in ('ok','passed')) or d)" "$H/site-drill.out" 2>/dev/null || both site-drill | tail -n 3)"; fi

# The disaster, then one command.
case "$disaster" in
  destroy) py destroy "$dir" >>"$logf" 2>&1 || check destroy FAIL "see $logf" ;;
  damage) py damage "$dir" "$H/before.json" >>"$logf" 2>&1 || check damage FAIL "see $logf"
          say "after the damage the wiki (still running) answers: $(py status "$dir" 2>&1)" ;;
  machine) # the machine is gone: the application and sitevault's control file and state folder;
           # what is left is the repository and a copy of its password (kept elsewhere)
          cp "$dir/backup/password" "$H/repository-password"; chmod 600 "$H/repository-password"
          py destroy "$dir" >>"$logf" 2>&1 || check destroy FAIL "see $logf"
          rm -rf "$dir/site.toml" "$dir/state"; say "machine gone: also site.toml and state/ deleted" ;;
  *) echo "unknown disaster $disaster (destroy, damage, machine)" >&2; exit 64 ;;
esac
if [ "$disaster" = machine ]; then
  # Only the repository: the control file kept in the snapshot, paths as on the original machine.
  db_args=(); [ "$variant" = postgres ] || [ "$variant" = postgres-physical ] && db_args=(--database restore)
  sv site recover --repo "$dir/backup/repo" --site-from-snapshot --password-file "$H/repository-password" --target / ${db_args[@]+"${db_args[@]}"}
else
  sv site recover --site "$site"
fi
rec_rc=$rc; rec_s=$took
if [ "$rec_rc" = 0 ]; then check recover ok "exit 0 in ${rec_s}s"
else check recover FAIL "exit $rec_rc in ${rec_s}s: $(both site-recover | grep -E 'error|fail|refus|<[0-3]>' -i | head -n 3 | tr '\n' ' ')"; fi

# The application must be back without any manual step.
# (a few seconds of grace: a start command may return before the server answers)
if status=$(py status "$dir" --wait 5 2>&1); then check running ok "$status after recovery"
else
  check running FAIL "not answering after recovery ($status)"
  # Diagnosis only: start it by hand to learn whether the data came back.
  if py start "$dir" >>"$logf" 2>&1; then say "diagnosis: started by hand: $(py status "$dir" 2>&1)"
  else say "diagnosis: cannot be started by hand either: $(tail -n 5 "$dir/run/server.log" 2>/dev/null | tr '\n' ' ')"; fi
fi

if py verify "$dir" "$H/before.json" >"$H/verify.out" 2>&1; then check verify ok "$(head -n 1 "$H/verify.out" | sed 's/^verify [^:]*: //'); $(grep '^owners' "$H/verify.out")"
else check verify FAIL "$(grep -E '^verify|^owners' "$H/verify.out" | sed 's/^verify [^:]*: //' | tr '\n' ';')"; fi
cat "$H/verify.out" >>"$logf"
if py write-check "$dir" >"$H/write-check.out" 2>&1; then check write-after-recovery ok "$(cat "$H/write-check.out")"
else check write-after-recovery FAIL "$(tail -n 1 "$H/write-check.out")"; fi
cat "$H/write-check.out" >>"$logf"
py verify "$dir" "$H/during.json" --no-owners >"$H/verify-during.out" 2>&1
say "info: items written during the backup present after recovery: $(head -n 1 "$H/verify-during.out" | sed 's/^verify [^:]*: //') (not required); $(grep '^differences' "$H/verify-during.out" || echo 'no differences')"
cat "$H/verify-during.out" >>"$logf"
# With one consistency window across the components (consistency = "site"), an item written during
# the backup is either wholly in the snapshot or wholly absent: never an upload's database row
# without its bytes (or the reverse).
case ",$new_keys," in
  *,all,*|*,consistency,*)
    torn=$(grep -oE 'file row without bytes [0-9]+|file bytes differ [0-9]+|page differs [0-9]+' "$H/verify-during.out" | tr '\n' ' ')
    if [ -z "$torn" ]; then check consistent-snapshot ok "no item written during the backup is half in the snapshot"
    else check consistent-snapshot FAIL "items written during the backup are half in the snapshot: $torn"; fi ;;
esac

if [ -s "$H/excluded-sentinels" ]; then
  kept=0; lost=0
  while read -r f; do if [ -e "$f" ]; then kept=$((kept+1)); else lost=$((lost+1)); fi; done < "$H/excluded-sentinels"
  say "info: files in excluded places present before the recovery: $kept kept, $lost deleted by it ($(tr '\n' ' ' < "$H/excluded-sentinels"))"
fi

total_s=$(secs "$t_start" "$(now)")
ratio=$(awk -v a="$rec_s" -v b="$drill_rs" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }')
{
  echo
  echo "=== $app $version ($variant, $disaster$([ -n "$new_keys" ] && echo ", new keys: $new_keys")) — $([ $failed = 0 ] && echo PASSED || echo FAILED) in ${total_s}s"
  printf '%s\n' "${checks[@]}"
  echo "times: backup ${backup_s}s; drill ${drill_s}s (its recovery time ${drill_rs}s); real recovery ${rec_s}s (= ${ratio}x the drill's)"
} | tee -a "$logf"
if [ "$failed" = 1 ]; then
  echo "--- sitevault site recover (exit $rec_rc):"; both site-recover
  echo "--- verify:"; cat "$H/verify.out" 2>/dev/null | head -n 60
  echo "--- server log (last lines):"; tail -n 15 "$dir/run/server.log" 2>/dev/null
fi
exit "$failed"
