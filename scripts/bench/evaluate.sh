#!/usr/bin/env bash
# `hspsam evaluate` on the 612 CVC-ClinicDB masks next to the reference tool (pysodmetrics 1.6.2) on the same
# files. Predictions are generated from the masks (shifted, blurred, dimmed) into a temporary folder.
# HSPSAM_METRICS_PYTHON: a Python with ../shared/tools/requirements-metrics.txt installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${HSPSAM_METRICS_PYTHON:-python3}
masks=../shared/data/CVC-ClinicDB/masks
[ -d "$masks" ] || { echo "bench evaluate: $masks not found" >&2; exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
"$python" - "$masks" "$work/pred" <<'PY'
import os, sys, cv2, numpy as np
src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst)
for f in os.listdir(src):
    m = cv2.imread(os.path.join(src, f), cv2.IMREAD_GRAYSCALE)
    p = cv2.GaussianBlur(np.roll(m, (5, -7), (0, 1)), (15, 15), 5)
    cv2.imwrite(os.path.join(dst, os.path.splitext(f)[0] + ".png"), (p * 0.9).astype(np.uint8))
PY
swift build -c release --product hspsam >/dev/null
t0=$(date +%s.%N); .build/release/hspsam evaluate --pred "$work/pred" --gt "$masks" --format json > "$work/ours.json"; t1=$(date +%s.%N)
"$python" ../shared/tools/metrics_reference.py --pred "$work/pred" --gt "$masks" --gt-threshold 127 --json > "$work/ref.json"; t2=$(date +%s.%N)
python3 - "$work/ours.json" "$work/ref.json" "$t0" "$t1" "$t2" <<'PY'
import json, sys
ours, ref = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
t0, t1, t2 = map(float, sys.argv[3:6])
diff = max(abs(ours[k] - ref[k]) for k in ref if isinstance(ref[k], float))
print(f"612 CVC-ClinicDB pairs: hspsam evaluate {t1 - t0:.2f} s, metrics_reference.py (pysodmetrics) {t2 - t1:.2f} s, "
      f"speed-up {(t2 - t1) / (t1 - t0):.1f}x; largest metric difference {diff:.1e}")
PY
