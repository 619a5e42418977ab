#!/usr/bin/env bash
# Sets everything up, builds hspsam (release) and runs the main job: the shipped HSP-SAM polyp model
# (models/hsp-clinicdb.safetensors) segments, with no prompt of any kind, the repository's synthetic sample frame
# and, when ../shared/data is present, the 62 CVC-ClinicDB test frames, which it also scores. Output in out/quickstart/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release --product hspsam
bin=.build/release/hspsam
mkdir -p out/quickstart
"$bin" predict samples/images/synthetic_polyp.png --output out/quickstart --overlay --prob
echo "quickstart: open out/quickstart/synthetic_polyp_overlay.png (mask: out/quickstart/synthetic_polyp.png)"
clinic=../shared/data/CVC-ClinicDB
if [ -f "$clinic/test.txt" ]; then
  "$bin" evaluate --data "CVC-ClinicDB test=$clinic" --split test.txt --report out/quickstart/report
  echo "quickstart: open out/quickstart/report/index.html (metrics, Dice histogram, best and worst cases)"
else
  echo "quickstart: $clinic not found; the ClinicDB test evaluation is skipped"
fi
