#!/usr/bin/env bash
# The cumulative CPU run (issue 23): the block model's AR+FIM phase (`block-ar`, SPM) at the
# shipped size, warm-started from the shipped v1 weights, trained in the background of every
# session and resumed exactly from its last saved state (model, AdamW moments, step, tokens
# seen; the learning-rate schedule is fixed by the token budget, so a resumed run continues
# the same curve). Low priority (nice 15), so the session's other work goes first.
#
#   bash recipes/cpu_cumulative_run.sh            # start or resume; returns at once
#   tail -f "$RUN/out/train_log.jsonl"              # tokens/s and MFU of every log line
#
# RUN (default /work/runs/cumulative-v2) holds the corpus (built once from this machine's
# Python standard library and the venv's installed packages, with the shipped tokenizer)
# and the run folder out/ (model/, train_state.pt, train_log.jsonl). It lives outside the
# work tree: the repository stays lean; weights are committed only when they beat the
# shipped default. A machine handed to the next session keeps it; a new machine starts
# the run again from the shipped weights (the note says how many tokens were lost).
set -euo pipefail
cd "$(dirname "$0")/.."
RUN="${RUN:-/work/runs/cumulative-v2}"
PY="${PY:-.venv/bin/python}"
mkdir -p "$RUN"
STDLIB="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')"
SITE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"

if [ -f "$RUN/train.pid" ] && kill -0 "$(cat "$RUN/train.pid")" 2>/dev/null; then
    echo "already running: pid $(cat "$RUN/train.pid")"
    exit 0
fi
nohup nice -n 15 "$PY" -m diffill.server.cli train \
    --corpus "$STDLIB" "$SITE" --corpus-dir "$RUN/corpus" --out "$RUN/out" \
    --tokenizer model/weights/default/tokenizer.json \
    --objective block-ar --fim-order spm --block-size 16 --size base \
    --init model/weights/default --tokens 200e6 --batch-size 8 --seq-tokens 512 \
    --lr 6e-4 --warmup-steps 50 --save-minutes 5 --precision auto \
    >>"$RUN/train.out" 2>&1 &
echo $! >"$RUN/train.pid"
echo "started pid $! (log: $RUN/train.out, $RUN/out/train_log.jsonl)"
