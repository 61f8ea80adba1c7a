#!/usr/bin/env bash
# A throwaway OpenSSH SFTP server for tests and benchmarks (never the system's sshd): its own config,
# host key and client key in DIR, listening on 127.0.0.1 on a free port, key-only logins for the
# unprivileged user svsftp (created if missing), `Subsystem sftp internal-sftp`.
#   scripts/sftp-server.sh start DIR   prints PORT=… REPO=… SSH_CONFIG=… COMMAND=… LOCATION=…
#   scripts/sftp-server.sh stop DIR
# DIR/ssh_config names the server `svtest` (with its key and known_hosts), so
#   ssh -F DIR/ssh_config svtest -s sftp
# reaches it; DIR/repos (owned by svsftp) is where repositories go.
set -euo pipefail
cmd=${1:?start|stop}; dir=${2:?server folder}
user=svsftp
case "$cmd" in
start)
  # A server already running from DIR is stopped first: one listener per folder.
  [ -f "$dir/sshd.run.pid" ] && "$0" stop "$dir"
  [ -x /usr/sbin/sshd ] || { echo "sftp-server: /usr/sbin/sshd not found (apt-get install openssh-server)" >&2; exit 1; }
  command -v ssh >/dev/null || { echo "sftp-server: ssh not found (apt-get install openssh-client)" >&2; exit 1; }
  if ! id "$user" >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /bin/sh "$user"
  fi
  # A locked account ("!" password) is refused by sshd without PAM; "*" means: no password, keys only.
  usermod -p '*' "$user"
  mkdir -p "$dir" /run/sshd
  dir=$(cd "$dir" && pwd)
  chmod 755 "$dir"
  mkdir -p "$dir/repos"; chown "$user" "$dir/repos"; chmod 700 "$dir/repos"
  runuser -u "$user" -- test -w "$dir/repos" || {
    echo "sftp-server: user $user cannot write $dir/repos (a parent folder is not searchable by others?)" >&2; exit 1; }
  # A small disk (8 MiB tmpfs) for the full-disk tests, when this machine allows mounting one.
  mkdir -p "$dir/small"
  if ! mountpoint -q "$dir/small"; then
    mount -t tmpfs -o size=8m,mode=0700,uid="$(id -u "$user")" sitevault-test-small "$dir/small" 2>/dev/null ||
      echo "sftp-server: note: no small disk at $dir/small (cannot mount a tmpfs here); the full-disk tests will skip" >&2
  fi
  [ -f "$dir/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C sitevault-test-host -f "$dir/host_ed25519"
  [ -f "$dir/client_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C sitevault-test-client -f "$dir/client_ed25519"
  # A second key the server does not know, for the tests of a refused login.
  [ -f "$dir/unknown_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C sitevault-test-unknown -f "$dir/unknown_ed25519"
  cp "$dir/client_ed25519.pub" "$dir/authorized_keys"; chmod 644 "$dir/authorized_keys"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  cat > "$dir/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $port
HostKey $dir/host_ed25519
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
AllowUsers $user
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
StrictModes no
Subsystem sftp internal-sftp
ForceCommand internal-sftp
AllowTcpForwarding no
X11Forwarding no
LogLevel INFO
CONF
  echo "[127.0.0.1]:$port $(cut -d' ' -f1-2 "$dir/host_ed25519.pub")" > "$dir/known_hosts"
  cat > "$dir/ssh_config" <<CONF
Host svtest
  HostName 127.0.0.1
  Port $port
  User $user
  IdentityFile $dir/client_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $dir/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
CONF
  chmod 600 "$dir/ssh_config"
  /usr/sbin/sshd -t -f "$dir/sshd_config"
  setsid /usr/sbin/sshd -D -e -f "$dir/sshd_config" >"$dir/sshd.log" 2>&1 < /dev/null &
  echo $! > "$dir/sshd.run.pid"
  echo "$port" > "$dir/port"
  for _ in $(seq 1 100); do
    if echo "pwd" | sftp -q -F "$dir/ssh_config" -b - svtest >/dev/null 2>&1; then ok=1; break; fi
    kill -0 "$(cat "$dir/sshd.run.pid")" 2>/dev/null || break
    sleep 0.1
  done
  if [ "${ok:-}" != 1 ]; then
    echo "sftp-server: sshd did not accept an SFTP session on 127.0.0.1:$port; its log:" >&2
    tail -n 20 "$dir/sshd.log" >&2
    exit 1
  fi
  echo "PORT=$port"
  echo "REPO=$dir/repos"
  echo "SSH_CONFIG=$dir/ssh_config"
  echo "COMMAND=ssh -F $dir/ssh_config svtest -s sftp"
  echo "LOCATION=sftp:svtest:$dir/repos"
  ;;
stop)
  [ -d "$dir" ] || exit 0
  if mountpoint -q "$dir/small" 2>/dev/null; then umount "$dir/small" || true; fi
  for f in "$dir/sshd.run.pid"; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    # Only the listener started here; it ends its session processes with it.
    if kill -0 "$pid" 2>/dev/null && grep -q sshd "/proc/$pid/cmdline" 2>/dev/null; then
      kill "$pid"
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$f"
  done
  ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
