#!/usr/bin/env bash
# The cumulative CPU run (issue 23): the block model's AR+FIM phase (`block-ar`, SPM) at the
# shipped size, trained in the background of every session, at low priority (nice 15) so
# the session's other work goes first.
#
#   bash recipes/cpu_cumulative_run.sh            # start or resume; returns at once
#   OPTIMIZER=muon BATCH=16 SEQ=256 bash recipes/cpu_cumulative_run.sh   # the 2026-12-08 leg
#   tail -f "$RUN/out/train_log.jsonl"              # tokens/s and MFU of every log line
#   bash recipes/cpu_cumulative_eval.sh            # the run's model against the shipped one
#
# The run crosses sessions through the newest weights the machine still holds:
#   - on a machine that still holds $RUN/out/train_state.pt the leg resumes exactly (model,
#     AdamW moments, step, tokens seen, the same learning-rate curve);
#   - otherwise a new leg starts from INIT, with fresh AdamW moments after a short warm-up:
#     the last finished leg where the machine kept it (INIT=/work/runs/<last>/out/model, in
#     a new RUN), else the shipped model (the run's last leg once one has beaten the
#     shipped default; before that, v1). The folder's info.tokens_total adds up every leg,
#     and a leg's examples are drawn from a seed that counts it, so no leg replays the last.
# A leg lasts MINUTES of training (default 120) and its learning rate decays (cosine, to a
# tenth) over exactly that time, so it ends ready to evaluate and, if it wins, to ship.
#
# RUN (default /work/runs/cumulative) holds the corpus (built once from this machine's
# Python standard library and the venv's installed packages, with the shipped tokenizer)
# and the leg's folder out/ (model/, train_state.pt, train_log.jsonl). It lives outside the
# work tree: the repository stays lean, and weights are committed only when they beat the
# shipped default on the held-out sets (at most once a session).
set -euo pipefail
cd "$(dirname "$0")/.."
RUN="${RUN:-/work/runs/cumulative}"
PY="${PY:-.venv/bin/python}"
MINUTES="${MINUTES:-120}"
INIT="${INIT:-model/weights/default}"
OPTIMIZER="${OPTIMIZER:-adamw}"  # or muon (docs/training.md: the Muon arm)
LR="${LR:-6e-4}"  # peak; docs/training.md says which legs ran at which
# A step's tokens are BATCH x SEQ; the proxy study's 256-token arm is BATCH=16 SEQ=256.
BATCH="${BATCH:-8}"
SEQ="${SEQ:-512}"
mkdir -p "$RUN"
STDLIB="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')"
SITE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"

if [ -f "$RUN/train.pid" ] && kill -0 "$(cat "$RUN/train.pid")" 2>/dev/null; then
    echo "already running: pid $(cat "$RUN/train.pid")"
    exit 0
fi
# --init is read only by a new leg (a saved state wins); copy it, since the shipped folder
# may be replaced by this very run's weights while the leg goes on.
if [ ! -f "$RUN/out/train_state.pt" ]; then
    rm -rf "$RUN/init" && cp -r "$INIT" "$RUN/init"
fi
nohup nice -n 15 "$PY" -m diffill.server.cli train \
    --corpus "$STDLIB" "$SITE" --corpus-dir "$RUN/corpus" --out "$RUN/out" \
    --tokenizer model/weights/default/tokenizer.json \
    --objective block-ar --fim-order spm --block-size 16 --size base \
    --init "$RUN/init" --minutes "$MINUTES" --batch-size "$BATCH" --seq-tokens "$SEQ" \
    --lr "$LR" --warmup-steps 50 --save-minutes 5 --precision auto --optimizer "$OPTIMIZER" \
    >>"$RUN/train.out" 2>&1 &
echo $! >"$RUN/train.pid"
echo "started pid $! (log: $RUN/train.out, $RUN/out/train_log.jsonl)"
