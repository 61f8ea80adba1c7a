#!/usr/bin/env bash
# Installs what the tests need and runs every test (library and executable suites).
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --tests || exit 1
swift build --build-tests 2>&1 | grep -Ev '^\[[0-9]+/[0-9]+\]|^(Compiling|Building|Write|Emitting)' | tail -n 30
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "build failed" >&2; exit 1; }
# A real PostgreSQL 15 server for the database tests: our own cluster, as the unprivileged postgres
# user, on a free local port; stopped whatever happens.
export SITEVAULT_TEST_PG_DIR="${TMPDIR:-/tmp}/sitevault-test-pg-$$"
scripts/pg-cluster.sh start "$SITEVAULT_TEST_PG_DIR" || exit 1
# A real OpenSSH SFTP server (our own sshd on a free loopback port, key-only, user svsftp) for the
# SFTP repository tests: its folder holds the ssh config (`svtest` alias), keys and repos/.
export SITEVAULT_TEST_SFTP_DIR="${TMPDIR:-/tmp}/sitevault-test-sftp-$$"
# Real S3 servers (SeaweedFS and Ceph RGW) on free loopback ports; their endpoints and test keys
# are exported from $S3_DIR/env (SITEVAULT_TEST_S3_*).
S3_DIR="${TMPDIR:-/tmp}/sitevault-test-s3-$$"
trap 'scripts/pg-cluster.sh stop "$SITEVAULT_TEST_PG_DIR"; rm -rf "$SITEVAULT_TEST_PG_DIR";
      scripts/sftp-server.sh stop "$SITEVAULT_TEST_SFTP_DIR"; rm -rf "$SITEVAULT_TEST_SFTP_DIR";
      scripts/s3-servers.sh stop "$S3_DIR"; rm -rf "$S3_DIR"' EXIT
scripts/sftp-server.sh start "$SITEVAULT_TEST_SFTP_DIR" >/dev/null || exit 1
scripts/s3-servers.sh start "$S3_DIR" || exit 1
set -a; . "$S3_DIR/env"; set +a
# Per-test "started"/"passed" lines are hidden; failures, suite totals and the final summary are shown.
log=$(mktemp)
# The console tests must find prometheus and chromium (installed above): a missing one fails them.
export SITEVAULT_TEST_CONSOLE_TOOLS=1
swift test --skip-build 2>&1 | tee "$log" | grep -Ev "^Test Case '.*' (started|passed)"
status=${PIPESTATUS[0]}
# The suites are XCTest; end with one plain summary line of the XCTest totals.
summary=$(grep -E "^[[:space:]]*Executed [0-9]+ tests?, with [0-9]+ failures?" "$log" | tail -n 1)
rm -f "$log"
if [[ $summary =~ Executed\ ([0-9]+)\ tests?,\ with\ ([0-9]+)\ failure ]]; then
  total=${BASH_REMATCH[1]}; failed=${BASH_REMATCH[2]}
  echo "$((total - failed)) passed, $failed failed"
  if [ "$status" -eq 0 ] && [ "$total" -eq 0 ]; then echo "no test ran" >&2; exit 1; fi
else
  echo "no XCTest summary found" >&2
  [ "$status" -eq 0 ] && status=1
fi
# The web console in a real browser (headless Chromium driven by Playwright); screenshots in
# .build/console-artifacts/. Its failure fails the run.
if .build/console-venv/bin/python Tests/browser/console_test.py .build/debug/sitevault > .build/console-artifacts.log 2>&1; then
  tail -n 1 .build/console-artifacts.log
else
  cat .build/console-artifacts.log >&2
  echo "browser test failed" >&2
  status=1
fi
exit "$status"
