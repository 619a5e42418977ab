#!/usr/bin/env bash
# A ClinicDB-only model for the unseen centre: five fine-tunes of the shipped model on CVC-ClinicDB train.txt
# (minus the seeded 10 % validation split), their uniform weight average (`hspsam average`), and its CVC-ClinicDB
# test and Kvasir-SEG test metrics (never trained on), without TTA, with flips and with all eight rotations and
# reflections (--tta-dihedral). One command reproduces the "Weight averaging of the fine-tunes" item of
# docs/generalisation.md; every step is skipped when its output exists, so an interrupted run continues (a
# fine-tune stopped half-way restarts from its own last.safetensors).
#
#   bash scripts/soup.sh [--out DIR] [--epochs N] [--device cuda]
#
# The five members (the docs/generalisation.md items of the same names; each starts from the model named):
#   ft               shipped model, 6 epochs, lr 2.7e-4, flips and rotations (configs/clinicdb-cpu.json)
#   colour           shipped model, 6 epochs, lr 2.7e-4, 4 cached copies, colour gains / gamma / jitter, zoom 0.8-1.5
#   colour2          colour's best, 4 epochs, lr 2e-4, stronger colour, zoom 0.8-1.8
#   tversky          colour2's best, as colour2 with the Tversky loss (beta 0.7)
#   tversky-shipped  shipped model, as tversky
# On the README's 2-core CPU the five took about 7 hours of training (8 with a fresh machine's prefix caches);
# --epochs N gives every member N epochs (a smoke run).
# Environment: HSPSAM_DATA (default ../shared/data), SEED (default 1234: the validation split of every member).
set -euo pipefail
cd "$(dirname "$0")/.."
out=runs/soup epochs="" device=cpu
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    *) echo "soup.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
data=${HSPSAM_DATA:-../shared/data}
seed=${SEED:-1234}
for f in "$data/CVC-ClinicDB/train.txt" "$data/CVC-ClinicDB/test.txt" "$data/Kvasir-SEG/test.txt"; do
  [ -f "$f" ] || { echo "soup.sh: $f is missing (set HSPSAM_DATA)" >&2; exit 1; }
done
if [ "$device" = cpu ]; then bash scripts/setup.sh; else HSPSAM_CUDA=1 bash scripts/setup.sh; fi
swift build -c release --product hspsam
bin=.build/release/hspsam
mkdir -p "$out"

colour='"channelGain": 0.2, "gamma": 0.4, "colourJitter": 0.2, "scaleRange": [0.8, 1.5]'
colour2='"channelGain": 0.3, "gamma": 0.5, "colourJitter": 0.2, "scaleRange": [0.8, 1.8]'
# member NAME INIT CONFIG: one fine-tune of configs/clinicdb-cpu.json with CONFIG over it, from INIT (with the
# ce-dice loss these experiments used, the default before 2026-12-07).
member() {
  local name=$1 init=$2 config=$3 run="$out/$1" start=()
  [ -f "$run/.finished" ] && return 0
  if [ -f "$run/last.safetensors" ]; then start=(--resume); else start=(--init "$init"); fi
  echo "soup.sh: fine-tune $name (from $init)" >&2
  "$bin" train "${start[@]}" --config configs/clinicdb-cpu.json --config '{"loss": "ce-dice"}' --config "$config" ${epochs:+--epochs "$epochs"} \
    --data "$data/CVC-ClinicDB" --split train.txt --seed "$seed" --out "$run" --device "$device"
  touch "$run/.finished"
}
shipped=models/hsp-clinicdb.safetensors
member ft "$shipped" '{"learningRate": 0.00027}'
member colour "$shipped" "{\"learningRate\": 0.00027, \"cachedVariants\": 4, \"augmentation\": {$colour}}"
member colour2 "$out/colour/best.safetensors" \
  "{\"epochs\": 4, \"learningRate\": 0.0002, \"cachedVariants\": 4, \"augmentation\": {$colour2}}"
member tversky "$out/colour2/best.safetensors" \
  "{\"epochs\": 4, \"learningRate\": 0.0002, \"cachedVariants\": 4, \"loss\": \"ce-dice\", \"tverskyBeta\": 0.7, \"augmentation\": {$colour2}}"
member tversky-shipped "$shipped" \
  "{\"epochs\": 4, \"learningRate\": 0.00027, \"cachedVariants\": 4, \"loss\": \"ce-dice\", \"tverskyBeta\": 0.7, \"augmentation\": {$colour2}}"

soup="$out/soup.safetensors"
[ -f "$soup" ] || "$bin" average --checkpoint "$out/ft" --checkpoint "$out/colour" --checkpoint "$out/colour2" \
  --checkpoint "$out/tversky" --checkpoint "$out/tversky-shipped" --output "$soup"
# Evaluate's own table (every metric, precision and recall included, under its own header), one per setting.
for tta in "" --tta --tta-dihedral; do
  suffix=${tta#--}
  table="$out/test${suffix:+-$suffix}.txt"
  if [ ! -f "$table" ]; then
    "$bin" evaluate --checkpoint "$soup" $tta --data "CVC-ClinicDB test=$data/CVC-ClinicDB" \
      --data "Kvasir-SEG test=$data/Kvasir-SEG" --split test.txt --device "$device" \
      --report "$out/report${suffix:+-$suffix}" > "$table.partial"
    mv "$table.partial" "$table"
  fi
  echo "mean of five fine-tunes${tta:+, $tta}${epochs:+, --epochs $epochs}:"
  cat "$table"
done
