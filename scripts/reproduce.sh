#!/usr/bin/env bash
# Trains and evaluates HSP-SAM and the untrained baselines on CVC-ClinicDB (train.txt minus a seeded 10 %
# validation split; test.txt), evaluates the same models unchanged on Kvasir-SEG (the unseen centre), and writes
# the results table into docs/results.md between the `results:begin` / `results:end` markers, with the hardware, the
# time taken and the seed. Every step is skipped when its output exists, so an interrupted run continues.
#
#   bash scripts/reproduce.sh [--config FILE] [--epochs N] [--hsp-checkpoint FILE] [--ablations] [--ablation-epochs N]
#                             [--ablation-values "1 2 4 8 16"] [--kvasir-all] [--ship] [--keep-readme-rows]
#                             [--table-only]
#
# Methods (docs/model.md 5): hsp (T=4), the trained baselines decoder-only, positional and
# hsp-single (each with the hsp configuration, model section replaced), and the untrained box-oracle and no-prompt;
# also hsp (T=4) with `--box-refine` (its objects' boxes decoded by the frozen LiteMedSAM; README).
#
#   --config FILE        hsp training configuration (default: the built-in defaults, 60 epochs; the README's CPU
#                        run used configs/clinicdb-cpu.json: 6 epochs, 2 cached augmentation copies)
#   --epochs N           override the training epochs (hsp and the trained baselines)
#   --hsp-checkpoint F   do not train hsp: evaluate this trained checkpoint (e.g. models/hsp-clinicdb.safetensors,
#                        which an earlier invocation trained and exported) in the hsp rows
#   --ablations          also train T in {1, 2, 4, 8, 16} with a short schedule (--ablation-epochs, default 2)
#   --ablation-values L  the T values of --ablations (default "1 2 4 8 16"), e.g. "16" to add one
#   --kvasir-all         also evaluate on all 1,000 Kvasir-SEG images (about 20 minutes per model on 2 cores)
#   --ship               export the hsp run's best checkpoint as float16 to models/hsp-clinicdb.safetensors
#   --keep-readme-rows   first copy each row of the README's current table whose row file is missing into the rows
#                        folder, so rows an earlier invocation measured (its run folders gone, e.g. on another
#                        machine) are kept and not re-measured; the table's header says how many were kept
#   --table-only         train and evaluate nothing: write the table from the rows already made (a run still
#                        under way, or one interrupted, shows what it has)
# Environment: HSPSAM_DATA (default ../shared/data), HSPSAM_RUNS (default runs/reproduce), SEED (default 1234),
# HSPSAM_README (default docs/results.md: the file whose table is kept and rewritten).
set -euo pipefail
cd "$(dirname "$0")/.."

config_file="" epochs="" hsp_checkpoint="" ablations=0 ablation_epochs=2 ablation_values="1 2 4 8 16" kvasir_all=0
ship=0 table_only=0 keep_readme_rows=0
while [ $# -gt 0 ]; do
  case "$1" in
    --config) config_file=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --hsp-checkpoint) hsp_checkpoint=$2; shift 2 ;;
    --ablations) ablations=1; shift ;;
    --ablation-epochs) ablation_epochs=$2; shift 2 ;;
    --ablation-values) ablation_values=$2; shift 2 ;;
    --kvasir-all) kvasir_all=1; shift ;;
    --ship) ship=1; shift ;;
    --table-only) table_only=1; shift ;;
    --keep-readme-rows) keep_readme_rows=1; shift ;;
    *) echo "reproduce.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

data=${HSPSAM_DATA:-../shared/data}
runs=${HSPSAM_RUNS:-runs/reproduce}
readme=${HSPSAM_README:-docs/results.md}
seed=${SEED:-1234}
clinic=$data/CVC-ClinicDB
kvasir=$data/Kvasir-SEG
for f in "$clinic/train.txt" "$clinic/test.txt" "$kvasir/test.txt"; do
  [ -f "$f" ] || { echo "reproduce.sh: $f is missing (set HSPSAM_DATA)" >&2; exit 1; }
done

mkdir -p "$runs/rows"
started=$(date +%s)

# row_file METHOD DATASET: the file of one table row (its prefix orders the table: methods, then T by value).
row_file() {
  local tag=${2// /_}
  tag=${tag/Kvasir-SEG_all_1000/Kvasir-SEG_all}
  case $1 in
    "hsp (T=4)") [ "$tag" = Kvasir-SEG_all ] && echo 11_hsp_$tag || echo 10_hsp_$tag ;;
    hsp-single) echo 12_single_$tag ;;
    decoder-only) echo 14_decoder_$tag ;;
    positional) echo 16_positional_$tag ;;
    "hsp (T=4), box refine") [ "$tag" = Kvasir-SEG_all ] && echo 18_hspbox_$tag || echo 17_hspbox_$tag ;;
    box-oracle) [ "$tag" = Kvasir-SEG_all ] && echo 21_box_$tag || echo 20_box_$tag ;;
    no-prompt) [ "$tag" = Kvasir-SEG_all ] && echo 31_none_$tag || echo 30_none_$tag ;;
    "hsp T="*) local t=${1#hsp T=}; t=${t%% *}
      case $tag in CVC-ClinicDB_test) echo 40_T${t}_CVC-ClinicDB ;; *) echo 41_T${t}_Kvasir-SEG ;; esac ;;
  esac
}
kept_list=$runs/rows-kept-from-readme.txt  # the rows copied from the README, for the table's header
if [ $keep_readme_rows = 1 ]; then
  while IFS='|' read -r _ method dataset _; do
    method=$(sed 's/^ *//; s/ *$//' <<< "$method") dataset=$(sed 's/^ *//; s/ *$//' <<< "$dataset")
    file=$(row_file "$method" "$dataset")
    [ -n "$file" ] || { echo "reproduce.sh: README row '$method | $dataset' has no row file; not kept" >&2; continue; }
    [ -s "$runs/rows/$file" ] && continue
    grep -F "| $method | $dataset |" "$readme" | head -1 > "$runs/rows/$file"
    echo "$file" >> "$kept_list"
  done < <(sed -n '/<!-- results:begin -->/,/<!-- results:end -->/p' "$readme" | grep '^| ' | grep -v '^| method |')
fi
if [ $table_only = 0 ]; then  # everything up to the table: training and evaluation
  bash scripts/setup.sh
  swift build -c release --product hspsam
  bin=.build/release/hspsam

  # train NAME: one run folder per method (the hsp configuration, then the method's own arguments), resumed when
  # interrupted, skipped when finished.
  train() {
    local name=$1 out=$runs/$1 args=()
    [ -f "$out/.finished" ] && return 0
    [ -n "$epochs" ] && args=(--epochs "$epochs")
    case $name in  # the trained baselines: same schedule, data and seed; only the model section differs
      hsp) ;;
      decoder-only) args+=(--config '{"model": {"architecture": "decoder-only", "promptedLevels": [], "loraBlocks": "none"}}') ;;
      positional) args+=(--config '{"model": {"architecture": "positional", "promptedLevels": [], "loraBlocks": "none"}}') ;;
      hsp-single) args+=(--config '{"model": {"architecture": "single-level", "promptedLevels": [3]}}') ;;
      hsp-T*) args=(--config "{\"model\": {\"promptsPerLevel\": ${name#hsp-T}}}" --epochs "$ablation_epochs") ;;
      *) echo "reproduce.sh: no run named $name" >&2; exit 2 ;;
    esac
    [ -f "$out/last.safetensors" ] && args+=(--resume)
    "$bin" train --config "${config_file:-{\}}" "${args[@]}" --data "$clinic" --split train.txt --seed "$seed" --out "$out"
    touch "$out/.finished"
  }

  # evaluate METHOD RUN|- DATASET FOLDER ARGS...: one markdown row (file named by row_file), kept for the table.
  # RUN (a run folder name) is trained first, and only when the row is missing; "-" for the untrained baselines.
  evaluate() {
    local method=$1 run=$2 dataset=$3 folder=$4 checkpoint=(); shift 4
    local row=$runs/rows/$(row_file "$method" "$dataset")
    [ -s "$row" ] && return 0
    if [ "$run" = hsp ] && [ -n "$hsp_checkpoint" ]; then
      checkpoint=(--checkpoint "$hsp_checkpoint")
    elif [ "$run" != - ]; then
      train "$run"
      checkpoint=(--checkpoint "$runs/$run")
    fi
    "$bin" evaluate --format markdown --method "$method" "${checkpoint[@]}" --data "$dataset=$folder" "$@" > "$row.tmp"
    mv "$row.tmp" "$row"
  }

  for target in "CVC-ClinicDB test=$clinic" "Kvasir-SEG test=$kvasir"; do
    name=${target%%=*}; folder=${target#*=}
    evaluate "hsp (T=4)" hsp "$name" "$folder" --split test.txt --report "$runs/reports/hsp_${name// /_}"
    evaluate hsp-single hsp-single "$name" "$folder" --split test.txt
    evaluate decoder-only decoder-only "$name" "$folder" --split test.txt
    evaluate positional positional "$name" "$folder" --split test.txt
    evaluate "hsp (T=4), box refine" hsp "$name" "$folder" --split test.txt --box-refine
    evaluate box-oracle - "$name" "$folder" --baseline box-oracle --split test.txt
    evaluate no-prompt - "$name" "$folder" --baseline no-prompt --split test.txt
  done
  if [ $kvasir_all = 1 ]; then
    evaluate "hsp (T=4)" hsp "Kvasir-SEG all 1000" "$kvasir" --report "$runs/reports/hsp_Kvasir-SEG_all"
    evaluate "hsp (T=4), box refine" hsp "Kvasir-SEG all 1000" "$kvasir" --box-refine
    evaluate box-oracle - "Kvasir-SEG all 1000" "$kvasir" --baseline box-oracle
    evaluate no-prompt - "Kvasir-SEG all 1000" "$kvasir" --baseline no-prompt
  fi
  if [ $ablations = 1 ]; then
    for t in $ablation_values; do
      evaluate "hsp T=$t ($ablation_epochs epochs)" "hsp-T$t" "CVC-ClinicDB test" "$clinic" --split test.txt
      evaluate "hsp T=$t ($ablation_epochs epochs)" "hsp-T$t" "Kvasir-SEG test" "$kvasir" --split test.txt
    done
  fi
  if [ $ship = 1 ] && [ ! -f models/hsp-clinicdb.safetensors ]; then
    train hsp
    mkdir -p models
    "$bin" export --checkpoint "$runs/hsp" --output models/hsp-clinicdb.safetensors
  fi
fi

# The table, with where and how it was made.
minutes=$(( ($(date +%s) - started) / 60 ))
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
table=$runs/results.md
{
  flags="${config_file:+ --config $config_file}${epochs:+ --epochs $epochs}${hsp_checkpoint:+ --hsp-checkpoint $hsp_checkpoint}"
  [ $ablations = 1 ] && flags="$flags --ablations --ablation-epochs $ablation_epochs"
  [ "$ablation_values" != "1 2 4 8 16" ] && flags="$flags --ablation-values \"$ablation_values\""
  [ $kvasir_all = 1 ] && flags="$flags --kvasir-all"
  [ $keep_readme_rows = 1 ] && flags="$flags --keep-readme-rows"
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
  kept_rows=0
  if [ -f "$kept_list" ]; then
    kept_rows=$(sort -u "$kept_list" | while read -r f; do [ ! -s "$runs/rows/$f" ] || echo "$f"; done | wc -l)
  fi
  [ "$kept_rows" -gt 0 ] && echo "$kept_rows rows kept from the README's earlier table (--keep-readme-rows), measured by earlier invocations (their machine and times: the text below the table)."
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
if grep -q '<!-- results:begin -->' "$readme" && grep -q '<!-- results:end -->' "$readme"; then
  awk -v table="$table" '
    /<!-- results:begin -->/ { print; while ((getline line < table) > 0) print line; skip = 1; next }
    /<!-- results:end -->/ { skip = 0 }
    !skip { print }' "$readme" > "$readme.tmp" && mv "$readme.tmp" "$readme"
  echo "$readme: results table updated"
fi
