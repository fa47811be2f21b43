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

from ...sampler import CancelHandle, DenoiseResult, SamplerOptions, Step, Unmasking, propose

# (R, L) canvas tokens -> (R, L, V) logits, position i predicting canvas token i.
CanvasLogits = Callable[[torch.Tensor], torch.Tensor]


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
    run = Unmasking(canvas, mask_id=mask_id, valid=valid, options=options)
    while run.next_step(cancel):
        logits = canvas_logits(run.tokens).float()  # (R, L, V)
        if forbidden is not None:
            logits = logits.masked_fill(forbidden, float("-inf"))
        proposal = propose(logits, options, run.generator)
        probs_now = None
        if options.remask > 0:
            probs_now = torch.softmax(logits, -1).gather(-1, run.tokens[..., None])[..., 0]
        run.commit(proposal, probs_now, on_step)
    return run.result()
