"""The training loop: CPU or CUDA, bf16 autocast where it is fast, resumable, DDP under
`torchrun`. `diffill train` is the door to it.

The output folder holds the latest checkpoint folder (`config.json`, weights,
`tokenizer.json`), `train_state.pt` (optimizer and progress, for resuming) and
`train_log.jsonl` (one line per log interval).
"""

from __future__ import annotations

import bisect
import json
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from . import checkpoint
from .data import SourceFile, read_corpus, sample_spans
from .hardware import describe, fast_bf16, resolve_device
from .network import DiffusionLM, config_for_size
from .objective import Batch, Example, collate, diffusion_loss, plain_example, span_example
from .tokenizer import CodeTokenizer, train_tokenizer

CHARS_PER_TOKEN = 3.4  # measured on Python source with the shipped tokenizer


@dataclass(frozen=True)
class TrainOptions:
    corpus: tuple[str, ...]
    out: str
    size: str = "small"
    minutes: float | None = None
    steps: int | None = None
    device: str = "auto"
    batch_size: int = 16
    seq_tokens: int = 512
    lr: float = 1.5e-3
    warmup_steps: int = 200
    weight_decay: float = 0.1
    plain_share: float = 0.2  # examples that are plain masked diffusion over a window
    seed: int = 0
    save_minutes: float = 10.0
    tokenizer: str | None = None  # reuse this tokenizer.json instead of training one
    vocab_size: int = 8192

    def __post_init__(self) -> None:
        if (self.minutes is None) == (self.steps is None):
            raise ValueError("give exactly one of --minutes or --steps")
        if not self.corpus:
            raise ValueError("give at least one --corpus folder")
        if self.batch_size < 1 or self.seq_tokens < 64:
            raise ValueError("batch size must be >= 1 and sequence length >= 64 tokens")


class ExampleStream:
    """Endless training examples from a list of files, deterministic for a seed."""

    def __init__(
        self,
        files: list[SourceFile],
        tok: CodeTokenizer,
        span_positions: int,
        seq_tokens: int,
        seed: int,
        plain_share: float = 0.2,
    ) -> None:
        if not files:
            raise ValueError("the corpus has no usable files")
        self.files = files
        self.tok = tok
        self.span_positions = span_positions
        self.seq_tokens = seq_tokens
        self.plain_share = plain_share
        self.rng = random.Random(seed)
        self.cum = []
        total = 0
        for f in files:
            total += len(f.text)
            self.cum.append(total)

    def example(self) -> Example:
        rng = self.rng
        f = self.files[bisect.bisect_right(self.cum, rng.randrange(self.cum[-1]))]
        text = f.text
        width = int(self.seq_tokens * CHARS_PER_TOKEN)
        start = rng.randrange(max(1, len(text) - width // 2))
        start = text.rfind("\n", 0, start) + 1 if start else 0
        end = min(len(text), start + width)
        if rng.random() < self.plain_share:
            return plain_example(self.tok, text[start:end], self.seq_tokens)
        spans = sample_spans(f, start, end, rng, rng.randint(1, 6))
        spans = [(a - start, b - start) for a, b in spans]
        return span_example(
            self.tok,
            text[start:end],
            spans,
            rng,
            self.span_positions,
            at_file_start=start == 0,
            at_file_end=end == len(text),
            max_tokens=self.seq_tokens + 96,
        )

    def batch(self, size: int, generator: torch.Generator) -> Batch:
        return collate([self.example() for _ in range(size)], self.tok, generator)


class _Objective(torch.nn.Module):
    """The loss as a module, so DDP sees every parameter used in its forward."""

    def __init__(self, model: DiffusionLM) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: Batch):
        return diffusion_loss(self.model, batch)


def lr_at(step: int, total: int, opts: TrainOptions) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak."""
    if step < opts.warmup_steps:
        return opts.lr * (step + 1) / opts.warmup_steps
    progress = min(1.0, (step - opts.warmup_steps) / max(1, total - opts.warmup_steps))
    return opts.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


@torch.no_grad()
def heldout_loss(model: DiffusionLM, batches: list[Batch], device, autocast) -> dict[str, float]:
    model.eval()
    sums: dict[str, float] = {}
    for b in batches:
        with autocast():
            _, stats = diffusion_loss(model, b.to(device))
        for k, v in stats.items():
            sums[k] = sums.get(k, 0.0) + v
    model.train()
    return {k: v / len(batches) for k, v in sums.items()}


def _make_optimizer(model: DiffusionLM, opts: TrainOptions) -> torch.optim.Optimizer:
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    return torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": opts.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=opts.lr,
        betas=(0.9, 0.95),
        fused=False,
    )


def train(opts: TrainOptions, log: Callable[[str], None] = print) -> Path:
    """Train (or resume) a model into `opts.out`; returns the checkpoint folder."""
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    rank = 0
    if distributed:
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        rank = dist.get_rank()
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    device = resolve_device(opts.device)
    if device.type == "cuda" and distributed:
        device = torch.device("cuda", torch.cuda.current_device())
    use_bf16 = fast_bf16(device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True

    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / "train_state.pt"
    model_dir = out / "model"

    t0 = time.time()
    files = read_corpus(opts.corpus, "train")
    held = read_corpus(opts.corpus, "heldout")
    if not files:
        raise ValueError(f"no Python files found under {list(opts.corpus)}")
    if not held:  # a tiny corpus: hold out its last file rather than none
        held = files[-1:]
    chars = sum(len(f.text) for f in files)
    if rank == 0:
        log(
            f"corpus: {len(files)} train files ({chars / 1e6:.1f}M chars), "
            f"{len(held)} held-out files, read in {time.time() - t0:.0f}s"
        )

    if (model_dir / "tokenizer.json").is_file():
        tok = CodeTokenizer.from_file(model_dir / "tokenizer.json")
    elif opts.tokenizer:
        tok = CodeTokenizer.from_file(opts.tokenizer)
    else:
        tok = train_tokenizer((f.text for f in files), opts.vocab_size)
        if rank == 0:
            log(f"trained a {tok.vocab_size}-token BPE tokenizer")

    torch.manual_seed(opts.seed)
    cfg = config_for_size(opts.size, tok.vocab_size)
    model = DiffusionLM(cfg).to(device)
    optimizer = _make_optimizer(model, opts)
    step, tokens_seen, total_steps, elapsed_before = 0, 0, opts.steps, 0.0
    if state_path.is_file():
        state = torch.load(state_path, map_location=device, weights_only=False)
        if state["config"] != cfg.to_dict():
            raise ValueError(f"{out} holds a run with another model config; use a new --out")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        # --steps and --minutes are budgets for the whole run, earlier sessions included.
        step, tokens_seen, elapsed_before = state["step"], state["tokens_seen"], state["elapsed"]
        if rank == 0:
            log(f"resumed at step {step} ({tokens_seen / 1e6:.1f}M tokens)")
    if rank == 0:
        log(
            f"model: {opts.size}, {model.num_parameters() / 1e6:.2f}M parameters, "
            f"device {describe(device)}, bf16 {'on' if use_bf16 else 'off'}"
        )

    net: torch.nn.Module = _Objective(model)
    if distributed:
        # Batches of plain examples leave the length head without gradient.
        net = torch.nn.parallel.DistributedDataParallel(
            net,
            device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=True,
        )

    def autocast():
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16)

    stream = ExampleStream(
        files,
        tok,
        cfg.span_positions,
        opts.seq_tokens,
        opts.seed * 1000 + rank + step,
        opts.plain_share,
    )
    gen = torch.Generator().manual_seed(opts.seed * 7919 + rank + step)
    held_stream = ExampleStream(held, tok, cfg.span_positions, opts.seq_tokens, 12345)
    held_gen = torch.Generator().manual_seed(12345)
    held_batches = [held_stream.batch(opts.batch_size, held_gen) for _ in range(16)]

    def save(final: bool = False) -> None:
        if rank != 0:
            return
        hl = heldout_loss(model, held_batches, device, autocast)
        info = {
            "size": opts.size,
            "parameters": model.num_parameters(),
            "steps": step,
            "tokens_seen": tokens_seen,
            "train_seconds": round(elapsed_before + time.time() - t_start, 1),
            "heldout": {k: round(v, 4) for k, v in hl.items()},
            "device": describe(device),
            "corpus_files": len(files),
        }
        checkpoint.save(model_dir, model, tok, info=info)
        torch.save(
            {
                "config": cfg.to_dict(),
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "step": step,
                "tokens_seen": tokens_seen,
                "elapsed": elapsed_before + time.time() - t_start,
            },
            state_path.with_suffix(".tmp"),
        )
        os.replace(state_path.with_suffix(".tmp"), state_path)
        log(f"{'final' if final else 'saved'} step {step}: held-out {json.dumps(info['heldout'])}")
        with open(out / "train_log.jsonl", "a") as f:
            f.write(json.dumps({"event": "save", **info}) + "\n")

    model.train()
    t_start = time.time()
    first_step = step
    last_save = time.time()
    window_tokens, window_t = 0, time.time()
    deadline = None if opts.minutes is None else t_start + opts.minutes * 60 - elapsed_before
    while True:
        if total_steps is not None and step >= total_steps:
            break
        if deadline is not None and time.time() >= deadline:
            break
        batch = stream.batch(opts.batch_size, gen).to(device)
        horizon = total_steps or _estimate_total(step, first_step, t_start, deadline)
        for g in optimizer.param_groups:
            g["lr"] = lr_at(step, horizon, opts)
        with autocast():
            loss, stats = net(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        n_tok = batch.inputs.numel()
        tokens_seen += n_tok * (dist.get_world_size() if distributed else 1)
        window_tokens += n_tok
        if step % 25 == 0 and rank == 0:
            rate = window_tokens / (time.time() - window_t)
            entry = {
                "step": step,
                "lr": round(optimizer.param_groups[0]["lr"], 6),
                "loss": round(float(loss.detach()), 4),
                "grad_norm": round(float(grad_norm), 3),
                "tokens_per_s": round(rate),
                "tokens_seen": tokens_seen,
                **{k: round(v, 4) for k, v in stats.items()},
            }
            log(json.dumps(entry))
            with open(out / "train_log.jsonl", "a") as f:
                f.write(json.dumps(entry) + "\n")
            window_tokens, window_t = 0, time.time()
        if time.time() - last_save > opts.save_minutes * 60:
            save()
            last_save = time.time()
    save(final=True)
    if distributed:
        dist.destroy_process_group()
    return model_dir


def _estimate_total(step: int, first_step: int, t_start: float, deadline: float) -> int:
    """Steps that fit the time budget, from this process's pace (for the lr schedule).

    Until the pace is known the horizon is far away, which holds the lr at its peak
    after warm-up rather than decaying it on a guess.
    """
    done = step - first_step
    spent = time.time() - t_start
    if done < 10 or spent <= 0:
        return 10**9
    return int(step + max(0.0, deadline - time.time()) * done / spent)
