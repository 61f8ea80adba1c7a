#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and benchmarks, run as the unprivileged `postgres` user
# (never the system's own cluster), on a free local port:
#   scripts/pg-cluster.sh start DIR   initdb (first time) and start; prints PORT=… SOCKET=… PASSWORD_FILE=…
#   scripts/pg-cluster.sh stop DIR
# Local socket connections are trusted (for the tests' own admin work); TCP connections to
# 127.0.0.1 need the password in DIR/password (scram-sha-256), like a real server.
set -euo pipefail
cmd=${1:?start|stop}; dir=${2:?cluster folder}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/initdb" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql-15)" >&2; exit 1; }
as_pg() { runuser -u postgres -- "$@"; }
case "$cmd" in
start)
  mkdir -p "$dir"
  chown postgres:postgres "$dir"; chmod 700 "$dir"
  if [ ! -s "$dir/data/PG_VERSION" ]; then
    head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$dir/password"
    chown postgres "$dir/password"; chmod 600 "$dir/password"
    as_pg "$bin/initdb" -D "$dir/data" --auth-local=trust --auth-host=scram-sha-256 -U postgres \
      --pwfile="$dir/password" -E UTF8 --locale=C.UTF-8 >/dev/null
    mkdir -p "$dir/socket"; chown postgres "$dir/socket"
    cat >> "$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir/socket'
fsync = on
wal_level = replica
max_wal_senders = 4
shared_buffers = 128MB
CONF
  fi
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "-p $port" start >/dev/null
  echo "$port" > "$dir/port"
  echo "PORT=$port"
  echo "SOCKET=$dir/socket"
  echo "PASSWORD_FILE=$dir/password"
  echo "BIN=$bin"
  ;;
stop)
  [ -s "$dir/data/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
  ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 64 ;;
esac
