"""`diffill pull NAME`: download a published open checkpoint (`diffill.model.hub.MODELS`)
into the Hugging Face cache, so that `--model NAME` finds it there, offline, afterwards."""

from __future__ import annotations

import argparse
import sys

from .exit_codes import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE

# `diffill.model.hub.MODELS`' names, spelled out so that `--help` does not import torch
# (a test keeps the two equal).
NAMES = ("Open-dCoder-0.5B", "DiffuCoder-7B", "Dream-Coder-7B", "LLaDA-8B")


def known_models() -> str:
    """The table `diffill pull --help` and an unknown name print."""
    from diffill.model import hub

    width = max(len(m.name) for m in hub.MODELS)
    return "\n".join(f"  {m.name:<{width}}  {m.repo} ({m.family}, {m.size})" for m in hub.MODELS)


def cmd_pull(args: argparse.Namespace) -> int:
    from diffill.model import hub

    model = hub.find(args.name)
    if model is None:
        print(
            f"diffill pull: unknown model {args.name!r}; the known ones:\n{known_models()}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    print(f"diffill pull: {model.name} is {model.repo} ({model.size})", file=sys.stderr)
    try:
        folder = hub.pull(model)
    except hub.PullError as err:
        print(f"diffill pull: {err}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(
            f"diffill pull: interrupted; `diffill pull {model.name}` resumes the download",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    print(folder)
    print(f"diffill pull: done; use it with --model {model.name}", file=sys.stderr)
    return EXIT_OK
