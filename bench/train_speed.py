"""Training speed: tokens/s and model-FLOP utilisation (MFU) of one optimizer step of the
block model's AR phase (`block-ar`: causal FIM next-token loss, gradient clipping, AdamW or
Muon),
against the dense matmul throughput measured on the same machine in the same run.

    python -m bench.train_speed --size base --precision fp32 bf16 --batch 8 --seq 512
    python -m bench.train_speed --size base --optimizer adamw muon

MFU counts 6·N FLOPs per token for the parameters (tied output projection included: it is
a real matmul) plus 12·layers·T·dim for attention (Kaplan et al. 2020; PaLM's appendix B),
divided by the measured throughput of `matmul_tflops` in the dtype the step computes in.
Muon's Newton-Schulz iterations are work the optimizer adds, not model FLOPs: they show
as a longer step and a lower MFU.
Random tokens: this measures the network and the optimizer, not the data pipeline (the
train log's tokens/s includes that). Figures go to bench/results/train_speed[_LABEL].json.
"""

from __future__ import annotations

import argparse
import time

import torch

from diffill.model.backends.transformer import DiffusionLM, config_for_size
from diffill.model.hardware import matmul_tflops
from diffill.model.training.blockdiff import IGNORE, BlockBatch
from diffill.model.training.loop import (
    Objective,
    make_optimizer,
    step_flops_per_token,
    train_step,
)

from .machine import save


def random_batch(vocab: int, batch: int, seq: int, seed: int) -> BlockBatch:
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, vocab, (batch, seq), generator=g)
    target = torch.cat([tokens[:, 1:], torch.full((batch, 1), IGNORE)], 1)
    return BlockBatch(
        inputs=tokens,
        positions=torch.arange(seq).expand(batch, seq).contiguous(),
        limit=torch.zeros_like(tokens),
        group=torch.zeros_like(tokens),
        ar_target=target,
        diff_target=torch.full_like(tokens, IGNORE),
        in_middle=torch.zeros_like(tokens, dtype=torch.bool),
        has_groups=False,
    )


def measure(
    size: str, precision: str, optimizer: str, batch: int, seq: int, steps: int, compile_: bool
):
    torch.manual_seed(0)
    cfg = config_for_size(size, 8194)
    model = DiffusionLM(cfg)
    bf16 = precision == "bf16"
    opt = make_optimizer(model, optimizer, lr=1e-4, weight_decay=0.1, bf16=bf16)
    net = Objective(model)
    if compile_:
        net = torch.compile(net)  # as `train --compile` does
    b = random_batch(cfg.vocab_size, batch, seq, 0)

    def step() -> None:
        train_step(net, opt, b, bf16)

    for _ in range(2):  # warm-up (and compilation)
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    best = min(times)
    median = sorted(times)[len(times) // 2]
    flops = step_flops_per_token(cfg, model.num_parameters(), seq) * batch * seq
    peak = matmul_tflops(torch.device("cpu"), torch.bfloat16 if bf16 else torch.float32, 1.0)
    return {
        "size": size,
        "parameters": model.num_parameters(),
        "precision": precision,
        "optimizer": optimizer,
        "compiled": compile_,
        "batch": batch,
        "seq": seq,
        "median_step_s": round(median, 3),
        "tokens_per_s": round(batch * seq / median),
        "tflops": round(flops / median / 1e12, 4),
        "matmul_tflops": round(peak, 4),
        "mfu": round(flops / median / 1e12 / peak, 3),
        "mfu_best_step": round(flops / best / 1e12 / peak, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", nargs="+", default=["base"])
    ap.add_argument("--precision", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    ap.add_argument("--optimizer", nargs="+", default=["adamw"], choices=["adamw", "muon"])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    for size in args.size:
        for precision in args.precision:
            for optimizer in args.optimizer:
                row = measure(
                    size, precision, optimizer, args.batch, args.seq, args.steps, args.compile
                )
                print(row, flush=True)
                rows.append(row)
    name = "train_speed" + (f"_{args.label}" if args.label else "")
    print(save(name, {"rows": rows}))


if __name__ == "__main__":
    main()
