#!/usr/bin/env bash
# The fuzz tests for longer: each target (pickle reader, safetensors parser, configuration merger, dataset naming
# rules) runs SECONDS (default 300) instead of CI's few, optionally under the address sanitizer (its own build
# folder, .build-asan). A crash or hang leaves the input under way in fuzz-crash-<target>.bin; replay a run with
# HSPSAM_FUZZ_SEED=<the seed it printed>.
#   bash scripts/fuzz.sh [--seconds N] [--asan]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=300 asan=()
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    # LeakSanitizer is off: a pickle whose list holds itself makes a reference cycle, which ARC never frees (a few
    # bytes per such input, bounded by its size); real checkpoints have none.
    --asan) asan=(--sanitize address --scratch-path .build-asan); export ASAN_OPTIONS=detect_leaks=0; shift ;;
    *) echo "usage: scripts/fuzz.sh [--seconds N] [--asan]" >&2; exit 2 ;;
  esac
done
bash scripts/setup.sh >/dev/null
HSPSAM_FUZZ_SECONDS=$seconds swift test "${asan[@]}" --disable-swift-testing \
  --filter 'ParserFuzzTests|ConfigFuzzTests|NamingFuzzTests' 2>&1 | grep -E '^fuzz |Executed|error|Fatal'
