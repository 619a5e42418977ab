#!/usr/bin/env bash
# Trains and evaluates HSP-SAM and the untrained baselines on CVC-ClinicDB (train.txt minus a seeded 10 %
# validation split; test.txt), evaluates the same models unchanged on Kvasir-SEG (the unseen centre), and writes
# the results table into README.md between the `results:begin` / `results:end` markers, with the hardware, the
# time taken and the seed. Every step is skipped when its output exists, so an interrupted run continues.
#
#   bash scripts/reproduce.sh [--config FILE] [--epochs N] [--hsp-checkpoint FILE] [--ablations] [--ablation-epochs N]
#                             [--kvasir-all] [--ship] [--table-only]
#
# Methods (../shared/notes/hsp-sam.md section 4): hsp (T=4), the trained baselines decoder-only, positional and
# hsp-single (each with the hsp configuration, model section replaced), and the untrained box-oracle and no-prompt.
#
#   --config FILE        hsp training configuration (default: the built-in defaults, 60 epochs; the README's CPU
#                        run used configs/clinicdb-cpu.json: 6 epochs, 2 cached augmentation copies)
#   --epochs N           override the training epochs (hsp and the trained baselines)
#   --hsp-checkpoint F   do not train hsp: evaluate this trained checkpoint (e.g. models/hsp-clinicdb.safetensors,
#                        which an earlier invocation trained and exported) in the hsp rows
#   --ablations          also train T in {1, 2, 4, 8, 16} with a short schedule (--ablation-epochs, default 2)
#   --kvasir-all         also evaluate on all 1,000 Kvasir-SEG images (about 20 minutes per model on 2 cores)
#   --ship               export the hsp run's best checkpoint as float16 to models/hsp-clinicdb.safetensors
#   --table-only         train and evaluate nothing: write the table from the rows already made (a run still
#                        under way, or one interrupted, shows what it has)
# Environment: HSPSAM_DATA (default ../shared/data), HSPSAM_RUNS (default runs/reproduce), SEED (default 1234).
set -euo pipefail
cd "$(dirname "$0")/.."

config_file="" epochs="" hsp_checkpoint="" ablations=0 ablation_epochs=2 kvasir_all=0 ship=0 table_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --config) config_file=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --hsp-checkpoint) hsp_checkpoint=$2; shift 2 ;;
    --ablations) ablations=1; shift ;;
    --ablation-epochs) ablation_epochs=$2; shift 2 ;;
    --kvasir-all) kvasir_all=1; shift ;;
    --ship) ship=1; shift ;;
    --table-only) table_only=1; shift ;;
    *) echo "reproduce.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

data=${HSPSAM_DATA:-../shared/data}
runs=${HSPSAM_RUNS:-runs/reproduce}
seed=${SEED:-1234}
clinic=$data/CVC-ClinicDB
kvasir=$data/Kvasir-SEG
for f in "$clinic/train.txt" "$clinic/test.txt" "$kvasir/test.txt"; do
  [ -f "$f" ] || { echo "reproduce.sh: $f is missing (set HSPSAM_DATA)" >&2; exit 1; }
done

mkdir -p "$runs/rows"
started=$(date +%s)
if [ $table_only = 0 ]; then  # everything up to the table: training and evaluation
  bash scripts/setup.sh
  swift build -c release --product hspsam
  bin=.build/release/hspsam

  # train NAME [ARGS...]: one run folder per name (the hsp configuration, then ARGS), resumed when interrupted,
  # skipped when finished.
  train() {
    local name=$1 out=$runs/$1; shift
    [ -f "$out/.finished" ] && return 0
    local resume=()
    [ -f "$out/last.safetensors" ] && resume=(--resume)
    "$bin" train --config "${config_file:-{\}}" "$@" "${epoch_args[@]}" --data "$clinic" --split train.txt --seed "$seed" \
      --out "$out" "${resume[@]}"
    touch "$out/.finished"
  }

  # evaluate ROW_FILE METHOD ARGS...: one markdown row per dataset, kept for the table.
  evaluate() {
    local row=$runs/rows/$1 method=$2; shift 2
    [ -s "$row" ] && return 0
    "$bin" evaluate --format markdown --method "$method" "$@" > "$row.tmp"
    mv "$row.tmp" "$row"
  }

  epoch_args=()
  [ -n "$epochs" ] && epoch_args=(--epochs "$epochs")
  hsp=${hsp_checkpoint:-$runs/hsp}
  [ -n "$hsp_checkpoint" ] || train hsp
  # The trained baselines: same schedule, data and seed; only the model section differs.
  train decoder-only --config '{"model": {"architecture": "decoder-only", "promptedLevels": [], "loraBlocks": "none"}}'
  train positional --config '{"model": {"architecture": "positional", "promptedLevels": [], "loraBlocks": "none"}}'
  train hsp-single --config '{"model": {"architecture": "single-level", "promptedLevels": [3]}}'
  for target in "CVC-ClinicDB test=$clinic" "Kvasir-SEG test=$kvasir"; do
    name=${target%%=*}; folder=${target#*=}
    tag=$(echo "$name" | tr ' ' '_')
    evaluate "10_hsp_$tag" "hsp (T=4)" --checkpoint "$hsp" --data "$name=$folder" --split test.txt \
      --report "$runs/reports/hsp_$tag"
    evaluate "12_single_$tag" "hsp-single" --checkpoint "$runs/hsp-single" --data "$name=$folder" --split test.txt
    evaluate "14_decoder_$tag" "decoder-only" --checkpoint "$runs/decoder-only" --data "$name=$folder" --split test.txt
    evaluate "16_positional_$tag" "positional" --checkpoint "$runs/positional" --data "$name=$folder" --split test.txt
    evaluate "20_box_$tag" "box-oracle" --baseline box-oracle --data "$name=$folder" --split test.txt
    evaluate "30_none_$tag" "no-prompt" --baseline no-prompt --data "$name=$folder" --split test.txt
  done
  if [ $kvasir_all = 1 ]; then
    evaluate "11_hsp_Kvasir-SEG_all" "hsp (T=4)" --checkpoint "$hsp" --data "Kvasir-SEG all 1000=$kvasir" \
      --report "$runs/reports/hsp_Kvasir-SEG_all"
    evaluate "21_box_Kvasir-SEG_all" "box-oracle" --baseline box-oracle --data "Kvasir-SEG all 1000=$kvasir"
    evaluate "31_none_Kvasir-SEG_all" "no-prompt" --baseline no-prompt --data "Kvasir-SEG all 1000=$kvasir"
  fi
  if [ $ablations = 1 ]; then
    for t in 1 2 4 8 16; do
      ablation_args=(--config "{\"model\": {\"promptsPerLevel\": $t}}" --epochs "$ablation_epochs")
      epoch_args=()
      train "hsp-T$t" "${ablation_args[@]}"
      evaluate "40_T${t}_CVC-ClinicDB" "hsp T=$t ($ablation_epochs epochs)" --checkpoint "$runs/hsp-T$t" \
        --data "CVC-ClinicDB test=$clinic" --split test.txt
      evaluate "41_T${t}_Kvasir-SEG" "hsp T=$t ($ablation_epochs epochs)" --checkpoint "$runs/hsp-T$t" \
        --data "Kvasir-SEG test=$kvasir" --split test.txt
    done
  fi
  if [ $ship = 1 ]; then
    mkdir -p models
    [ -f models/hsp-clinicdb.safetensors ] || "$bin" export --checkpoint "$runs/hsp" --output models/hsp-clinicdb.safetensors
  fi
fi

# The table, with where and how it was made.
minutes=$(( ($(date +%s) - started) / 60 ))
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
table=$runs/results.md
{
  flags="${config_file:+ --config $config_file}${epochs:+ --epochs $epochs}${hsp_checkpoint:+ --hsp-checkpoint $hsp_checkpoint}"
  [ $ablations = 1 ] && flags="$flags --ablations --ablation-epochs $ablation_epochs"
  [ $kvasir_all = 1 ] && flags="$flags --kvasir-all"
  [ $table_only = 1 ] && flags="$flags --table-only"
  # Training time and length of every run folder (the prefix cache included; a shared cache is paid by the first).
  runs_text=""
  for log in "$runs"/*/log.jsonl; do
    [ -f "$log" ] || continue
    run_name=$(basename "$(dirname "$log")")
    run_seconds=$(tail -1 "$log" | sed -n 's/.*"seconds":\([0-9]*\).*/\1/p')
    run_epochs=$(tail -1 "$log" | sed -n 's/.*"epoch":\([0-9]*\).*/\1/p')
    [ -n "$run_epochs" ] || continue  # started, no epoch finished yet
    runs_text="$runs_text${runs_text:+, }$run_name $run_epochs epochs in $(( ${run_seconds:-0} / 60 )) min"
  done
  echo "Made by \`bash scripts/reproduce.sh$flags\` on $(date -u +%Y-%m-%d): $cpu,"
  echo "$(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, seed $seed. Trained on CVC-ClinicDB train.txt minus a seeded 10 %"
  echo "validation split, best checkpoint by validation Dice@0.5: ${runs_text:-no run folder}."
  [ -n "$hsp_checkpoint" ] && echo "hsp rows: $hsp_checkpoint, trained by an earlier invocation (not retrained in this one)."
  if [ $table_only = 1 ]; then
    echo "Table written from the rows present (--table-only): runs not listed have not finished. Dice@0.5/IoU@0.5:"
  else
    echo "This invocation took $minutes min (steps whose outputs existed were skipped). Dice@0.5/IoU@0.5:"
  fi
  echo "probability > 0.5 per image; mDice/mIoU: PraNet toolbox (mean over 256 thresholds). Kvasir-SEG is never trained on."
  echo
  echo '| method | dataset | n | Dice@0.5 | IoU@0.5 | mDice | mIoU | Smeasure | wFmeasure | meanEmeasure | MAE |'
  echo '|---|---|---|---|---|---|---|---|---|---|---|'
  for row in $(ls "$runs/rows" | sort -V); do cat "$runs/rows/$row"; done  # T1, T2, ..., T16 in order
} > "$table"
cat "$table"

# Into the README, between the markers (left alone when the markers are missing).
if grep -q '<!-- results:begin -->' README.md && grep -q '<!-- results:end -->' README.md; then
  awk -v table="$table" '
    /<!-- results:begin -->/ { print; while ((getline line < table) > 0) print line; skip = 1; next }
    /<!-- results:end -->/ { skip = 0 }
    !skip { print }' README.md > README.md.tmp && mv README.md.tmp README.md
  echo "README.md: results table updated"
fi
