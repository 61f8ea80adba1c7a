#!/usr/bin/env bash
# The main job on the embedded default: builds sitevault, creates a local repository, backs up a
# sample tree (config, data folder, a live SQLite database file), lists, changes the tree, backs up
# again, restores, compares and checks every byte. Everything lives under ${DEMO_DIR:-/tmp/sitevault-demo}.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --tests
swift build -c release --product sitevault 2>&1 | tail -n 3
SV="$PWD/.build/release/sitevault"
D="${DEMO_DIR:-/tmp/sitevault-demo}"
rm -rf "$D"; mkdir -p "$D"; chmod 700 "$D"
export SITEVAULT_REPOSITORY="$D/repository"
export SITEVAULT_PASSWORD_FILE="$D/password"
head -c 24 /dev/urandom | base64 > "$SITEVAULT_PASSWORD_FILE"; chmod 600 "$SITEVAULT_PASSWORD_FILE"

# A sample site: configuration, a data folder with uploads, install media and a SQLite database.
S="$D/sample-site"
mkdir -p "$S/etc" "$S/data/uploads/2026" "$S/media" "$S/db"
printf '[server]\nport = 8080\nname = "démo"\n' > "$S/etc/app.toml"
for i in $(seq 1 200); do printf 'note %s: %s\n' "$i" "$(date -u +%s%N | sha256sum)" > "$S/data/uploads/2026/note-$i.txt"; done
head -c 5000000 /dev/urandom > "$S/data/uploads/2026/photo.raw"
seq 1 200000 > "$S/media/app-1.4.2.tar"
ln -s app-1.4.2.tar "$S/media/current"
sqlite3 "$S/db/site.db" "create table t(id integer primary key, v text); insert into t(v) select hex(randomblob(64)) from generate_series(1,5000);" 2>/dev/null \
  || sqlite3 "$S/db/site.db" "create table t(id integer primary key, v text); with recursive c(x) as (select 1 union all select x+1 from c where x<5000) insert into t(v) select hex(randomblob(64)) from c;"

echo "== init";                 "$SV" init
echo "== first backup";         "$SV" backup "$S" --tag demo
echo "a change" >> "$S/etc/app.toml"
echo "== second backup";        "$SV" backup "$S" --tag demo
echo "== snapshots";            "$SV" snapshots
echo "== what changed";         "$SV" diff "$("$SV" snapshots --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')" latest
echo "== restore";              "$SV" restore latest --target "$D/restored"
diff -r "$S" "$D/restored$S" && echo "restored tree is identical to the sample site"
echo "== check --read-data";    "$SV" check --read-data
echo "== stats";                "$SV" stats
