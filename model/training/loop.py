"""The training loop: CPU or CUDA, bf16 autocast where it is fast, resumable, DDP under
`torchrun`. `diffill train` is the door to it.

The output folder holds the latest checkpoint folder (`config.json`, weights,
`tokenizer.json`), `train_state.pt` (optimizer and progress, for resuming) and
`train_log.jsonl` (one line per log interval).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
import torch.distributed as dist

from .. import checkpoint
from ..backends.transformer import DiffusionLM, config_for_size
from ..hardware import describe, fast_bf16, matmul_tflops, resolve_device
from ..tokenizer import CodeTokenizer
from . import blockdiff as bdo
from .corpus import HELDOUT, TRAIN, Corpus, build, is_corpus
from .fim import ARBatch, causal_loss
from .objective import Batch, diffusion_loss
from .stream import OBJECTIVES, Batches, ExampleStream


@dataclass(frozen=True)
class TrainOptions:
    corpus: tuple[str, ...]
    out: str
    size: str = "small"
    minutes: float | None = None
    steps: int | None = None
    # Budget in tokens computed on (padding and noisy copies included): equal training
    # compute across objectives whose steps differ in size.
    tokens: int | None = None
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
    vocab_size: int = 8192  # of the tokenizer trained when none is given
    filtered: bool = True  # the corpus without noise and duplicates (`corpus.build`)
    objective: str = "diffusion"  # or "fim-ar": the autoregressive peer
    workers: int = 0  # DataLoader processes building batches (0: in the training process)
    corpus_dir: str | None = None  # where the built corpus goes (default: OUT/corpus)
    # The block-diffusion model (objectives block-*): see `blockdiff_objective`.
    block_size: int = 32
    fim_order: str = "spm"
    extra_block_share: float = 0.15
    # Start from these weights (a diffill model folder of the same size); a new run only.
    init: str | None = None
    # torch.compile the loss; batches are then padded to one shape so it compiles once.
    compile: bool = False
    log_seconds: float = 5.0  # a log line at most this often (and at least every 25 steps)
    precision: str = "auto"  # fp32, bf16 (autocast) or auto (`train_in_bf16`)
    optimizer: str = "adamw"  # or "muon" (`MuonWithAdamW`)

    def __post_init__(self) -> None:
        if sum(x is not None for x in (self.minutes, self.steps, self.tokens)) != 1:
            raise ValueError("give exactly one of --minutes, --steps or --tokens")
        if not self.corpus:
            raise ValueError("give at least one --corpus folder")
        if self.batch_size < 1 or self.seq_tokens < 64:
            raise ValueError("batch size must be >= 1 and sequence length >= 64 tokens")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, not {self.objective!r}")
        if self.workers < 0:
            raise ValueError("workers must be >= 0")
        if self.block_size < 1:
            raise ValueError("block size must be >= 1")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, not {self.optimizer!r}")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ValueError(f"precision must be auto, fp32 or bf16, not {self.precision!r}")
        if self.fim_order not in ("spm", "psm"):
            raise ValueError(f"FIM order must be spm or psm, not {self.fim_order!r}")

    @property
    def block_model(self) -> bool:
        return self.objective in bdo.OBJECTIVES


class Objective(torch.nn.Module):
    """The loss as a module, so DDP sees every parameter used in its forward."""

    def __init__(self, model: DiffusionLM) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: Batch | ARBatch | bdo.BlockBatch):
        if isinstance(batch, ARBatch):
            return causal_loss(self.model, batch)
        if isinstance(batch, bdo.BlockBatch):
            return bdo.block_loss(self.model, batch)
        return diffusion_loss(self.model, batch)


def autocast_for(device: torch.device, bf16: bool):
    """The autocast context a training and a held-out step compute under: bf16 when
    `train_in_bf16` chose it, else a no-op."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)


def train_step(
    net: torch.nn.Module,
    optimizer: torch.optim.Optimizer | MuonWithAdamW,
    batch: Batch | ARBatch | bdo.BlockBatch,
    bf16: bool,
) -> tuple[torch.Tensor, dict, torch.Tensor]:
    """One optimizer step, the one `train` runs and `bench.train_speed` times: the loss of
    `net` (an `Objective`, compiled or not) under bf16 autocast when `bf16`, backward,
    gradients clipped to norm 1, the update. Returns the loss, its stats and the norm."""
    with autocast_for(next(net.parameters()).device, bf16):
        loss, stats = net(batch)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
    optimizer.step()
    return loss, stats, grad_norm


def step_flops_per_token(cfg, n_params: int, seq: int) -> float:
    """Training FLOPs per token: 6 per parameter for forward and backward of a dense network
    (Kaplan et al. 2020; the tied output projection is a real matmul, so the embedding
    counts), plus 12·layers·T·dim for attention's scores and weighted sums."""
    return 6 * n_params + 12 * cfg.n_layers * seq * cfg.dim


def train_in_bf16(device: torch.device, precision: str, log: Callable[[str], None]) -> bool:
    """Whether training computes in bf16 (autocast): asked for, or on "auto" where it is
    measured faster here.

    On a CPU "bf16 supported" is not "bf16 fast": with AMX bf16 products run several times
    fp32's rate, but an Intel Xeon with AVX512-BF16 and no AMX measured bf16 at 0.6x fp32
    (81-100 against 124-174 GFLOP/s), and an AVX2-only EPYC emulates it 8x slower. So the
    CPU times both at training shapes and takes bf16 only when it is 1.2x faster.
    """
    if precision == "fp32":
        return False
    if precision == "bf16":
        if not fast_bf16(device) and device.type == "cpu":
            log("bf16 asked for on a CPU without bf16 units: expect it to be slow")
        return True
    if device.type == "cuda":
        return fast_bf16(device)
    if not fast_bf16(device):
        return False
    fp32 = matmul_tflops(device, torch.float32, 0.3)
    bf16 = matmul_tflops(device, torch.bfloat16, 0.3)
    log(f"precision auto: matmul {fp32:.3f} TFLOP/s fp32, {bf16:.3f} bf16")
    return bf16 > 1.2 * fp32


def lr_at(step: int, total: int, opts: TrainOptions) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak."""
    if step < opts.warmup_steps:
        return opts.lr * (step + 1) / opts.warmup_steps
    progress = min(1.0, (step - opts.warmup_steps) / max(1, total - opts.warmup_steps))
    return opts.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


@torch.no_grad()
def heldout_loss(model: DiffusionLM, batches: list, device, bf16: bool) -> dict[str, float]:
    """The mean loss stats over held-out `batches`, computed as training computes them."""
    model.eval()
    sums: dict[str, float] = {}
    objective = Objective(model)
    for b in batches:
        with autocast_for(device, bf16):
            _, stats = objective(b.to(device))
        for k, v in stats.items():
            sums[k] = sums.get(k, 0.0) + v
    model.train()
    return {k: v / len(batches) for k, v in sums.items()}


OPTIMIZERS = ("adamw", "muon")


class MuonWithAdamW:
    """Muon for the blocks' weight matrices, AdamW for the rest, as one optimizer.

    Muon (Jordan et al. 2024) orthogonalises each matrix's momentum by Newton-Schulz
    iterations; it reached modded-nanogpt's loss in about 1.35x fewer tokens than AdamW.
    It is for hidden matrices only: the embedding (tied to the output) and the norms'
    vectors stay on AdamW, as in the reference implementation. `match_rms_adamw`
    (Moonshot's Muon, Liu et al. 2025) scales each update to AdamW's RMS, so the two
    share one learning rate and one schedule. `param_groups` lists both optimizers'
    groups, so the loop's schedule sets the learning rate of every group.
    """

    def __init__(self, muon: torch.optim.Optimizer, adamw: torch.optim.Optimizer) -> None:
        self.muon, self.adamw = muon, adamw
        self.param_groups = [*muon.param_groups, *adamw.param_groups]

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.muon.zero_grad(set_to_none=set_to_none)
        self.adamw.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        self.muon.step()
        self.adamw.step()

    def state_dict(self) -> dict[str, Any]:
        return {"muon": self.muon.state_dict(), "adamw": self.adamw.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.muon.load_state_dict(state["muon"])
        self.adamw.load_state_dict(state["adamw"])


class Fp32Muon(torch.optim.Muon):
    """torch's Muon with its Newton-Schulz iterations in fp32 instead of bf16, for where
    bf16 products are slow: on an AVX2-only CPU bf16 is emulated (1024-square products at
    0.0008 against 0.10 TFLOP/s fp32), and torch's bf16 iterations made a proxy step
    2.7x an AdamW step (2026-12-07). The update is torch's otherwise (momentum, Nesterov,
    the quintic coefficients, `adjust_lr_fn`, decoupled weight decay) and so is the state
    (`momentum_buffer`), so a run's saved optimizer state loads into either."""

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params: list[torch.Tensor] = []
            grads: list[torch.Tensor] = []
            bufs: list[torch.Tensor] = []
            self._init_group(group, params, grads, bufs)
            a, b, c = group["ns_coefficients"]
            for p, g, buf in zip(params, grads, bufs, strict=True):
                buf.lerp_(g, 1 - group["momentum"])
                u = g.lerp(buf, group["momentum"]) if group["nesterov"] else buf
                x = u.float()
                if x.size(0) > x.size(1):
                    x = x.T
                x = x / x.norm().clamp(min=group["eps"])  # spectral norm at most 1
                for _ in range(group["ns_steps"]):
                    gram = x @ x.T
                    x = torch.addmm(x, torch.addmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
                if u.size(0) > u.size(1):
                    x = x.T
                rows, cols = p.shape[:2]
                fn = group["adjust_lr_fn"]
                if fn in (None, "original"):
                    scale = math.sqrt(max(1, rows / cols))
                elif fn == "match_rms_adamw":
                    scale = 0.2 * math.sqrt(max(rows, cols))
                else:
                    scale = 1.0
                p.mul_(1 - group["lr"] * group["weight_decay"])
                p.add_(x.to(p.dtype), alpha=-group["lr"] * scale)
        return loss


def make_optimizer(
    model: DiffusionLM, kind: str, lr: float, weight_decay: float, bf16: bool = True
) -> torch.optim.Optimizer | MuonWithAdamW:
    """The training optimizer: `kind` is one of OPTIMIZERS; `bf16` says whether bf16
    products are fast here (Muon's Newton-Schulz iterations run in bf16 only then)."""
    named = list(model.named_parameters())
    decay = [p for n, p in named if p.dim() >= 2]
    no_decay = [p for n, p in named if p.dim() < 2]
    fused = next(model.parameters()).is_cuda
    if kind == "adamw":
        return torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=lr,
            betas=(0.9, 0.95),
            fused=fused,
        )
    hidden = [p for n, p in named if p.dim() == 2 and n.startswith("blocks.")]
    ids = {id(p) for p in hidden}
    rest = [p for p in decay if id(p) not in ids]
    muon = (torch.optim.Muon if bf16 else Fp32Muon)(
        hidden, lr=lr, weight_decay=weight_decay, adjust_lr_fn="match_rms_adamw"
    )
    adamw = torch.optim.AdamW(
        [
            {"params": rest, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=lr,
        betas=(0.9, 0.95),
        fused=fused,
    )
    return MuonWithAdamW(muon, adamw)


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
    use_bf16 = train_in_bf16(device, opts.precision, log if rank == 0 else lambda _: None)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True

    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / "train_state.pt"
    model_dir = out / "model"

    tok = None
    if (model_dir / "tokenizer.json").is_file():  # resuming: the run's own tokenizer
        tok = CodeTokenizer.from_file(model_dir / "tokenizer.json")
    elif opts.tokenizer:
        tok = CodeTokenizer.from_file(opts.tokenizer)
    corpus = _open_corpus(opts, out, tok, rank, distributed, log)
    tok = tok or corpus.tokenizer
    # The block model's tokenizer is the corpus's plus the FIM sentinels, appended after
    # every id the corpus uses.
    base = corpus.tokenizer if tok.has_fim_tokens and not corpus.tokenizer.has_fim_tokens else tok
    if base is not tok and base.with_fim_tokens().to_json() != tok.to_json():
        raise ValueError(f"the corpus in {corpus.folder} was tokenized with another tokenizer")
    if corpus.manifest["tokenizer_sha1"] != hashlib.sha1(base.to_json().encode()).hexdigest():
        raise ValueError(f"the corpus in {corpus.folder} was tokenized with another tokenizer")
    if opts.block_model:
        tok = tok.with_fim_tokens()
    heldout_split = HELDOUT if len(corpus.split(HELDOUT)) else TRAIN  # a tiny corpus
    corpus_stats = corpus.manifest["stats"]
    if rank == 0:
        log(
            f"corpus: {corpus_stats['train_files']} train files "
            f"({corpus_stats['train_tokens'] / 1e6:.1f}M tokens), "
            f"{corpus_stats['heldout_files']} held out"
        )

    torch.manual_seed(opts.seed)
    cfg = config_for_size(opts.size, tok.vocab_size)
    if opts.objective == "fim-ar":
        cfg = dataclasses.replace(cfg, causal=True)
    if opts.block_model:
        cfg = dataclasses.replace(cfg, length_head=False)
    model = DiffusionLM(cfg).to(device)
    if opts.init and not state_path.is_file():
        _warm_start(model, opts.init, log if rank == 0 else lambda _: None)
    tokens_before = _tokens_total(opts.init) if opts.init else 0
    optimizer = make_optimizer(model, opts.optimizer, opts.lr, opts.weight_decay, use_bf16)
    step, tokens_seen, total_steps, elapsed_before = 0, 0, opts.steps, 0.0
    if state_path.is_file():
        state = torch.load(state_path, map_location=device, weights_only=False)
        if state["config"] != cfg.to_dict():
            raise ValueError(f"{out} holds a run with another model config; use a new --out")
        saved_optimizer = state.get("optimizer_kind", "adamw")  # older runs: AdamW
        if saved_optimizer != opts.optimizer:
            raise ValueError(
                f"{out} was trained with --optimizer {saved_optimizer}; resume it with that "
                "or use a new --out"
            )
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

    net: torch.nn.Module = Objective(model)
    if distributed:
        # Batches of plain examples leave the length head without gradient.
        net = torch.nn.parallel.DistributedDataParallel(
            net,
            device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=True,
        )

    if opts.compile:
        net = cast(torch.nn.Module, torch.compile(net))
    # The yardstick of the FLOP utilisation logged below. It is measured again at every save
    # and the best figure kept: a measurement taken while another process has a core reads
    # low (2026-12-07: 0.195 bf16 TFLOP/s at start beside a test run, 0.41 alone), and
    # the logged MFU then read 115%.
    matmul_dtype = torch.bfloat16 if use_bf16 else torch.float32
    peak_tflops = matmul_tflops(device, matmul_dtype)
    if rank == 0:
        log(f"dense matmul here: {peak_tflops:.3f} TFLOP/s ({'bf16' if use_bf16 else 'fp32'})")

    stream_args: dict[str, Any] = dict(  # ExampleStream's, picklable for DataLoader workers
        corpus=corpus,
        split=TRAIN,
        tok=tok,
        span_positions=cfg.span_positions,
        seq_tokens=opts.seq_tokens,
        plain_share=opts.plain_share,
        objective=opts.objective,
        block_size=opts.block_size,
        fim_order=opts.fim_order,
        extra_block_share=opts.extra_block_share,
        pad_to=_padded_length(opts) if opts.compile and opts.block_model else None,
    )
    # Resuming reseeds from the step so a resumed run does not replay its examples, and a
    # leg warm-started from an earlier leg's weights reseeds from the tokens those saw, so
    # it does not replay the earlier leg's examples either (legs once all drew the same).
    stream_seed = opts.seed * 100_003 + rank * 1009 + step + tokens_before
    batches = torch.utils.data.DataLoader(
        Batches(stream_args, opts.batch_size, stream_seed),
        batch_size=None,
        num_workers=opts.workers,
        pin_memory=device.type == "cuda",
        prefetch_factor=4 if opts.workers else None,
    )
    held_stream = ExampleStream(**{**stream_args, "split": heldout_split}, seed=12345)
    held_gen = torch.Generator().manual_seed(12345)
    held_batches = [held_stream.batch(opts.batch_size, held_gen) for _ in range(16)]

    def save(final: bool = False) -> None:
        nonlocal peak_tflops
        if rank != 0:
            return
        peak_tflops = max(peak_tflops, matmul_tflops(device, matmul_dtype))
        hl = heldout_loss(model, held_batches, device, use_bf16)
        info = {
            "size": opts.size,
            "parameters": model.num_parameters(),
            "steps": step,
            "tokens_seen": tokens_seen,
            "train_seconds": round(elapsed_before + time.time() - t_start, 1),
            "heldout": {k: round(v, 4) for k, v in hl.items()},
            "device": describe(device),
            "objective": opts.objective,
            "optimizer": opts.optimizer,
            "corpus_files": corpus_stats["train_files"],
            "corpus_tokens": corpus_stats["train_tokens"],
        }
        layout = None
        if opts.block_model:
            info["init"] = opts.init
            # Everything these weights have been trained on, the --init lineage included
            # (a run carried from session to session through the shipped weights).
            info["tokens_total"] = tokens_before + tokens_seen
            layout = {
                "fim_order": opts.fim_order,
                # The AR phase trains next-token prediction: it decodes one token a block.
                "block_size": 1 if opts.objective == "block-ar" else opts.block_size,
                "context_tokens": opts.seq_tokens,
            }
        checkpoint.save(model_dir, model, tok, info=info, layout=layout)
        torch.save(
            {
                "config": cfg.to_dict(),
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "optimizer_kind": opts.optimizer,
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
    first_tokens = tokens_seen
    last_save = time.time()
    window_tokens, window_t, window_flops, window_steps = 0, time.time(), 0.0, 0
    n_params = model.num_parameters()
    deadline = None if opts.minutes is None else t_start + opts.minutes * 60 - elapsed_before
    batch_iter = iter(batches)

    def finished() -> bool:
        return (
            (total_steps is not None and step >= total_steps)
            or (deadline is not None and time.time() >= deadline)
            or (opts.tokens is not None and tokens_seen >= opts.tokens)
        )

    while not finished():
        batch = next(batch_iter).to(device)
        if opts.tokens is not None:
            done = step - first_step
            per_step = (tokens_seen - first_tokens) / done if done >= 10 else None
            horizon = int(step + (opts.tokens - tokens_seen) / per_step) if per_step else 10**9
        elif total_steps is not None:
            horizon = total_steps
        else:
            assert deadline is not None  # TrainOptions sets exactly one budget
            horizon = _estimate_total(step, first_step, t_start, deadline)
        for g in optimizer.param_groups:
            g["lr"] = lr_at(step, horizon, opts)
        loss, stats, grad_norm = train_step(net, optimizer, batch, use_bf16)
        step += 1
        n_tok = batch.inputs.numel()  # padding included: it is computed on
        tokens_seen += n_tok * (dist.get_world_size() if distributed else 1)
        window_tokens += n_tok
        window_flops += n_tok * step_flops_per_token(cfg, n_params, batch.inputs.shape[1])
        window_steps += 1
        # The last steps' window is logged too, so even a short run reports its speed.
        log_due = time.time() - window_t >= opts.log_seconds or window_steps >= 25 or finished()
        if log_due and rank == 0:
            spent = time.time() - window_t
            rate = window_tokens / spent
            tflops = window_flops / spent / 1e12
            entry = {
                "step": step,
                "lr": round(optimizer.param_groups[0]["lr"], 6),
                "loss": round(float(loss.detach()), 4),
                "grad_norm": round(float(grad_norm), 3),
                "tokens_per_s": round(rate),
                "tflops": round(tflops, 3),
                "mfu": round(tflops / peak_tflops, 3),
                "matmul_tflops": round(peak_tflops, 3),
                "tokens_seen": tokens_seen,
                **{k: round(v, 4) for k, v in stats.items()},
            }
            log(json.dumps(entry))
            with open(out / "train_log.jsonl", "a") as f:
                f.write(json.dumps(entry) + "\n")
            window_tokens, window_t, window_flops, window_steps = 0, time.time(), 0.0, 0
        if time.time() - last_save > opts.save_minutes * 60:
            save()
            last_save = time.time()
    save(final=True)
    if distributed:
        dist.destroy_process_group()
    return model_dir


def _padded_length(opts: TrainOptions) -> int:
    """The one length of compiled block-model batches: the clean stream's longest and room
    for noisy groups, rounded up to a multiple of 64."""
    clean = opts.seq_tokens + 96
    groups = 0 if opts.objective == "block-ar" else int(0.6 * clean)
    return -(-(clean + groups) // 64) * 64


def _warm_start(model: DiffusionLM, folder: str, log: Callable[[str], None]) -> None:
    """Copy the weights of a diffill model folder of the same size into `model`.

    Any diffill model type will do (the networks share one shape), so the block model
    can start from the masked-diffusion model, the AR peer or an earlier block model.
    Embedding rows the folder lacks (new special tokens) start at the mean embedding;
    a length head the model does not have is left out.
    """
    state = checkpoint.read_state(Path(folder))
    own = model.state_dict()
    copied, skipped = 0, []
    with torch.no_grad():
        for name, target in own.items():
            src = state.get(name)
            if src is None:
                skipped.append(name)
                continue
            src = src.to(target.dtype)
            grows = name == "embed.weight" and src.shape[0] < target.shape[0]
            if src.shape[1:] != target.shape[1:] or (src.shape != target.shape and not grows):
                raise ValueError(
                    f"--init {folder}: weight {name} has shape {tuple(src.shape)}, this model "
                    f"needs {tuple(target.shape)} (another size?)"
                )
            if grows:
                target[: src.shape[0]] = src
                target[src.shape[0] :] = src.mean(0)
            else:
                target.copy_(src)
            copied += 1
    log(
        f"warm start from {folder}: {copied} tensors"
        + (f", not in it: {skipped}" if skipped else "")
    )


def _tokens_total(folder: str) -> int:
    """The tokens a model folder's weights were trained on, earlier --init runs included."""
    info = checkpoint.read_config(Path(folder)).get("info") or {}
    return int(info.get("tokens_total", info.get("tokens_seen", 0)))


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


def _open_corpus(opts, out: Path, tok, rank: int, distributed: bool, log) -> Corpus:
    """The built corpus to train on: `--corpus` itself when it is one, else built from the
    source trees into `corpus_dir` (or OUT/corpus) once and reused by later runs."""
    if len(opts.corpus) == 1 and is_corpus(opts.corpus[0]):
        return Corpus(opts.corpus[0])
    folder = Path(opts.corpus_dir) if opts.corpus_dir else out / "corpus"
    if is_corpus(folder):
        corpus = Corpus(folder)
        roots = [str(Path(r).resolve()) for r in opts.corpus]
        if corpus.manifest["roots"] != roots:
            raise ValueError(f"{folder} was built from other folders; pass another --out")
        if corpus.manifest.get("filtered", True) != opts.filtered:
            state = "with" if opts.filtered else "without"
            raise ValueError(f"{folder} was not built {state} filtering; pass another --out")
        return corpus
    if rank == 0:
        build(opts.corpus, folder, tok, opts.vocab_size, log=log, filtered=opts.filtered)
    if distributed:
        dist.barrier()
    return Corpus(folder)
