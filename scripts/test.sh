#!/usr/bin/env bash
# The test command: set-up (a no-op when done), then the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The report test renders `hspsam evaluate --report` pages in headless Chromium (Debian's package, ~16 s once).
if ! command -v chromium >/dev/null 2>&1; then
  echo "test.sh: installing chromium for the report-rendering test" >&2
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  { $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends chromium >/dev/null; } \
    || { echo "test.sh: apt-get could not install chromium" >&2; exit 1; }
fi
# XCTest only: no Swift Testing suites exist, and its empty "0 tests" summary would be the last line.
swift test --disable-swift-testing "$@"
