"""The `diffill` command line: its parser (every subcommand and option, with their help)
and `main`. The commands themselves are in `edit_commands` and `model_commands`.

One parser definition, so this module is long in options rather than logic.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .edit_commands import cmd_fill, cmd_refactor
from .exit_codes import EXIT_USAGE
from .model_commands import cmd_eval, cmd_info, cmd_serve, cmd_train, versions
from .model_options import add_model_folder, add_model_options
from .pull import NAMES, cmd_pull


def _host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, not {value!r}")
    return host, int(port)


def _command(sub, func, name: str, **kwargs) -> argparse.ArgumentParser:
    """A subcommand's parser, run by `func` (named here, beside the command's name)."""
    command = sub.add_parser(name, **kwargs)
    command.set_defaults(func=func)
    return command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="diffill",
        description="Code editing with a masked diffusion language model.",
        epilog="Exit codes: 0 success, 1 failure, 2 usage error, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"diffill {versions()['diffill']}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    info = _command(
        sub, cmd_info, "info", help="versions, model folder, parameter count and device"
    )
    add_model_folder(info)
    info.add_argument("--json", action="store_true", help="print one JSON object")

    tr = _command(sub, cmd_train, "train", help="train a model on source trees (resumable)")
    tr.add_argument(
        "--corpus",
        nargs="+",
        required=True,
        metavar="DIR",
        help="folders of Python source to train on, or one corpus folder built before",
    )
    tr.add_argument("--out", required=True, help="run folder (resumed when it exists)")
    tr.add_argument("--size", default="small", choices=["tiny", "proxy", "small", "base"])
    budget = tr.add_mutually_exclusive_group(required=True)
    budget.add_argument("--minutes", type=float, help="train for this long")
    budget.add_argument("--steps", type=int, help="train for this many optimizer steps")
    budget.add_argument(
        "--tokens",
        type=float,
        help="train on this many tokens computed on (padding and noisy copies included): "
        "equal compute across objectives",
    )
    tr.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    tr.add_argument("--batch-size", type=int, default=16)
    tr.add_argument("--seq-tokens", type=int, default=512)
    tr.add_argument("--lr", type=float, default=1.5e-3)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument(
        "--optimizer",
        default="adamw",
        choices=["adamw", "muon"],
        help="adamw, or muon: Muon for the blocks' weight matrices and AdamW for the "
        "embedding and norms, at one learning rate (default adamw)",
    )
    tr.add_argument("--tokenizer", help="reuse this tokenizer.json instead of training one")
    tr.add_argument(
        "--vocab-size",
        type=int,
        default=8192,
        help="vocabulary of the tokenizer trained when --tokenizer is not given (default 8192)",
    )
    tr.add_argument(
        "--no-filter",
        dest="filtered",
        action="store_false",
        help="build the corpus with generated, minified and vendored files and duplicates "
        "left in (a data-filtering ablation; evaluation's reserved files stay out)",
    )
    tr.add_argument(
        "--objective",
        default="diffusion",
        choices=["diffusion", "fim-ar", "block-ar", "block-mixed", "block-diffusion"],
        help="diffusion (the masked-diffusion model), fim-ar (the autoregressive peer it is "
        "measured against), or the block-diffusion model's: block-ar (phase 1, a causal FIM "
        "LM), block-mixed (AR plus block diffusion), block-diffusion (diffusion only)",
    )
    tr.add_argument("--block-size", type=int, default=32, help="block model: tokens per block")
    tr.add_argument(
        "--fim-order", default="spm", choices=["spm", "psm"], help="block model: FIM order"
    )
    tr.add_argument(
        "--extra-block-share",
        type=float,
        default=0.15,
        help="block model: share of the context's tokens that also get noisy blocks",
    )
    tr.add_argument("--init", help="start a new run from this model folder's weights")
    tr.add_argument("--warmup-steps", type=int, default=200)
    tr.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16"],
        help="arithmetic of the training step: auto takes bf16 only where it is measured "
        "1.2x faster than fp32 here (default auto)",
    )
    tr.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the training step (block model batches are padded to one shape)",
    )
    tr.add_argument(
        "--plain-share",
        type=float,
        default=0.2,
        help="share of examples that are plain windows without a gap (default 0.2)",
    )
    tr.add_argument(
        "--workers", type=int, default=0, help="processes building batches (default 0: none)"
    )
    tr.add_argument(
        "--save-minutes", type=float, default=10.0, help="checkpoint interval (default 10)"
    )
    tr.add_argument(
        "--corpus-dir",
        help="where the built corpus goes (default OUT/corpus); --corpus may name a built one",
    )

    fill = _command(
        sub,
        cmd_fill,
        "fill",
        help="edit one span of one file (fill, rewrite, fix or complete)",
        description="Edit one span of FILE. Lines and columns are 1-based; columns count "
        "characters and a range's end column is exclusive. Prints a unified diff unless "
        "--write or --json.",
    )
    fill.add_argument("file")
    where = fill.add_mutually_exclusive_group(required=True)
    where.add_argument("--line", metavar="N[-M]", help="whole lines N to M")
    where.add_argument("--range", metavar="L1:C1-L2:C2", help="a character range")
    where.add_argument("--at", metavar="L:C", help="a cursor position (empty selection)")
    fill.add_argument("--intent", choices=["fill", "rewrite", "fix", "complete"], default="fill")
    fill.add_argument(
        "--strength",
        type=float,
        default=1.0,
        help="rewrite: share of the span re-noised, in (0, 1] (default 1)",
    )
    fill.add_argument(
        "--no-snap", action="store_true", help="do not grow the selection to whole statements"
    )
    fill.add_argument("--language", help="override the language found from the file name")
    fill.add_argument("--write", action="store_true", help="change the file")
    fill.add_argument("--json", action="store_true", help="print one JSON object")
    add_model_options(fill)

    ref = _command(
        sub,
        cmd_refactor,
        "refactor",
        help="batch edits over files and folders",
        description="Find spans in every file under PATH (respecting .gitignore) and "
        "rewrite them in batches. Dry run by default: a unified diff on stdout.",
    )
    ref.add_argument("paths", nargs="+", metavar="PATH")
    ref.add_argument(
        "--select",
        required=True,
        metavar="todo|errors|QUERY",
        help="todo: placeholder bodies; errors: syntax errors; anything else: "
        "a tree-sitter query whose @target capture is the span",
    )
    ref.add_argument("--lang", help="only files of this language")
    mode = ref.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="change the files")
    mode.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 when something would change"
    )
    mode.add_argument("--interactive", action="store_true", help="ask y/n/a/q per file")
    ref.add_argument("--json", action="store_true", help="one JSON object per span")
    ref.add_argument("--jobs", type=int, default=1, help="processes for parsing (default 1)")
    ref.add_argument("--batch-size", type=int, default=8, help="spans per model batch")
    ref.add_argument("--limit", type=int, help="at most this many spans")
    ref.add_argument(
        "--force", action="store_true", help="write even when the git tree has uncommitted changes"
    )
    ref.add_argument(
        "--max-bytes", type=int, default=1_000_000, help="skip larger files (default 1000000)"
    )
    add_model_options(ref)
    cluster = ref.add_argument_group("cluster (pip install 'diffill[ray]')")
    cluster.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="run the model on Ray actors: local (a runtime on this machine), auto (the "
        "cluster this machine belongs to) or ray://HOST:PORT (Ray Client); this process "
        "reads, hashes and writes the files. Actors use a GPU where the cluster has one "
        "(--device is not used)",
    )
    cluster.add_argument(
        "--ray-actors",
        type=int,
        metavar="N",
        help="model actors to start (default: one per GPU, else one per as many CPUs as a "
        "local run uses threads, which keeps the edits a local run's)",
    )

    ev = _command(sub, cmd_eval, "eval", help="score the model on infilling tasks")
    src = ev.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--tasks",
        metavar="FILE.jsonl",
        help="tasks {task_id, prompt, suffix, canonical_solution, test?, entry_point?}",
    )
    src.add_argument(
        "--corpus",
        nargs="+",
        metavar="DIR",
        help="build single-line, multi-line and random-span tasks from the "
        "held-out files under DIR (source trees, or one built corpus folder)",
    )
    ev.add_argument("--n", type=int, default=100, help="tasks per set with --corpus")
    ev.add_argument("--length", type=int, help="fixed canvas length instead of predicted")
    ev.add_argument(
        "--fixed-length",
        type=int,
        metavar="N",
        help="also decode every task on a fixed N-token canvas and report what the length "
        "head gains over it",
    )
    ev.add_argument(
        "--no-line-stop",
        action="store_true",
        help="let single-line tasks run past the line's end (by default they are asked as "
        "one line, as an editor asks ghost text; reports before 2026-12-07 ran without)",
    )
    ev.add_argument(
        "--no-loop-cut",
        action="store_true",
        help="keep what the model writes after it falls into a loop (by default a middle "
        "ends before the repeats, as every backend answers; reports before the third "
        "2026-12-07 session ran without)",
    )
    ev.add_argument("--batch-size", type=int, default=8)
    ev.add_argument("--json", metavar="OUT", help="write figures and per-task results here")
    ev.add_argument(
        "--write-tasks", metavar="FILE.jsonl", help="also save the tasks (to rerun them exactly)"
    )
    add_model_options(ev)

    pull = _command(
        sub,
        cmd_pull,
        "pull",
        help="download an open diffusion checkpoint, for --model NAME",
        description="Download a published open checkpoint into the Hugging Face cache "
        "(HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub), only the files a "
        "model folder needs; an interrupted download resumes. Afterwards --model NAME (and "
        "the server setting diffill.model) finds it there without the network.",
    )
    pull.add_argument("name", metavar="NAME", help=f"one of {', '.join(NAMES)}")

    srv = _command(
        sub,
        cmd_serve,
        "serve",
        help="run the Language Server (stdio by default)",
        description="Speak LSP over stdio, or over TCP with --tcp. Settings the editor sends "
        "under `diffill` override --model, --device and --dtype.",
    )
    srv.add_argument("--tcp", type=_host_port, metavar="HOST:PORT", help="listen on TCP")
    add_model_folder(srv)
    srv.add_argument("--log-file", metavar="PATH", help="also write the server's log here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    return args.func(args)
