#!/usr/bin/env bash
# The accelerator run behind the shipped default model, as one command of at most nine
# minutes on one GPU (the lent H100/H200 machine, which reaches no network):
#
#   1. build the corpus from that machine's own Python: its standard library and the
#      installed packages of its environment (deduplicated, filtered, held-out split);
#   2. train the diffusion model and its autoregressive peer (same size, same data, FIM)
#      side by side on the one GPU, for the same time;
#   3. evaluate the peer on held-out tasks built there (its weights are too large to bring
#      back beside the diffusion model's), and measure decoding speed on the GPU;
#   4. leave in $OUT what comes back: the diffusion model's bf16 shards and config, and one
#      archive of logs, tasks and figures.
#
# The machine has no tree-sitter; bring it as wheels in .whl (git-ignored), fetched here with
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_17_x86_64 -d .whl tree-sitter==0.26.1 tree-sitter-python==0.25.0
#
# Run from the repository root. Knobs (environment): BUDGET_S (whole run, default 540),
# SIZE (base), BATCH (96), WORKERS (per trainer, 6), DEVICE (cuda), ROOTS (source trees;
# default the stdlib and site-packages), EVAL_N (tasks per kind, 100), OUT.
set -uo pipefail
T0=$(date +%s)
BUDGET_S=${BUDGET_S:-540}
SIZE=${SIZE:-base}
BATCH=${BATCH:-96}
WORKERS=${WORKERS:-6}
DEVICE=${DEVICE:-cuda}
EVAL_N=${EVAL_N:-100}
OUT=${OUT:-/tmp/diffill-out}
W=${WORK:-/tmp/diffill-run}
rm -rf "$W" && mkdir -p "$W" "$OUT"
export PYTHONUNBUFFERED=1
log() { echo "[$(($(date +%s) - T0))s] $*" | tee -a "$W/run.log"; }

# 1. The corpus, once, for both models (the shipped tokenizer: both models share it), with
# diffill and its wheels on the path.
source recipes/setup_run.sh || exit 1

# 2. Both trainings end together, leaving time for evaluation and copying.
TRAIN_END=$((T0 + BUDGET_S - 150))
MINUTES=$(python3 -c "print(max(0.2, ($TRAIN_END - $(date +%s) - 25) / 60))")
log "training both models for $MINUTES minutes"
for OBJ in diffusion fim-ar; do
    timeout $((TRAIN_END - $(date +%s) + 60)) python3 -m diffill.server.cli train \
        --corpus "$W/corpus" --out "$W/$OBJ" --objective "$OBJ" --size "$SIZE" \
        --minutes "$MINUTES" --batch-size "$BATCH" --workers "$WORKERS" --device "$DEVICE" \
        --save-minutes 2 >"$W/train-$OBJ.log" 2>&1 &
done
wait
log "training done"
tail -n 3 "$W/train-diffusion.log" "$W/train-fim-ar.log" | tee -a "$W/run.log"

# 4 (first, so a late failure loses nothing): the diffusion model's weights.
cp "$W"/diffusion/model/{config.json,*.safetensors*} "$OUT"/ 2>/dev/null
cp "$W/diffusion/train_log.jsonl" "$W/train_log_diffusion.jsonl" 2>/dev/null
cp "$W/fim-ar/train_log.jsonl" "$W/train_log_fim_ar.jsonl" 2>/dev/null
cp "$W/corpus/manifest.json" "$W/corpus_manifest.json"

bundle() {
    tar -czf "$OUT/run.tar.gz" -C "$W" --ignore-failed-read run.log train-diffusion.log \
        train-fim-ar.log train_log_diffusion.jsonl train_log_fim_ar.jsonl corpus_manifest.json \
        tasks.jsonl ar_eval.json decode_speed_cuda.json 2>/dev/null
}
bundle

# 3. The peer on held-out tasks of this machine's corpus; then speed on the GPU.
left() { echo $((T0 + BUDGET_S - $(date +%s))); }
timeout $(($(left) / 2)) python3 -m diffill.server.cli eval --corpus "$W/corpus" --n "$EVAL_N" \
    --model "$W/fim-ar/model" --device "$DEVICE" --write-tasks "$W/tasks.jsonl" \
    --json "$W/ar_eval.json" 2>&1 | tail -n 12 | tee -a "$W/run.log"
log "peer evaluated"
bundle
timeout $(($(left) - 10)) python3 -m bench.decode_speed --model "$W/diffusion/model" \
    --ar-model "$W/fim-ar/model" --tasks "$W/tasks.jsonl" --n "$EVAL_N" --device "$DEVICE" \
    --repeats 5 --out "$W/decode_speed_cuda.json" 2>&1 | tee -a "$W/run.log"
log "done"
bundle
ls -la "$OUT"
