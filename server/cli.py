"""The `diffill` command.

Exit codes: 0 success; 1 the work failed (a model that does not load, a failed run);
2 usage error (bad arguments).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from importlib import metadata

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _versions() -> dict[str, str]:
    out = {}
    for dist in (
        "diffill",
        "torch",
        "tokenizers",
        "safetensors",
        "tree-sitter",
        "pygls",
        "lsprotocol",
        "rich",
    ):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def cmd_info(args: argparse.Namespace) -> int:
    from diffill.model import CheckpointError, load

    versions = _versions()
    try:
        infiller = load(args.model, device=args.device)
    except (CheckpointError, ValueError) as err:
        print(f"diffill: cannot load the model: {err}", file=sys.stderr)
        return EXIT_FAILED
    facts = {
        "versions": versions,
        "python": sys.version.split()[0],
        "model": str(infiller.folder),
        "parameters": infiller.num_parameters,
        "device": infiller.describe_device(),
        "dtype": str(next(infiller.model.parameters()).dtype).removeprefix("torch."),
        "config": infiller.model.cfg.to_dict(),
        "training": infiller.info,
    }
    if args.json:
        print(json.dumps(facts, indent=2))
        return EXIT_OK
    print(f"diffill {versions['diffill']} (Python {facts['python']})")
    for dist, v in versions.items():
        if dist != "diffill":
            print(f"  {dist:<12} {v}")
    print(f"model        {facts['model']}")
    print(f"parameters   {facts['parameters']:,} ({facts['parameters'] / 1e6:.1f}M)")
    print(f"device       {facts['device']}")
    print(f"dtype        {facts['dtype']}")
    info = facts["training"]
    if info:
        tokens = info.get("tokens_seen")
        held = info.get("heldout", {})
        print(
            f"trained      {info.get('steps', '?')} steps"
            + (f", {tokens / 1e6:.1f}M tokens" if tokens else "")
            + (f", held-out loss {held['token_loss']}" if "token_loss" in held else "")
        )
    return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
    from diffill.model.train import TrainOptions, train

    try:
        opts = TrainOptions(
            corpus=tuple(args.corpus),
            out=args.out,
            size=args.size,
            minutes=args.minutes,
            steps=args.steps,
            device=args.device,
            batch_size=args.batch_size,
            seq_tokens=args.seq_tokens,
            lr=args.lr,
            seed=args.seed,
            tokenizer=args.tokenizer,
        )
    except ValueError as err:
        print(f"diffill train: {err}", file=sys.stderr)
        return EXIT_USAGE
    try:
        folder = train(opts, log=lambda line: print(line, file=sys.stderr, flush=True))
    except ValueError as err:
        print(f"diffill train: {err}", file=sys.stderr)
        return EXIT_FAILED
    print(folder)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="diffill",
        description="Code editing with a masked diffusion language model.",
        epilog="Exit codes: 0 success, 1 failure, 2 usage error.",
    )
    parser.add_argument("--version", action="version", version=f"diffill {_versions()['diffill']}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    info = sub.add_parser("info", help="versions, model folder, parameter count and device")
    info.add_argument("--model", default=None, help="model folder (default: the shipped one)")
    info.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(func=cmd_info)

    tr = sub.add_parser("train", help="train a model on source trees (resumable)")
    tr.add_argument(
        "--corpus",
        nargs="+",
        required=True,
        metavar="DIR",
        help="folders of Python source to train on",
    )
    tr.add_argument("--out", required=True, help="run folder (resumed when it exists)")
    tr.add_argument("--size", default="small", choices=["tiny", "small", "base"])
    budget = tr.add_mutually_exclusive_group(required=True)
    budget.add_argument("--minutes", type=float, help="train for this long")
    budget.add_argument("--steps", type=int, help="train for this many optimizer steps")
    tr.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    tr.add_argument("--batch-size", type=int, default=16)
    tr.add_argument("--seq-tokens", type=int, default=512)
    tr.add_argument("--lr", type=float, default=1.5e-3)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--tokenizer", help="reuse this tokenizer.json instead of training one")
    tr.set_defaults(func=cmd_train)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
