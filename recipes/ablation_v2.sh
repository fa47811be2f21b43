#!/usr/bin/env bash
# The model-v2 ablation of docs/ablations.md (issue 13), as it ran on this project's 2-core CPU:
# tiny networks, the same corpus and held-out files, 6M training tokens per arm (equal
# compute: a step's FLOPs follow the positions it computes, noisy copies included), then
# `diffill eval` on 100 held-out tasks per kind and on a second set of 120 tasks.
#
#   bash recipes/ablation_v2.sh CORPUS OUT [SECOND_SET.jsonl]
#
# CORPUS: a corpus built by `diffill train --corpus SRC...` (or corpus.build); OUT: where
# runs and evaluations go. Each arm is skipped when done, so a cut run resumes. Two arms
# at a time with one torch thread each keep both cores busy without stalling each other.
# Then `python -m bench.ablation_v2 OUT` writes the table and bench/results/ablation_v2.json.
# SEED=1 ARMS=seed2 runs the second seed of arms 2 and 3 (runs named s1_...).
set -u
C=$1; OUT=$2; SECOND=${3:-}
export OMP_NUM_THREADS=${THREADS:-1} MKL_NUM_THREADS=${THREADS:-1}
D=${DIFFILL:-diffill}
SEED=${SEED:-0}
common=(--corpus "$C" --size tiny --batch-size 16 --seq-tokens 512 --save-minutes 20 --seed "$SEED")
mkdir -p "$OUT/runs" "$OUT/evals"
train() { # name, then train options
    local name=$1; shift
    [ -f "$OUT/runs/$name/done" ] && return
    $D train "${common[@]}" --out "$OUT/runs/$name" "$@" >"$OUT/runs/$name.log" 2>&1 &&
        touch "$OUT/runs/$name/done"
}
evaluate() { # name
    [ -f "$OUT/evals/$1.json" ] || $D eval --model "$OUT/runs/$1/model" --corpus "$C" --n 100 \
        --max-context 512 --json "$OUT/evals/$1.json" >"$OUT/evals/$1.txt" 2>&1
    [ -z "$SECOND" ] || [ -f "$OUT/evals/device_$1.json" ] || $D eval --model "$OUT/runs/$1/model" \
        --tasks "$SECOND" --max-context 512 --json "$OUT/evals/device_$1.json" >/dev/null 2>&1
}
lane_a() {
    train v1 --objective diffusion --tokens 6000000 && evaluate v1
    train ar_spm --objective block-ar --fim-order spm --tokens 4000000 && evaluate ar_spm
    for B in 16 32 64; do
        train ar_spm_b$B --objective block-mixed --fim-order spm --block-size $B \
            --tokens 2000000 --init "$OUT/runs/ar_spm/model" --warmup-steps 50 &&
            evaluate ar_spm_b$B
    done
}
lane_b() {
    train diff_spm_b16 --objective block-diffusion --fim-order spm --block-size 16 \
        --tokens 6000000 && evaluate diff_spm_b16
    train ar_psm --objective block-ar --fim-order psm --tokens 4000000
    train ar_psm_b16 --objective block-mixed --fim-order psm --block-size 16 --tokens 2000000 \
        --init "$OUT/runs/ar_psm/model" --warmup-steps 50 && evaluate ar_psm_b16
    train mixed_spm_b16 --objective block-mixed --fim-order spm --block-size 16 \
        --tokens 6000000 && evaluate mixed_spm_b16
}
seed2() { # arms 2 and 3 again, on another seed: the figures' spread
    train s1_ar_spm --objective block-ar --fim-order spm --tokens 4000000
    train s1_ar_spm_b16 --objective block-mixed --fim-order spm --block-size 16 \
        --tokens 2000000 --init "$OUT/runs/s1_ar_spm/model" --warmup-steps 50 &&
        evaluate s1_ar_spm_b16 &
    train s1_diff_spm_b16 --objective block-diffusion --fim-order spm --block-size 16 \
        --tokens 6000000 && evaluate s1_diff_spm_b16
    wait
}
if [ "${ARMS:-}" = seed2 ]; then seed2; else lane_a & lane_b & wait; fi
echo "ablation done: python -m bench.ablation_v2 $OUT"
