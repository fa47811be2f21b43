"""The proxy study's table (issue 23) from the runs and evaluations of `recipes/proxy_study.sh`.

    python -m bench.proxy_study CORPUS OUT

Every arm's model is scored on the same held-out examples of CORPUS, whatever it trained on,
so that arms with other FIM rates, orders, sequence lengths or data compare (an arm with
its own vocabulary is scored on the same held-out files through its own corpus, windows of
its own tokens; bits per byte make the two vocabularies compare):
- plain windows of 512 tokens read left to right: bits per byte over every token (how well
  the network models code);
- FIM examples (the same files and cuts for every arm, laid out in the arm's own order):
  bits per byte of the middle, its closing `<end>` included (the editing task itself);
- exact match and edit similarity on the dev set's single-line tasks (`OUT/evals/ARM.json`).
Prints the table and saves it in bench/results/proxy_study.json with the machine.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

import torch

from diffill.model import checkpoint
from diffill.model.backends.transformer import DiffusionLM
from diffill.model.tokenizer import CodeTokenizer
from diffill.model.training.blockdiff import ar_nats_and_bytes, token_byte_counts
from diffill.model.training.corpus import HELDOUT, Corpus
from diffill.model.training.stream import ExampleStream

from .machine import save

ARMS = [
    ("adamw", "AdamW, lr 1.5e-3, SPM, FIM rate 80%, 8 x 512 (the baseline)"),
    ("s1_adamw", "the same, seed 1"),
    ("muon", "Muon (hidden matrices), the same lr through match_rms_adamw"),
    ("s1_muon", "Muon, seed 1"),
    ("fim50", "FIM rate 50%"),
    ("psm", "PSM order"),
    ("seq256", "16 x 256-token windows"),
    ("s1_seq256", "16 x 256-token windows, seed 1"),
    ("muon_seq256", "Muon and 16 x 256-token windows together"),
    ("vocab16k", "a 16,384-token vocabulary (its own tokenizer and corpus)"),
    ("nofilter", "no noise filter or deduplication (its own corpus; scored on the clean one)"),
]
# An arm whose tokens differ from CORPUS's is scored on the same held-out files through its
# own corpus (the held-out split is by content hash, so the files are the same ones).
OWN_CORPUS = {"vocab16k": "corpus16k"}
HELD_SEED = 4242  # the held-out examples, one draw for every arm
BATCHES, BATCH = 24, 8
SEQ = 512


def bits_per_byte(
    model: DiffusionLM, tok: CodeTokenizer, corpus: Corpus, plain_share: float, order: str
) -> dict[str, float]:
    stream = ExampleStream(
        corpus,
        HELDOUT,
        tok,
        model.cfg.span_positions,
        SEQ,
        seed=HELD_SEED,
        plain_share=plain_share,
        objective="block-ar",
        block_size=16,
        fim_order=order,
    )
    counts = token_byte_counts(tok)
    gen = torch.Generator().manual_seed(HELD_SEED)
    sums: dict[str, float] = {}
    for _ in range(BATCHES):
        for k, v in ar_nats_and_bytes(model, stream.batch(BATCH, gen), counts).items():
            sums[k] = sums.get(k, 0.0) + v
    return {
        "bpb": sums["nats"] / sums["bytes"] / math.log(2),
        "nats_per_token": sums["nats"] / sums["tokens"],
        "middle_bpb": sums["middle_nats"] / max(1.0, sums["middle_bytes"]) / math.log(2),
        "bytes": sums["bytes"],
    }


def _heldout_paths(corpus: Corpus) -> list[str]:
    return [corpus.paths[i] for i in corpus.split(HELDOUT)]


def training_figures(run: Path) -> dict:
    log = [json.loads(x) for x in (run / "train_log.jsonl").read_text().splitlines()]
    steps = [e for e in log if "tokens_per_s" in e]
    saves = [e for e in log if e.get("event") == "save"]
    return {
        "tokens_seen": saves[-1]["tokens_seen"] if saves else None,
        "tokens_per_s": statistics.median(e["tokens_per_s"] for e in steps) if steps else None,
        "mfu": statistics.median(e["mfu"] for e in steps if "mfu" in e) if steps else None,
    }


def dev_figures(evaluation: Path) -> dict | None:
    if not evaluation.is_file():
        return None
    s = json.loads(evaluation.read_text())["summary"]["single_line"]
    return {k: s[k] for k in ("exact_match", "edit_similarity", "parse_rate")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus")
    ap.add_argument("out")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    corpus, out = Corpus(args.corpus), Path(args.out)
    rows = []
    shared_heldout = _heldout_paths(corpus)
    for name, what in ARMS:
        folder = out / "runs" / name / "model"
        if not (out / "runs" / name / "done").is_file():
            print(f"{name}: not finished, left out")
            continue
        ckpt = checkpoint.load(folder, model_type=checkpoint.BLOCK_MODEL_TYPE, dtype="float32")
        model, tok, order = ckpt.model.eval(), ckpt.tokenizer, ckpt.layout["fim_order"]
        scored_on = corpus
        if name in OWN_CORPUS:
            scored_on = Corpus(out / OWN_CORPUS[name])
            if _heldout_paths(scored_on) != shared_heldout:
                raise SystemExit(f"{name}: its corpus holds out other files than {corpus.folder}")
        row = {
            "arm": name,
            "what": what,
            "parameters": model.num_parameters(),
            **training_figures(out / "runs" / name),
            "plain": bits_per_byte(model, tok, scored_on, 1.0, order),
            "fim": bits_per_byte(model, tok, scored_on, 0.0, order),
            "dev": dev_figures(out / "evals" / f"{name}.json"),
        }
        rows.append(row)
        dev = row["dev"] or {}
        print(
            f"| {name} | {what} | {row['tokens_seen'] / 1e6:.2f}M | "
            f"{row['plain']['bpb']:.4f} | {row['fim']['middle_bpb']:.4f} | "
            f"{dev.get('exact_match', float('nan')):.1%} / "
            f"{dev.get('edit_similarity', float('nan')):.3f} |",
            flush=True,
        )
    print(
        save(
            "proxy_study",
            {
                "held_out": {"batches": BATCHES, "batch": BATCH, "seq": SEQ, "seed": HELD_SEED},
                "rows": rows,
            },
        )
    )


if __name__ == "__main__":
    main()
