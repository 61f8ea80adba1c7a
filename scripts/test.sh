#!/usr/bin/env bash
# Installs what the tests need and runs every test (library and executable suites).
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --tests || exit 1
swift build --build-tests 2>&1 | grep -Ev '^\[[0-9]+/[0-9]+\]|^(Compiling|Building|Write|Emitting)' | tail -n 30
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "build failed" >&2; exit 1; }
# Per-test "started"/"passed" lines are hidden; failures, suite totals and the final summary are shown.
swift test --skip-build 2>&1 | grep -Ev "^Test Case '.*' (started|passed)"
exit "${PIPESTATUS[0]}"
