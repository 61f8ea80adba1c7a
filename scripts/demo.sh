#!/usr/bin/env bash
# The main job on the embedded default: builds sitevault, creates the sample site (a small
# application writing continuously to its SQLite database and data folder, its config and its
# install media) with a local repository, backs the whole site up while it runs, twice, and shows
# its status, the snapshot's contents and the status messages; then proves the snapshot: restores
# it, checks the restored database's consistency and every byte of the repository.
# Everything lives under ${DEMO_DIR:-/tmp/sitevault-demo}.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product sitevault 2>&1 | tail -n 3
SV="$PWD/.build/release/sitevault"
D="${DEMO_DIR:-/tmp/sitevault-demo}"
if [ -s "$D/site/run/sampleapp.pid" ]; then kill "$(cat "$D/site/run/sampleapp.pid")" 2>/dev/null || true; sleep 0.5; fi
rm -rf "$D"; mkdir -p "$D"; chmod 700 "$D"
trap '[ -s "$D/site/run/sampleapp.pid" ] && kill "$(cat "$D/site/run/sampleapp.pid")" 2>/dev/null || true' EXIT

echo "== create the sample site and start its application"
examples/sample-site/make-site.sh "$D/site" "$SV" 100
S="$D/site"
echo "== validate the control file";   "$SV" validate --site "$S/site.toml"
sleep 1
echo "== back up the site (the application keeps running)"
"$SV" site backup --site "$S/site.toml" --quiet
sleep 1
echo "== back up again (unchanged files are not read again)"
"$SV" site backup --site "$S/site.toml" --quiet
echo "== site status";                 "$SV" site status --site "$S/site.toml"
echo "== what the latest snapshot holds"; "$SV" site show latest --site "$S/site.toml"
echo "== status messages of the last run"
"$SV" site messages --site "$S/site.toml" --limit 16
echo "== run logs in the destination"; ls -l "$S/backup/repo/logs"

echo "== prove it: restore the snapshot and check the database copy"
export SITEVAULT_REPOSITORY="$S/backup/repo" SITEVAULT_PASSWORD_FILE="$S/backup/password"
"$SV" restore latest --target "$D/restored" --quiet
printf 'database = %s\n' "$D/restored/database/shop.db" > "$D/check.conf"
python3 "$S/opt/sampleapp/sampleapp.py" --check "$D/check.conf"
diff -r "$S/etc" "$D/restored/config/files$S/etc" && echo "configuration restored identically"
echo "== recovery drill: the snapshot restored into a sandbox, checked and timed"
"$SV" site drill --site "$S/site.toml" 2>/dev/null
echo "== recover the site under another folder (production untouched)"
"$SV" site recover --site "$S/site.toml" --target "$D/recovered" --quiet
diff -r "$S/etc" "$D/recovered$S/etc" && echo "site recovered under $D/recovered: configuration identical"
echo "== check --read-data";           "$SV" check --read-data

echo "== the web console: the service with --listen (user admin, password in $D/console-password)"
C="$D/console"
umask 077; printf %s "$(head -c 12 /dev/urandom | base64 | tr -d '/+=')" > "$D/console-password"
"$SV" console passwd --user admin --console-dir "$C" < "$D/console-password"
start_console() {
  "$SV" service --site "$S/site.toml" --listen "127.0.0.1:$1" --console-dir "$C" --quiet 2> "$D/service.log" &
  SERVICE=$!
  for _ in $(seq 100); do
    URL=$(grep -o 'console listening on http://[^ ]*' "$D/service.log" | sed 's/console listening on //') || true
    [ -n "$URL" ] && return 0
    kill -0 "$SERVICE" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
start_console "${DEMO_CONSOLE_PORT:-8080}" || start_console 0 || { cat "$D/service.log" >&2; exit 1; }
trap 'kill "$SERVICE" 2>/dev/null; wait "$SERVICE" 2>/dev/null; [ -s "$D/site/run/sampleapp.pid" ] && kill "$(cat "$D/site/run/sampleapp.pid")" 2>/dev/null || true' EXIT
# Log in as a browser would and check that the dashboard shows the sample site healthy.
token=$(curl -s -c "$D/jar" "${URL}login" | grep -o 'name="login_token" value="[^"]*"' | sed 's/.*value="//;s/"$//')
curl -s -b "$D/jar" -c "$D/jar" -o /dev/null --data-urlencode "login_token=$token" --data-urlencode "user=admin" \
  --data-urlencode "password@$D/console-password" "${URL}login"
curl -s -b "$D/jar" "$URL" | grep -o '<tr id="site-sample" data-state="[^"]*"' | sed 's/.*data-state=/dashboard: site sample is /'
curl -s "${URL}metrics" | grep -E '^sitevault_(last_run_success|snapshots)\{'
rm -f "$D/jar"
echo
echo "The console of the sample site: $URL   (user admin, password in $D/console-password)"
if [ -t 0 ]; then
  echo "The service runs until you press Ctrl-C."
  wait "$SERVICE" || true
else
  L=${URL#http://}
  echo "Run it again with: $SV service --site $S/site.toml --listen ${L%/} --console-dir $C"
fi
