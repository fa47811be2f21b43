"""The commands about the model itself: `info` (versions and the model's facts), `train`,
`eval` (score it on infilling tasks), and `serve` (the Language Server over it)."""

from __future__ import annotations

import argparse
import json
import sys
from importlib import metadata
from pathlib import Path

from .exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from .model_options import load_backend, sampler_settings


def versions() -> dict[str, str]:
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
    found = versions()
    backend = load_backend(args)
    if backend is None:
        return EXIT_FAILED
    facts = backend.facts
    if args.json:
        report = {
            "versions": found,
            "python": sys.version.split()[0],
            "model": str(facts.folder),
            "parameters": facts.parameters,
            "device": facts.hardware,
            "dtype": facts.dtype,
            "dtype_reason": facts.dtype_reason,
            "precision": facts.precision,
            "config": facts.config,
            "training": facts.training,
        }
        print(json.dumps(report, indent=2))
        return EXIT_OK
    print(f"diffill {found['diffill']} (Python {sys.version.split()[0]})")
    for dist, v in found.items():
        if dist != "diffill":
            print(f"  {dist:<12} {v}")
    print(f"model        {facts.folder}")
    print(f"parameters   {facts.parameters:,} ({facts.parameters / 1e6:.1f}M)")
    print(f"device       {facts.hardware}")
    # "bfloat16 (auto: this CPU has AVX512-BF16)", "float32 (asked for)"
    print(f"dtype        {facts.dtype} ({facts.dtype_reason})")
    info = facts.training
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
    from diffill.model.training.loop import TrainOptions, train

    try:
        opts = TrainOptions(
            corpus=tuple(args.corpus),
            out=args.out,
            size=args.size,
            minutes=args.minutes,
            steps=args.steps,
            tokens=int(args.tokens) if args.tokens is not None else None,
            device=args.device,
            batch_size=args.batch_size,
            seq_tokens=args.seq_tokens,
            lr=args.lr,
            seed=args.seed,
            tokenizer=args.tokenizer,
            vocab_size=args.vocab_size,
            filtered=args.filtered,
            objective=args.objective,
            workers=args.workers,
            corpus_dir=args.corpus_dir,
            save_minutes=args.save_minutes,
            block_size=args.block_size,
            fim_order=args.fim_order,
            extra_block_share=args.extra_block_share,
            init=args.init,
            warmup_steps=args.warmup_steps,
            plain_share=args.plain_share,
            compile=args.compile,
            precision=args.precision,
            optimizer=args.optimizer,
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


def cmd_eval(args: argparse.Namespace) -> int:
    from diffill.model import evaluation

    try:
        if args.tasks:
            tasks = evaluation.read_tasks(args.tasks)
        else:
            tasks = evaluation.corpus_tasks(args.corpus, per_kind=args.n, seed=args.seed or 0)
    except (OSError, ValueError) as err:
        print(f"diffill eval: {err}", file=sys.stderr)
        return EXIT_FAILED
    if args.write_tasks:
        evaluation.write_tasks(tasks, args.write_tasks)
    backend = load_backend(args, max_context_tokens=args.max_context)
    if backend is None:
        return EXIT_FAILED
    sampler = sampler_settings(args)
    line_stop = not args.no_line_stop
    cut_loops = not args.no_loop_cut
    results = evaluation.evaluate(
        backend,
        tasks,
        batch_size=args.batch_size,
        length=args.length,
        line_stop=line_stop,
        cut_loops=cut_loops,
        **sampler,
    )
    fixed = None
    if args.fixed_length:
        fixed = evaluation.evaluate(
            backend,
            tasks,
            batch_size=args.batch_size,
            length=args.fixed_length,
            line_stop=line_stop,
            cut_loops=cut_loops,
            **sampler,
        )
    facts = backend.facts
    meta = {
        "model": str(facts.folder),
        "model_type": facts.family,
        "parameters": facts.parameters,
        "model_bytes": facts.weight_bytes,
        "sampler": sampler,
        "length": args.length,
        "line_stop": line_stop,
        "cut_loops": cut_loops,
        "source": args.tasks or list(args.corpus),
        "seed": args.seed or 0,
        "max_context_tokens": args.max_context,
    }
    rep = evaluation.report(results, meta)
    if fixed is not None:
        rep["length_head"] = evaluation.length_head_report(results, fixed, args.fixed_length)
    if args.json:
        Path(args.json).write_text(json.dumps(rep, indent=1) + "\n")
    _print_eval_table(rep["summary"])
    if fixed is not None:
        _print_length_table(rep["length_head"])
    return EXIT_OK


def _print_length_table(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    n = report["fixed_length"]
    table = Table(title=f"length head: predicted length against a fixed {n}-token canvas")
    cols = ["tasks", "within_0", "within_2", "exact_predicted", "exact_fixed", "gain"]
    table.add_column("set")
    for c in cols:
        table.add_column(c.replace("_", " "), justify="right")
    for kind, row in report["sets"].items():
        table.add_row(kind, *(str(row[c]) for c in cols))
    # Piped output would be cut to 80 columns and the figures truncated.
    Console(width=None if sys.stdout.isatty() else 160).print(table)


def _print_eval_table(summary: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="diffill eval")
    cols = [
        "tasks",
        "exact_match",
        "edit_similarity",
        "parse_rate",
        "pass_at_1",
        "length_acc_exact",
        "length_acc_within_2",
        "mean_steps",
        "calls_per_token",
        "mean_seconds",
    ]
    table.add_column("set")
    for c in cols:
        table.add_column(c.replace("_", " "), justify="right")
    for kind, row in summary.items():
        table.add_row(kind, *("-" if row[c] is None else str(row[c]) for c in cols))
    # Piped output would be cut to 80 columns and the figures truncated.
    Console(width=None if sys.stdout.isatty() else 160).print(table)


def cmd_serve(args: argparse.Namespace) -> int:
    from diffill.server.lsp import Settings, build_server, serve

    # The model loads after the client connects (on the server's model thread), so a
    # folder that does not load is reported to the editor instead of killing the server.
    server = build_server(settings=Settings(model=args.model, device=args.device, dtype=args.dtype))
    try:
        # LSP's exit code: 0 after shutdown, 1 when the client exits or leaves without it.
        return serve(server, tcp=args.tcp, log_file=args.log_file)
    except OSError as err:
        print(f"diffill serve: {err}", file=sys.stderr)
        return EXIT_FAILED
