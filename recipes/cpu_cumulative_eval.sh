#!/usr/bin/env bash
# The cumulative run's model against the shipped default, on three held-out single-line
# sets, both decoded the way they ship (balanced preset, 512 context tokens), each task
# asked as one line (the middle ends at its first line break; `diffill eval` does so for
# single-line tasks unless --no-line-stop) and cut before a loop's repeats (as every
# backend answers; --no-loop-cut scores what the model wrote):
#   local   50 single lines from the held-out files of this machine's corpus ($RUN/corpus;
#           `evaluation.corpus_tasks`, seed 0: the same on a machine with the same packages)
#   device  the first 50 single-line tasks of recipes/runs/2026-11-26-h200/heldout_tasks.jsonl
#           (held-out files of the accelerator machine's Python 3.12 packages)
#   exec    every sixth single-line task of bench/tasks/exec_tasks.jsonl (100, pass@1 too)
#
#   bash recipes/cpu_cumulative_eval.sh [MODEL]     # default $RUN/out/model
#
# Writes $RUN/eval/<set>_<candidate|shipped>.json and prints exact match, edit similarity,
# parse rate and pass@1 side by side; exits 0 when the candidate beats the shipped model
# (`evaluation.ship_verdict`: no set with fewer exact matches, a lower edit similarity or a
# lower pass@1, and either more exact matches over the three sets or a higher edit
# similarity on every one), else 1. Set SHIPPED_JSON_DIR
# to reuse the shipped model's figures from an earlier call.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN="${RUN:-/work/runs/cumulative}"
PY="${PY:-.venv/bin/python}"
MODEL="${1:-$RUN/out/model}"
EVAL="$RUN/eval"
mkdir -p "$EVAL"

"$PY" - "$RUN" "$EVAL" <<'EOF'
import json, sys
from pathlib import Path
from diffill.model.evaluation import corpus_tasks, write_tasks
run, out = Path(sys.argv[1]), Path(sys.argv[2])
if not (out / "local.jsonl").is_file():
    tasks = [t for t in corpus_tasks([run / "corpus"], per_kind=50, seed=0) if t.kind == "single_line"]
    write_tasks(tasks, out / "local.jsonl")
rows = [json.loads(x) for x in open("recipes/runs/2026-11-26-h200/heldout_tasks.jsonl")]
single = [r for r in rows if r["task_id"].startswith("single_line/")][:50]
(out / "device.jsonl").write_text("".join(json.dumps(r) + "\n" for r in single))
rows = [json.loads(x) for x in open("bench/tasks/exec_tasks.jsonl")]
single = [r for r in rows if not r["task_id"].endswith("/body")][::6]
(out / "exec.jsonl").write_text("".join(json.dumps(r) + "\n" for r in single))
EOF

for set in local device exec; do
    "$PY" -m diffill.server.cli eval --tasks "$EVAL/$set.jsonl" --model "$MODEL" \
        --max-context 512 --json "$EVAL/${set}_candidate.json" >/dev/null
    if [ -n "${SHIPPED_JSON_DIR:-}" ]; then
        cp "$SHIPPED_JSON_DIR/${set}_shipped.json" "$EVAL/${set}_shipped.json"
    elif [ ! -f "$EVAL/${set}_shipped.json" ]; then
        "$PY" -m diffill.server.cli eval --tasks "$EVAL/$set.jsonl" --max-context 512 \
            --json "$EVAL/${set}_shipped.json" >/dev/null
    fi
done

"$PY" - "$EVAL" <<'EOF'
import json, sys
from pathlib import Path
from diffill.model.evaluation import ship_verdict
out = Path(sys.argv[1])
figs = {"shipped": {}, "candidate": {}}
print(f"{'set':8} {'model':10} {'exact':>7} {'edit sim':>9} {'parse':>7} {'pass@1':>7}")
for s in ("local", "device", "exec"):
    for who in ("shipped", "candidate"):
        f = json.loads((out / f"{s}_{who}.json").read_text())["summary"]["single_line"]
        figs[who][s] = f
        p = "-" if f["pass_at_1"] is None else f"{f['pass_at_1']:.1%}"
        print(f"{s:8} {who:10} {f['exact_match']:7.1%} {f['edit_similarity']:9.3f} "
              f"{f['parse_rate']:7.1%} {p:>7}")
verdict = ship_verdict(figs["shipped"], figs["candidate"])
print(f"exact matches gained over the three sets: {verdict.exact_gained:+d}")
print("the candidate beats the shipped model" if verdict.ships
      else "the candidate loses: " + "; ".join(verdict.reasons))
sys.exit(0 if verdict.ships else 1)
EOF
