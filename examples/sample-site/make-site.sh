#!/bin/bash
# Creates a sample site in DIR and starts its application in the background:
#   DIR/opt/sampleapp/        install media (the application and its VERSION)
#   DIR/etc/sampleapp.conf    its configuration
#   DIR/srv/data/             its data folder (attachments)
#   DIR/srv/shop.db           its SQLite database (WAL), written continuously
#   DIR/run/sampleapp.pid     its pid file
#   DIR/backup/repo           a sitevault repository (created with `sitevault init`)
#   DIR/site.toml             the control file
# Usage: make-site.sh DIR [SITEVAULT_BINARY] [WRITES_PER_SECOND]
set -euo pipefail
dir=$1
bin=${2:-sitevault}
rate=${3:-50}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"/{opt/sampleapp,etc,srv/data,run,backup,state}
dir=$(cd "$dir" && pwd)
cp "$here/sampleapp.py" "$dir/opt/sampleapp/sampleapp.py"
chmod 755 "$dir/opt/sampleapp/sampleapp.py"
cat > "$dir/etc/sampleapp.conf" <<CONF
# sampleapp configuration
database = $dir/srv/shop.db
data_dir = $dir/srv/data
pid_file = $dir/run/sampleapp.pid
stats_file = $dir/run/stats.json
writes_per_second = $rate
CONF
umask 077
head -c 24 /dev/urandom | base64 > "$dir/backup/password"
export SITEVAULT_PASSWORD_FILE="$dir/backup/password"
"$bin" init --repo "$dir/backup/repo" --quiet
cat > "$dir/site.toml" <<TOML
# sitevault control file for the sample site (see docs/control-file.md)
site = "sample"
time_zone = "UTC"
state_dir = "state"

[repository]
path = "backup/repo"
password_file = "backup/password"

[schedule]
calendar = "daily 02:00"
retention_window = "5d"

[retention]
keep_daily = 7
keep_weekly = 4

[[component]]
name = "database"
kind = "database"
engine = "sqlite"
path = "srv/shop.db"

[[component]]
name = "config"
kind = "config"
paths = ["etc/sampleapp.conf"]
settings = { version = ["$dir/opt/sampleapp/sampleapp.py", "--version"] }

[[component]]
name = "data"
kind = "folders"
paths = ["srv/data"]
exclude = ["*.tmp"]

[[component]]
name = "media"
kind = "install-media"
paths = ["opt/sampleapp"]
version_command = ["$dir/opt/sampleapp/sampleapp.py", "--version"]

# The application is paused (SIGSTOP) only while its data folder is copied; the database needs
# no pause: SQLite's online backup is consistent while the application writes. After a recovery,
# when the application is not running (the disaster took it), start brings it back.
[[writer]]
name = "app"
kind = "signal"
pid_file = "run/sampleapp.pid"
components = ["data"]
start = ["sh", "-c", "mkdir -p '$dir/run' && cd / && setsid python3 '$dir/opt/sampleapp/sampleapp.py' --config '$dir/etc/sampleapp.conf' > '$dir/run/app.log' 2>&1 < /dev/null &"]

# A recovery is good only when the application's own check passes on the recovered site.
[recovery]
probe = ["python3", "$dir/opt/sampleapp/sampleapp.py", "--check", "$dir/etc/sampleapp.conf"]
probe_timeout = "30s"

# A drill starts the recovered application from its sandbox (its configuration rewritten to the
# sandbox's paths, so the copy never writes to production) and runs the same check on it: the
# drill's recovery time then includes the start and the probe, as a real recovery's does.
[drill]
start = ["sh", "-c", 'd="\$SITEVAULT_SANDBOX"; sed "s#$dir#\$d$dir#g" "\$d$dir/etc/sampleapp.conf" > "\$d/drill.conf" && mkdir -p "\$d$dir/run" && exec python3 "\$d$dir/opt/sampleapp/sampleapp.py" --config "\$d/drill.conf"']
probe = ["sh", "-c", 'test -s "\$SITEVAULT_SANDBOX$dir/run/stats.json" && exec python3 "\$SITEVAULT_SANDBOX$dir/opt/sampleapp/sampleapp.py" --check "\$SITEVAULT_SANDBOX/drill.conf"']
probe_timeout = "30s"
TOML
# Start the application and wait for its database.
setsid python3 "$dir/opt/sampleapp/sampleapp.py" --config "$dir/etc/sampleapp.conf" >"$dir/run/app.log" 2>&1 < /dev/null &
for _ in $(seq 100); do [ -s "$dir/run/sampleapp.pid" ] && [ -s "$dir/run/stats.json" ] && break; sleep 0.1; done
echo "sample site ready in $dir (application pid $(cat "$dir/run/sampleapp.pid"))"
