#!/usr/bin/env bash
# How fast the web console answers with many sites and a long history: 20 sites with 1,000 runs
# each (and ~16 status messages per run) in their status stores, served by `sitevault service
# --listen`; each page is fetched with curl N times and the median and worst times are printed.
# The bar: every page under 50 ms. The service's CPU time per request is printed too: on a busy
# machine it says more than the wall-clock times.
# Usage: bench/console-bench.sh [SITEVAULT_BINARY] (default .build/release/sitevault, else debug)
set -euo pipefail
cd "$(dirname "$0")/.."
SV=${1:-.build/release/sitevault}
[ -x "$SV" ] || SV=.build/debug/sitevault
SV=$(cd "$(dirname "$SV")" && pwd)/$(basename "$SV")
SITES=${SITES:-20} RUNS=${RUNS:-1000} N=${N:-30}
D=$(mktemp -d /tmp/sitevault-console-bench-XXXXXX)
trap 'kill "$SERVICE" 2>/dev/null; wait "$SERVICE" 2>/dev/null; [ -s "$D/site/run/sampleapp.pid" ] && kill "$(cat "$D/site/run/sampleapp.pid")" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$D"' EXIT
SERVICE=0
export SITEVAULT_INSECURE_TEST_KDF=1
echo "== one real run of the sample site (its report and messages are the model for the history)"
examples/sample-site/make-site.sh "$D/site" "$SV" 20 > /dev/null
"$SV" site backup --site "$D/site/site.toml" --quiet
kill "$(cat "$D/site/run/sampleapp.pid")"
echo "== $SITES sites x $RUNS runs in their status stores"
python3 - "$D/site" "$SITES" "$RUNS" <<'PY'
import json, os, sqlite3, sys, time
site, n_sites, n_runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
src = sqlite3.connect(site + "/state/status.db")
report = json.loads(src.execute("SELECT report FROM runs").fetchone()[0])
run_id = report["runID"]
msgs = src.execute("SELECT id, severity, component, text, time FROM messages WHERE run_id = ?", (run_id,)).fetchall()
t0 = msgs[0][4]
control = open(site + "/site.toml").read()
now = time.time_ns()
for s in range(n_sites):
    name = f"site{s:02d}"
    open(f"{site}/{name}.toml", "w").write(control.replace('site = "sample"', f'site = "{name}"')
                                          .replace('state_dir = "state"', f'state_dir = "state-{name}"'))
    os.makedirs(f"{site}/state-{name}", mode=0o700, exist_ok=True)
    db = sqlite3.connect(f"{site}/state-{name}/status.db")
    db.executescript("""
        PRAGMA journal_mode=WAL;
        CREATE TABLE IF NOT EXISTS runs(run_id TEXT PRIMARY KEY, site TEXT NOT NULL, started INTEGER NOT NULL,
            finished INTEGER, result TEXT NOT NULL, snapshot TEXT, report TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS messages(seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL,
            time INTEGER NOT NULL, id INTEGER NOT NULL, severity TEXT NOT NULL, site TEXT NOT NULL,
            component TEXT, text TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS messages_time ON messages(time);
        CREATE TABLE IF NOT EXISTS drills(run_id TEXT PRIMARY KEY, time INTEGER NOT NULL, result TEXT NOT NULL, report TEXT NOT NULL);
    """)
    for i in range(n_runs):
        started = now - (n_runs - i) * 3600 * 10**9   # hourly, the newest an hour ago
        r = dict(report, site=name, runID=f"{name}-{i:05d}", started=started, finished=started + 2 * 10**9,
                 snapshotTime=started + 10**9, result="failed" if i % 97 == 5 else "succeeded",
                 durationSeconds=report["durationSeconds"] * (1 + (i % 7) / 10))
        db.execute("INSERT INTO runs VALUES(?,?,?,?,?,?,?)", (r["runID"], name, started, r["finished"], r["result"],
                   r.get("snapshot"), json.dumps(r, sort_keys=True)))
        db.executemany("INSERT INTO messages(run_id, time, id, severity, site, component, text) VALUES(?,?,?,?,?,?,?)",
                       [(r["runID"], started + (m[4] - t0), m[0], m[1], name, m[2], m[3]) for m in msgs])
    db.commit()
    os.chmod(f"{site}/state-{name}/status.db", 0o600)
PY
printf 'bench-password-1' | "$SV" console passwd --user admin --console-dir "$D/console" > /dev/null
args=(); for f in "$D"/site/site[0-9]*.toml; do args+=(--site "$f"); done
"$SV" service "${args[@]}" --listen 127.0.0.1:0 --console-dir "$D/console" --quiet 2> "$D/service.log" &
SERVICE=$!
for _ in $(seq 200); do URL=$(grep -o 'console listening on http://[^ ]*' "$D/service.log" | sed 's/.* //') || true; [ -n "$URL" ] && break; sleep 0.1; done
[ -n "$URL" ] || { cat "$D/service.log"; exit 1; }
token=$(curl -s -c "$D/jar" "${URL}login" | grep -o 'name="login_token" value="[^"]*"' | sed 's/.*value="//;s/"$//')
curl -s -b "$D/jar" -c "$D/jar" -o /dev/null -d "login_token=$token&user=admin&password=bench-password-1" "${URL}login"
echo "== $N requests per page ($SV)"
cpu() { awk '{ print $14 + $15 }' "/proc/$SERVICE/stat"; }   # utime + stime, in clock ticks
HZ=$(getconf CLK_TCK)
printf '%-34s %10s %10s %12s %8s\n' page "median ms" "worst ms" "CPU ms/req" "bytes"
for page in "" "sites/site07" "sites/site07?severity=error" "sites/site07/runs/site07-00999" "metrics"; do
  times=()
  c0=$(cpu)
  for _ in $(seq "$N"); do times+=("$(curl -s -b "$D/jar" -o "$D/page" -w '%{time_total}' "$URL$page")"); done
  c1=$(cpu)
  printf '%s\n' "${times[@]}" | sort -n | awk -v p="/$page" -v b="$(wc -c < "$D/page")" -v c="$(( (c1 - c0) * 1000 / HZ ))" -v n="$N" \
    '{ t[NR] = $1 * 1000 } END { printf "%-34s %10.1f %10.1f %12.1f %8d\n", p, t[int((NR + 1) / 2)], t[NR], c / n, b }'
done
