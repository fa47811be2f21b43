"""Iterative parallel unmasking for models without a context cache (the open checkpoints).

The same commit rules as `sampler.denoise` (MaskGIT, Chang et al. 2022; LLaDA's
low-confidence remasking, Nie et al. 2025; Fast-dLLM's confidence threshold, Wu et al.
2025), driven by the same `SamplerOptions`, but each step asks a function for the canvas
logits: the open checkpoints attend from the context to the canvas, so the whole sequence
is run at every step (as their reference samplers do) and nothing can be cached.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .sampler import CancelHandle, Cancelled, DenoiseResult, SamplerOptions, Step

# (R, L) canvas tokens -> (R, L, V) logits, position i predicting canvas token i.
CanvasLogits = Callable[[torch.Tensor], torch.Tensor]


def propose(
    logits: torch.Tensor, options: SamplerOptions, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Proposal tokens, their probability, and the ordering score; each (R, L)."""
    logits = logits.float()
    if options.temperature > 0:
        logits = logits / options.temperature
    probs = torch.softmax(logits, dim=-1)  # (R, L, V)
    if options.temperature > 0:
        p = probs
        if options.top_p < 1:
            sorted_p, order = p.sort(dim=-1, descending=True)
            keep = sorted_p.cumsum(-1) - sorted_p < options.top_p  # always keeps the top one
            p = torch.zeros_like(p).scatter(-1, order, sorted_p * keep)
            p = p / p.sum(-1, keepdim=True)
        x0 = torch.multinomial(p.reshape(-1, p.shape[-1]).cpu(), 1, generator=gen)
        x0 = x0.view(p.shape[:-1]).to(p.device)
    else:
        x0 = probs.argmax(-1)
    conf = probs.gather(-1, x0[..., None])[..., 0]
    if options.order == "confidence":
        rank = conf
    elif options.order == "margin":
        top2 = probs.topk(2, dim=-1).values
        rank = top2[..., 0] - top2[..., 1]
    else:
        rank = (probs * probs.clamp_min(1e-12).log()).sum(-1)  # negative entropy
    return x0, conf, rank


@torch.no_grad()
def denoise(
    canvas_logits: CanvasLogits,
    canvas: torch.Tensor,
    *,
    mask_id: int,
    valid: torch.Tensor | None = None,
    forbidden: torch.Tensor | None = None,
    options: SamplerOptions | None = None,
    on_step: Callable[[Step], None] | None = None,
    cancel: CancelHandle | None = None,
) -> DenoiseResult:
    """Unmask every `mask_id` position of `canvas` and return the finished canvas.

    canvas_logits: the model, as a function of the canvas tokens (see `CanvasLogits`).
    canvas: (R, L) token ids; `mask_id` marks positions to generate, all others are given
        and never change.
    mask_id: id of the mask token.
    valid: (R, L) bool; False marks padding of rows shorter than L (left untouched).
    forbidden: (V,) bool over the logits' vocabulary; True ids are never generated.
    options: `SamplerOptions` (defaults when None).
    on_step: called with a `Step` after every step.
    cancel: anything with `is_set()`; checked before every step, raises `Cancelled`.
    """
    options = options or SamplerOptions()
    R, L = canvas.shape
    device = canvas.device
    if valid is None:
        valid = torch.ones(R, L, dtype=torch.bool, device=device)
    tokens = canvas.clone()
    masked = (tokens == mask_id) & valid
    generated = masked.clone()  # positions this call owns; given tokens stay fixed
    confidence = torch.where(masked, 0.0, 1.0).to(device)
    gen = torch.Generator(device="cpu").manual_seed(options.seed)
    step = 0
    while bool(masked.any()):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        step += 1
        logits = canvas_logits(tokens).float()  # (R, L, V)
        if forbidden is not None:
            logits = logits.masked_fill(forbidden, float("-inf"))
        x0, conf, rank = propose(logits, options, gen)
        n_masked = masked.sum(1)  # (R,)
        rank = torch.where(masked, rank, float("-inf"))
        if options.steps is not None:
            steps_left = max(1, options.steps - step + 1)
            n_commit = torch.ceil(n_masked / steps_left).long()
        else:
            # Above the threshold, and never so few that max_steps would be exceeded.
            steps_left = max(1, options.max_steps - step + 1)
            floor = torch.ceil(n_masked / steps_left).long().clamp_min(1)
            n_commit = torch.maximum(((conf > options.threshold) & masked).sum(1), floor)
        n_commit = torch.minimum(n_commit, n_masked)
        order = rank.argsort(dim=1, descending=True)
        take = torch.arange(L, device=device)[None, :] < n_commit[:, None]
        chosen = torch.zeros_like(masked).scatter_(1, order, take) & masked

        if options.remask > 0:
            # Self-correction: committed tokens the model now doubts go back under a mask,
            # at most n_commit - 1 per row so the mask count still falls every step.
            probs_now = torch.softmax(logits, -1).gather(-1, tokens[..., None])[..., 0]
            doubt = generated & ~masked & (probs_now < options.remask)
            doubt_rank = torch.where(doubt, -probs_now, float("-inf"))
            n_remask = torch.minimum(doubt.sum(1), n_commit - 1)
            d_order = doubt_rank.argsort(dim=1, descending=True)
            d_take = torch.arange(L, device=device)[None, :] < n_remask[:, None]
            remask = torch.zeros_like(masked).scatter_(1, d_order, d_take) & doubt
            tokens = torch.where(remask, torch.full_like(tokens, mask_id), tokens)
            masked = masked | remask
            confidence = torch.where(remask, 0.0, confidence)

        tokens = torch.where(chosen, x0, tokens)
        confidence = torch.where(chosen, conf, confidence)
        masked = masked & ~chosen
        if on_step is not None:
            on_step(Step(step, tokens.clone(), int(masked.sum())))
    n_gen = generated.sum(1).clamp_min(1)
    score = (confidence.clamp_min(1e-9).log() * generated).sum(1) / n_gen
    return DenoiseResult(tokens, confidence, step, score)
