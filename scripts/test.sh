#!/usr/bin/env bash
# The test command: set-up (a no-op when done), then the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift test "$@"
