#!/usr/bin/env bash
# The PraNet polyp protocol: train hsp on Kvasir-SEG train.txt (900) + CVC-ClinicDB train.txt (550) together, each
# minus its own seeded 10 % validation split, then report the Kvasir-SEG and CVC-ClinicDB test rows next to the
# published PraNet and Polyp-PVT numbers (docs/model.md 7, PraNet-toolbox mDice/mIoU).
#
#   bash scripts/pranet.sh [--epochs N] [--config FILE|JSON]... [--init CHECKPOINT] [--out DIR] [--device cuda]
#                          [--tta | --tta-dihedral] [--box-refine]
#
# The default schedule is the configuration's (60 epochs): about 1,300 training images per epoch at ~0.7 images/s
# on a 2-core CPU is ~30 minutes per epoch plus a one-off ~25-minute prefix cache, so on such a machine pass
# --epochs (e.g. 3), and --config '{"cachedVariants": 2}' halves the one-off cache (2 cached augmented copies per
# image instead of 4, as configs/clinicdb-cpu.json; 1 caches only the image itself, i.e. no augmentation).
# --config goes to `hspsam train` (later ones override earlier ones; --epochs wins). On a machine with an NVIDIA
# GPU, `--device cuda` runs the same command (the full schedule by default) there; set-up then also installs
# libtorch's CUDA backend (HSPSAM_CUDA=1). --init starts from a trained checkpoint (e.g. the shipped ClinicDB
# model, whose training images are inside this protocol's: with the same --seed its validation images are this
# run's ClinicDB validation images); the test rows then say so. --tta, --tta-dihedral and --box-refine go to the test
# evaluation (the method column names them; rows and report in their own files), so once the run has finished the
# same command with one of them only evaluates. Environment: HSPSAM_DATA (default ../shared/data), SEED (default 1234).
set -euo pipefail
cd "$(dirname "$0")/.."
epochs="" out=runs/pranet device=cpu init="" train_args=() test_args=() test_label=""
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs=$2; shift 2 ;;
    --config) train_args+=(--config "$2"); shift 2 ;;
    --init) init=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --tta) test_args+=(--tta); test_label+=", flip TTA"; shift ;;
    --tta-dihedral) test_args+=(--tta-dihedral); test_label+=", dihedral TTA"; shift ;;
    --box-refine) test_args+=(--box-refine); test_label+=", box refine"; shift ;;
    *) echo "pranet.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
data=${HSPSAM_DATA:-../shared/data}
seed=${SEED:-1234}
for f in "$data/Kvasir-SEG/train.txt" "$data/CVC-ClinicDB/train.txt"; do
  [ -f "$f" ] || { echo "pranet.sh: $f is missing (set HSPSAM_DATA)" >&2; exit 1; }
done
if [ "$device" = cpu ]; then bash scripts/setup.sh; else HSPSAM_CUDA=1 bash scripts/setup.sh; fi
swift build -c release --product hspsam
bin=.build/release/hspsam
[ ${#train_args[@]} -gt 0 ] || train_args=(--config '{}')
[ -n "$epochs" ] && train_args+=(--epochs "$epochs")
start=()  # --resume an interrupted run, else --init when given
if [ -f "$out/last.safetensors" ]; then start=(--resume); elif [ -n "$init" ]; then start=(--init "$init"); fi
[ -f "$out/.finished" ] || {
  "$bin" train "${train_args[@]}" --data "Kvasir-SEG=$data/Kvasir-SEG" --data "CVC-ClinicDB=$data/CVC-ClinicDB" \
    --split train.txt --seed "$seed" --out "$out" --device "$device" "${start[@]}"
  touch "$out/.finished"
}
suffix=$(printf '%s' "${test_args[*]}" | tr -d -- '-' | tr ' ' '+')  # e.g. "ttadihedral+boxrefine"
"$bin" evaluate --checkpoint "$out" --data "Kvasir-SEG=$data/Kvasir-SEG" --data "CVC-ClinicDB=$data/CVC-ClinicDB" \
  --split test.txt --device "$device" --format markdown "${test_args[@]}" \
  --method "hsp (PraNet protocol${epochs:+, $epochs epochs}${init:+, from $(basename "$init")}$test_label)" \
  --report "$out/report${suffix:+-$suffix}" | tee "$out/rows${suffix:+-$suffix}.md"
cat <<'TABLE'
| published (PraNet toolbox) | Kvasir-SEG mDice / mIoU | CVC-ClinicDB mDice / mIoU |
|---|---|---|
| PraNet (MICCAI 2020) | 0.898 / 0.840 | 0.899 / 0.849 |
| Polyp-PVT (CAAI AIR 2023) | 0.917 / 0.864 | 0.937 / 0.889 |
TABLE
