#!/usr/bin/env bash
# Sets everything up, builds hspsam (release) and runs the main job: LiteMedSAM segments a polyp from a box on a
# CVC-ClinicDB frame (from ../shared/data when present), writing the mask and an overlay to out/quickstart/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release --product hspsam
.build/release/hspsam inspect vendor/weights/lite_medsam.pth --depth 1
frame=../shared/data/CVC-ClinicDB/images/14.tif
if [ -f "$frame" ]; then
  mkdir -p out/quickstart
  .build/release/hspsam segment --model litemedsam --box 40,149,329,279 \
    --output out/quickstart/14_mask.png --overlay out/quickstart/14_overlay.png "$frame"
  echo "quickstart: open out/quickstart/14_overlay.png"
else
  echo "quickstart: $frame not found; skipping the segmentation example"
fi
