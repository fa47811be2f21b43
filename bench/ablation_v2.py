"""The model-v2 ablation table from the runs and evaluations of `recipes/ablation_v2.sh`.

    python -m bench.ablation_v2 OUT [--shipped EVAL.json --shipped-second EVAL.json]

Prints docs/ablations.md's table and saves every figure in bench/results/ablation_v2.json with the
machine. Held-out losses are the last save's (`train_log.jsonl`); a two-phase arm's tokens
are its phase 1's plus its own. Model calls per token: denoising calls over the tokens of
the completions (the shipped tokenizer's count).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from diffill.model.tokenizer import CodeTokenizer

from .machine import save

SHIPPED_TOKENIZER = Path(__file__).parents[1] / "model" / "weights" / "default" / "tokenizer.json"

# (run, phase-1 run or None, what the arm is)
ARMS = [
    ("v1", None, "1. v1 (masked diffusion, bidirectional)"),
    ("diff_spm_b16", None, "2. v2 diffusion only (SPM, block 16)"),
    ("s1_diff_spm_b16", None, "2. the same, seed 1"),
    ("ar_spm", None, "v2 phase 1 only (causal FIM LM, SPM; decoded in blocks of 32)"),
    ("ar_spm_b16", "ar_spm", "3. v2 AR phase → block-mixed (SPM, block 16)"),
    ("s1_ar_spm_b16", "s1_ar_spm", "3. the same, seed 1"),
    ("ar_psm_b16", "ar_psm", "4. v2 AR phase → block-mixed (PSM, block 16)"),
    ("ar_spm_b32", "ar_spm", "5. v2 AR phase → block-mixed (SPM, block 32)"),
    ("ar_spm_b64", "ar_spm", "5. v2 AR phase → block-mixed (SPM, block 64)"),
    ("mixed_spm_b16", None, "v2 block-mixed from scratch (SPM, block 16)"),
]


def last_save(run: Path) -> dict:
    saves = [
        e
        for e in map(json.loads, (run / "train_log.jsonl").read_text().splitlines())
        if e.get("event") == "save"
    ]
    if not saves:
        raise SystemExit(f"{run}: no saved model in its training log")
    return saves[-1]


def arm_figures(evaluation: dict, second: dict | None, tok: CodeTokenizer) -> dict:
    s = evaluation["summary"]
    steps = sum(r["steps"] for r in evaluation["results"])
    tokens = sum(len(tok.encode(r["completion"])) for r in evaluation["results"])
    out = {
        "exact_match": {k: s[k]["exact_match"] for k in ("single_line", "multi_line")},
        "edit_similarity": {
            k: s[k]["edit_similarity"] for k in ("single_line", "multi_line", "random_span", "all")
        },
        "parse_rate": s["all"]["parse_rate"],
        "calls_per_token": round(steps / max(1, tokens), 3),
        "mean_steps": s["all"]["mean_steps"],
    }
    if second is not None:
        t = second["summary"]
        out["second_set"] = {
            "edit_similarity_single_line": t["single_line"]["edit_similarity"],
            "edit_similarity_all": t["all"]["edit_similarity"],
            "parse_rate": t["all"]["parse_rate"],
        }
    return out


def collect(out: Path) -> list[dict]:
    tok = CodeTokenizer.from_file(SHIPPED_TOKENIZER)
    rows = []
    for run, phase1, what in ARMS:
        ev = out / "evals" / f"{run}.json"
        if not ev.exists():
            continue
        second = out / "evals" / f"device_{run}.json"
        saved = last_save(out / "runs" / run)
        tokens = [last_save(out / "runs" / phase1)["tokens_seen"]] if phase1 else []
        held = saved["heldout"]
        rows.append(
            {
                "arm": what,
                "run": run,
                "train_tokens": [*tokens, saved["tokens_seen"]],
                "heldout": held,
                "ar_middle_ce": held.get("ar_middle_ce"),
                "masked_middle_ce": held.get("diff_middle_ce", held.get("masked_ce")),
                **arm_figures(
                    json.loads(ev.read_text()),
                    json.loads(second.read_text()) if second.exists() else None,
                    tok,
                ),
            }
        )
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| arm | train tokens | held-out middle CE: causal / masked | exact match single / multi "
        "| edit sim single / multi / random | parse rate | calls per token "
        "| 2nd set: edit sim single / all, parse |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def ce(v: float | None) -> str:
        return f"{v:.2f}" if v else "–"

    for r in rows:
        tokens = " + ".join(f"{t / 1e6:.0f}M" for t in r["train_tokens"])
        em, es = r["exact_match"], r["edit_similarity"]
        two = r.get("second_set")
        second = (
            f"{two['edit_similarity_single_line']:.3f} / {two['edit_similarity_all']:.3f}, "
            f"{two['parse_rate']:.0%}"
            if two
            else "–"
        )
        lines.append(
            f"| {r['arm']} | {tokens} | {ce(r['ar_middle_ce'])} / {ce(r['masked_middle_ce'])} "
            f"| {em['single_line']:.0%} / {em['multi_line']:.0%} "
            f"| {es['single_line']:.3f} / {es['multi_line']:.3f} / {es['random_span']:.3f} "
            f"| {r['parse_rate']:.0%} | {r['calls_per_token']:.2f} | {second} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path, help="the OUT folder of recipes/ablation_v2.sh")
    ap.add_argument("--no-save", action="store_true", help="print only")
    args = ap.parse_args()
    rows = collect(args.out)
    print(table(rows))
    if not args.no_save:
        how = (
            "recipes/ablation_v2.sh: tiny (1.45M parameters), seq 512, batch 16, seed 0 (arms "
            "2 and 3 also seed 1), 6M "
            "training tokens per arm (two-phase arms: 4M block-ar + 2M block-mixed); first "
            "set: diffill eval --corpus CORPUS --n 100 --max-context 512 (balanced); second "
            "set: 120 tasks (60 single-line, 30 multi-line, 30 random-span) of "
            "recipes/runs/2026-11-26-h200/heldout_tasks.jsonl, --max-context 512"
        )
        print(save("ablation_v2", {"how": how, "arms": rows}))


if __name__ == "__main__":
    main()
