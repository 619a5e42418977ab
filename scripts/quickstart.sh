#!/usr/bin/env bash
# Sets everything up, builds hspsam (release) and runs the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release --product hspsam
.build/release/hspsam inspect vendor/weights/lite_medsam.pth
