#!/usr/bin/env bash
# Runs an hspsam benchmark and, where a Python with torch is available, the PyTorch reference on the same
# machine in the same run, then prints both with the ratio (PyTorch time / hspsam time: > 1 means we are faster).
#   scripts/bench.sh foundation [--runs N] [--threads N]
# HSPSAM_REFERENCE_PYTHON names the Python to use (default: python3).
set -euo pipefail
cd "$(dirname "$0")/.."
suite=${1:-foundation}; shift || true
python=${HSPSAM_REFERENCE_PYTHON:-python3}
swift build -c release --product hspsam >/dev/null
ours=$(mktemp); theirs=$(mktemp); trap 'rm -f "$ours" "$theirs"' EXIT
.build/release/hspsam bench "$suite" --json "$@" > "$ours"
if "$python" -c 'import torch' 2>/dev/null; then
  "$python" "scripts/bench/${suite}_reference.py" "$@" > "$theirs"
else
  echo "note: $python has no torch; showing hspsam alone (set HSPSAM_REFERENCE_PYTHON)" >&2
fi
python3 - "$ours" "$theirs" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
ours = [r for r in rows if "seconds" in r]
extra = [r for r in rows if "value" in r]
refrows = [json.loads(l) for l in open(sys.argv[2]) if l.strip().startswith("{")]
ref = {r["name"]: r for r in refrows}
print(f"{'workload':32} {'hspsam ms':>10} {'GFLOP/s':>8} {'torch ms':>10} {'GFLOP/s':>8} {'ratio':>6}")
print("(ratio = torch time / hspsam time: above 1 means hspsam is faster)")
for r in ours:
    t = ref.get(r["name"])
    line = f"{r['name']:32} {r['seconds']*1e3:10.2f} {r['gflops']:8.1f}"
    if t:
        line += f" {t['seconds']*1e3:10.2f} {t['gflops']:8.1f} {t['seconds']/r['seconds']:6.2f}"
    print(line)
for r in extra:
    t = ref.get(r["name"])
    print(f"{r['name']:32} {r['value']:10.0f}" + (f" {'':8} {t['value']:10.0f}" if t else ""))
sgemm = [r["gflops"] for r in ours if r["name"].startswith("sgemm")]
if sgemm:
    print(f"measured sgemm peak (best sgemm row, hspsam): {max(sgemm):.1f} GFLOP/s")
PY
