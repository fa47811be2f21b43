"""The options of every command that runs the model (--model, --device, --dtype, the sampler
settings, --max-context) and what they make: the loaded backend and the sampler settings.

Heavy imports (torch, through the model) happen inside the functions, so `diffill --help`
stays instant.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from diffill.model import Backend

# `diffill.model.precision.DTYPES`, spelled out so that `--help` does not import torch
# (a test keeps the two equal).
DTYPES = ("auto", "float32", "bfloat16", "int8")


def add_model_folder(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """--model, --device and --dtype, as every command that loads a model takes them."""
    p.add_argument(
        "--model",
        default=None,
        help="model folder, or the name of one `diffill pull` downloaded (default: the "
        "shipped model)",
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    p.add_argument(
        "--dtype",
        default="auto",
        choices=DTYPES,
        help="arithmetic: auto (bf16 on CUDA and on CPUs with AMX or AVX512-BF16, else "
        "float32), float32, bfloat16, or int8 (quantised linear layers, CPU only)",
    )


def add_model_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    add_model_folder(g)
    g.add_argument(
        "--preset",
        default="balanced",
        choices=["quality", "balanced", "fast"],
        help="speed against care (default balanced); --steps/--threshold override it",
    )
    g.add_argument("--steps", type=int, help="fixed number of denoising steps")
    g.add_argument("--threshold", type=float, help="commit tokens above this confidence")
    g.add_argument("--temperature", type=float, help="0 is greedy (default)")
    g.add_argument("--seed", type=int, help="seed for sampling (default 0)")
    g.add_argument(
        "--max-context",
        type=int,
        default=1024,
        metavar="TOKENS",
        help="context tokens shown to the model (default 1024)",
    )


def sampler_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The preset's sampler settings with the options given over them."""
    from diffill.server.editing.request import sampler_options

    return sampler_options(
        args.preset,
        steps=args.steps,
        threshold=args.threshold,
        temperature=args.temperature,
        seed=args.seed,
    )


def load_backend(args: argparse.Namespace, max_context_tokens: int | None = None) -> Backend | None:
    """The model `--model` names (the backend its folder holds), or None after saying on
    stderr why it does not load."""
    from diffill.model import CheckpointError, load

    try:
        return load(
            args.model,
            device=args.device,
            dtype=args.dtype,
            max_context_tokens=max_context_tokens,
        )
    except (CheckpointError, ValueError) as err:
        print(f"diffill: cannot load the model: {err}", file=sys.stderr)
        return None
