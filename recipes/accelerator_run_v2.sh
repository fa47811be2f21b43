#!/usr/bin/env bash
# The block-diffusion model's (v2) accelerator run, as one command of at most nine minutes
# on one GPU (the lent H100/H200 machine, which reaches no network):
#
#   1. build the corpus from that machine's own Python (its standard library and installed
#      packages), with the syntax units spans are drawn from computed once, in parallel;
#   2. phase 1, a causal fill-in-the-middle LM (`--objective block-ar`), then phase 2, block
#      diffusion adapted from it (`block-mixed`: the AR loss plus the noisy blocks' loss).
#      Where the shipped default already is a block model, both phase budgets go to phase 2
#      warm-started from it, so successive windows add up; else phase 1 starts from INIT
#      (default: the shipped weights, any diffill type of the same size);
#   3. evaluate the result there: held-out corpus tasks and the execution-checked set;
#   4. leave in $OUT what comes back (at most 8 files of 16 MiB): the model's bf16 shards,
#      config and tokenizer, and one archive of logs, corpus manifest and figures.
#
# Throughput: bf16 autocast, fused AdamW, torch.compile with batches padded to one shape
# (COMPILE=0 turns it off), a large batch and DataLoader workers; every log line carries
# tokens/s and the model FLOP utilisation against a matmul measured on the machine.
#
# The machine has no tree-sitter; bring it as wheels in .whl (git-ignored), fetched here with
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_17_x86_64 -d .whl tree-sitter==0.26.1 tree-sitter-python==0.25.0
#
# Run from the repository root. Knobs (environment): BUDGET_S (whole run, 540), SIZE (base),
# BATCH (128), SEQ (1024: the context it is trained for), BLOCK (16), ORDER (spm),
# AR_SHARE (share of training time for phase 1, 0.6), WORKERS (12), DEVICE (cuda),
# COMPILE (1), INIT (a model folder, default the shipped one; empty: from scratch), ROOTS,
# EVAL_N (held-out tasks per kind, 100), EXEC_TASKS (the execution-checked set), OUT.
set -uo pipefail
T0=$(date +%s)
BUDGET_S=${BUDGET_S:-540}
SIZE=${SIZE:-base}
BATCH=${BATCH:-128}
SEQ=${SEQ:-1024}
BLOCK=${BLOCK:-16}
ORDER=${ORDER:-spm}
AR_SHARE=${AR_SHARE:-0.6}
WORKERS=${WORKERS:-12}
DEVICE=${DEVICE:-cuda}
COMPILE=${COMPILE:-1}
INIT=${INIT-model/weights/default}  # INIT= (empty) starts phase 1 from scratch
EVAL_N=${EVAL_N:-100}
EXEC_TASKS=${EXEC_TASKS:-bench/tasks/exec_tasks.jsonl}
OUT=${OUT:-/tmp/diffill-out}
W=${WORK:-/tmp/diffill-run}
rm -rf "$W" && mkdir -p "$W" "$OUT"
export PYTHONUNBUFFERED=1
log() { echo "[$(($(date +%s) - T0))s] $*" | tee -a "$W/run.log"; }
left() { echo $((T0 + BUDGET_S - $(date +%s))); }

# 1. The corpus (the shipped tokenizer), with diffill and its wheels on the path.
source recipes/setup_run.sh || exit 1

# 2. The phases. Evaluation and copying keep the last RESERVE_S seconds.
RESERVE_S=${RESERVE_S:-180}
TRAIN_S=$(($(left) - RESERVE_S))
SHIPPED_TYPE=$(python3 -c 'import json; print(json.load(open("model/weights/default/config.json"))["model_type"])')
common=(--corpus "$W/corpus" --size "$SIZE" --batch-size "$BATCH" --seq-tokens "$SEQ"
    --block-size "$BLOCK" --fim-order "$ORDER" --workers "$WORKERS" --device "$DEVICE"
    --save-minutes 2)
[ "$COMPILE" = 1 ] && common+=(--compile)
phase() { # name objective seconds init
    local minutes
    minutes=$(python3 -c "print(max(0.1, ($3 - 20) / 60))")
    log "$1: $2 for $minutes minutes from ${4:-scratch}"
    timeout $(($3 + 60)) python3 -m diffill.server.cli train "${common[@]}" --out "$W/$1" \
        --objective "$2" --minutes "$minutes" ${4:+--init "$4"} >"$W/train-$1.log" 2>&1
    tail -n 2 "$W/train-$1.log" | tee -a "$W/run.log"
}
if [ "$SHIPPED_TYPE" = diffill-block ]; then
    phase adapt block-mixed "$TRAIN_S" model/weights/default
else
    AR_S=$(python3 -c "print(int($TRAIN_S * $AR_SHARE))")
    phase ar block-ar "$AR_S" "$INIT"
    phase adapt block-mixed $(($(left) - RESERVE_S)) "$W/ar/model"
fi
MODEL="$W/adapt/model"
log "training done"

# 4 (first, so a late failure loses nothing): the model, then an archive of the rest.
cp "$MODEL"/{config.json,tokenizer.json,*.safetensors*} "$OUT"/ 2>/dev/null
for p in ar adapt; do cp "$W/$p/train_log.jsonl" "$W/train_log_$p.jsonl" 2>/dev/null; done
cp "$W/corpus/manifest.json" "$W/corpus_manifest.json"
bundle() {
    tar -czf "$OUT/run.tar.gz" -C "$W" --ignore-failed-read run.log train-ar.log \
        train-adapt.log train_log_ar.jsonl train_log_adapt.jsonl corpus_manifest.json \
        tasks.jsonl heldout_eval.json exec_eval.json 2>/dev/null
}
bundle

# 3. Held-out tasks of this machine's corpus, then the execution-checked set.
timeout $(($(left) / 2)) python3 -m diffill.server.cli eval --corpus "$W/corpus" \
    --n "$EVAL_N" --model "$MODEL" --device "$DEVICE" --max-context "$SEQ" \
    --write-tasks "$W/tasks.jsonl" --json "$W/heldout_eval.json" 2>&1 | tail -n 8 | tee -a "$W/run.log"
bundle
timeout $(($(left) - 10)) python3 -m diffill.server.cli eval \
    --tasks "$EXEC_TASKS" --model "$MODEL" --device "$DEVICE" \
    --max-context "$SEQ" --json "$W/exec_eval.json" 2>&1 | tail -n 6 | tee -a "$W/run.log"
log "done"
bundle
ls -la "$OUT"
