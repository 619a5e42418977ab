#!/usr/bin/env bash
# The test command: set-up (a no-op when done), then the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# XCTest only: no Swift Testing suites exist, and its empty "0 tests" summary would be the last line.
swift test --disable-swift-testing "$@"
