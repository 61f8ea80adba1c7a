#!/bin/bash
# First-backup speed of a 50 MB pg_dump (pgbench scale 5) and a 43 MB SQLite file, stored with
# file chunks (a config component's captured setting: 512 KiB / 1 MiB / 4 MiB) and with database
# chunks (a command database component: 64 KiB / 128 KiB / 1 MiB), each into a fresh repository.
# Usage: bench/chunk-bench.sh WORKDIR PG_CLUSTER_DIR   (a cluster started by scripts/pg-cluster.sh)
# SITEVAULT may name the binary (default .build/debug/sitevault). Results: CHUNK-RESULTS.md.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
B=${SITEVAULT:-$here/.build/debug/sitevault}
D=$1
PGDIR=$2
mkdir -p "$D" && D=$(cd "$D" && pwd) && cd "$D" || exit 1
if [ ! -s dump.bin ]; then
  P=$(cat $PGDIR/port); PW=$(cat $PGDIR/password)
  export PGPASSWORD=$PW PGHOST=127.0.0.1 PGPORT=$P PGUSER=postgres
  BIN=/usr/lib/postgresql/15/bin
  $BIN/psql -q -c "CREATE DATABASE benchdump" postgres
  $BIN/pgbench -i -q -s 5 benchdump >/dev/null 2>&1
  $BIN/pg_dump -Fc -Z0 -d benchdump > dump.bin
  $BIN/psql -q -c "DROP DATABASE benchdump" postgres
  sqlite3 ledger.db "CREATE TABLE entries (id INTEGER PRIMARY KEY, account INTEGER, amount INTEGER, memo TEXT); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400000) INSERT INTO entries SELECT i, i % 977, i * 3, printf('%-90s', 'entry ' || i) FROM n;"
fi
ls -l dump.bin ledger.db
umask 077
for round in 1 2 3 4; do
  for kind in files database; do
    for src in dump.bin ledger.db; do
      w=$D/run-$kind-$src-$round; rm -rf $w; mkdir -p $w/state
      head -c 24 /dev/urandom | base64 > $w/pw
      SITEVAULT_PASSWORD_FILE=$w/pw $B init --repo $w/repo --quiet
      if [ $kind = files ]; then
        comp="[[component]]
name = \"c\"
kind = \"config\"
settings = { dump = [\"cat\", \"$D/$src\"] }"
      else
        comp="[[component]]
name = \"c\"
kind = \"database\"
engine = \"command\"
dump_command = [\"cat\", \"$D/$src\"]"
      fi
      cat > $w/site.toml <<TOML
site = "bench"
time_zone = "UTC"
state_dir = "state"
[repository]
path = "repo"
password_file = "pw"
$comp
TOML
      /usr/bin/time -f "%e %U %S" -o $w/time $B site backup --json --site $w/site.toml > $w/out.json 2>/dev/null
      python3 -c "
import json,sys
r=json.load(open('$w/out.json')); c=r['components'][0]
t=open('$w/time').read().split()
print('$kind', '$src', '$round', c['result'], 'component %.3f s' % c['durationSeconds'], 'added', c['bytesAdded'], 'process wall %s user %s sys %s' % tuple(t[-3:]))
"
      rm -rf $w
    done
  done
done
