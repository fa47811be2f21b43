#!/usr/bin/env bash
# The proxy study of issue 23 (docs/training.md): the cumulative run's choices tried on the
# `proxy` network (6.98M parameters) from scratch, each arm on the same tokens, the same
# corpus and the same held-out examples, on this project's 2-core CPU.
#
#   bash recipes/proxy_study.sh CORPUS OUT
#   python -m bench.proxy_study CORPUS OUT     # the table, and bench/results/proxy_study.json
#
# CORPUS: a corpus built by `diffill train --corpus SRC...` with the shipped tokenizer (the
# cumulative run's RUN/corpus); OUT: where the arms' runs and evaluations go. Each arm is
# skipped when done, so a cut study resumes. Two arms at a time with one torch thread each
# keep both cores busy without stalling each other. TOKENS (default 1e6) is every arm's
# budget; its learning rate decays over exactly that many tokens.
#
# Arms (the baseline is the cumulative run's recipe at the proxy size):
#   adamw      AdamW, lr 1.5e-3, SPM, 20% plain windows (FIM rate 80%), 8 x 512 tokens
#   s1_adamw   the same, seed 1 (the noise between seeds)
#   muon       Muon for the hidden matrices (from scratch, where its gain was reported)
#   fim50      50% plain windows (FIM rate 50%)
#   psm        PSM order instead of SPM
#   seq256     16 x 256-token windows (the same tokens a step)
#   s1_muon, s1_seq256   the two leading arms again, seed 1
#   muon_seq256          both together (for the longer budget: TOKENS=3e6 in another OUT)
#   vocab16k   a 16,384-token tokenizer trained on this corpus's train split (its own
#              corpus, OUT/corpus16k, built from the same source trees)
#   nofilter   the corpus built without the noise filter and deduplication (OUT/corpus_
#              unfiltered: generated, minified and vendored files and duplicates kept; no
#              train file copies a held-out one)
# ARMS (default: all of them) names the arms to run, in that order, two at a time.
set -u
C=$1; OUT=$2
export OMP_NUM_THREADS=${THREADS:-1} MKL_NUM_THREADS=${THREADS:-1}
PY="${PY:-.venv/bin/python}"
TOKENS=${TOKENS:-1e6}
common=(--corpus "$C" --size proxy --objective block-ar --block-size 16 --tokens "$TOKENS"
    --lr 1.5e-3 --warmup-steps 100 --save-minutes 10 --precision auto)
mkdir -p "$OUT/runs" "$OUT/evals"
train() { # name, then train options
    local name=$1; shift
    [ -f "$OUT/runs/$name/done" ] && return
    nice -n "${NICE:-0}" "$PY" -m diffill.server.cli train "${common[@]}" --out "$OUT/runs/$name" "$@" \
        >"$OUT/runs/$name.log" 2>&1 && touch "$OUT/runs/$name/done"
}
# The exact-match figure is taken on a dev set: single-line tasks 50-99 of the device file,
# whose first 50 are the `device` evaluation set (recipes/cpu_cumulative_eval.sh), so no
# choice made here is made on an evaluation set.
"$PY" - "$OUT/evals/dev.jsonl" <<'EOF'
import json, sys
rows = [json.loads(x) for x in open("recipes/runs/2026-11-26-h200/heldout_tasks.jsonl")]
single = [r for r in rows if r["task_id"].startswith("single_line/")][50:100]
open(sys.argv[1], "w").write("".join(json.dumps(r) + "\n" for r in single))
EOF
evaluate() { # name
    [ -f "$OUT/evals/$1.json" ] || "$PY" -m diffill.server.cli eval --tasks "$OUT/evals/dev.jsonl" \
        --model "$OUT/runs/$1/model" --max-context 512 --json "$OUT/evals/$1.json" \
        >"$OUT/evals/$1.txt" 2>&1
}
SITE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
STDLIB="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')"
arm() { # name: its training run
    local spm=(--fim-order spm --batch-size 8 --seq-tokens 512)
    case $1 in
        adamw) train adamw --seed 0 "${spm[@]}" ;;
        s1_adamw) train s1_adamw --seed 1 "${spm[@]}" ;;
        muon) train muon --seed 0 "${spm[@]}" --optimizer muon ;;
        s1_muon) train s1_muon --seed 1 "${spm[@]}" --optimizer muon ;;
        fim50) train fim50 --seed 0 "${spm[@]}" --plain-share 0.5 ;;
        psm) train psm --seed 0 --fim-order psm --batch-size 8 --seq-tokens 512 ;;
        seq256) train seq256 --seed 0 --fim-order spm --batch-size 16 --seq-tokens 256 ;;
        s1_seq256) train s1_seq256 --seed 1 --fim-order spm --batch-size 16 --seq-tokens 256 ;;
        muon_seq256) train muon_seq256 --seed 0 --fim-order spm --batch-size 16 \
            --seq-tokens 256 --optimizer muon ;;
        # The last --corpus wins: these two build their own corpus from the source trees.
        vocab16k) train vocab16k --seed 0 "${spm[@]}" --corpus "$STDLIB" "$SITE" \
            --corpus-dir "$OUT/corpus16k" --vocab-size 16384 ;;
        nofilter) train nofilter --seed 0 "${spm[@]}" --corpus "$STDLIB" "$SITE" \
            --corpus-dir "$OUT/corpus_unfiltered" --no-filter \
            --tokenizer model/weights/default/tokenizer.json ;;
        *) echo "unknown arm $1" >&2; return 1 ;;
    esac
}
read -r -a names <<<"${ARMS:-adamw s1_adamw muon fim50 psm seq256 s1_muon s1_seq256 muon_seq256 vocab16k nofilter}"
# Two arms at a time, the next starting as soon as either finishes.
for name in "${names[@]}"; do
    [ "$(jobs -rp | wc -l)" -ge 2 ] && wait -n
    arm "$name" &
done
wait
for name in "${names[@]}"; do
    [ -f "$OUT/runs/$name/done" ] && evaluate "$name"
done
