"""Training examples, endlessly, from one split of a built corpus: windows of code with
spans cut out, laid out for each objective (the masked-diffusion model's canvases, the
autoregressive peer's FIM sequences, the block model's clean stream and noisy groups),
and the DataLoader dataset that batches them in worker processes.
"""

from __future__ import annotations

import functools
import random

import numpy as np
import torch

from ..tokenizer import CodeTokenizer
from . import blockdiff as bdo
from .corpus import Corpus
from .fim import ARBatch, fim_example
from .fim import collate as ar_collate
from .objective import Batch, collate, plain_example, span_example
from .spans import SourceFile, sample_spans

OBJECTIVES = ("diffusion", "fim-ar", *bdo.OBJECTIVES)

CHARS_PER_TOKEN = 3.4  # measured on Python source with the shipped tokenizer


class ExampleStream:
    """Endless training examples from one split of a built corpus, deterministic for a seed.

    Span examples cut the file's text and tokenize the pieces separately, as the infiller
    does at a cursor, so token boundaries at a cut look as they will in use; plain windows
    come straight from the packed tokens.
    """

    def __init__(
        self,
        corpus: Corpus,
        split: int,
        tok: CodeTokenizer,
        span_positions: int,
        seq_tokens: int,
        seed: int,
        plain_share: float = 0.2,
        objective: str = "diffusion",
        block_size: int = 32,
        fim_order: str = "spm",
        extra_block_share: float = 0.15,
        pad_to: int | None = None,
    ) -> None:
        self.index = corpus.split(split)
        if not len(self.index):
            raise ValueError("the corpus has no files in this split")
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, not {objective!r}")
        self.corpus = corpus
        self.tok = tok
        self.span_positions = span_positions
        self.seq_tokens = seq_tokens
        self.plain_share = plain_share
        self.objective = objective
        self.pad_to = pad_to  # block objectives: every batch this long (noisy groups too)
        self.block = (
            bdo.BlockOptions(objective, block_size, fim_order, extra_block_share, pad_to)
            if objective in bdo.OBJECTIVES
            else None
        )
        self.rng = random.Random(seed)
        rows = corpus.files[self.index]
        self.cum = np.cumsum(rows[:, 1] - rows[:, 0])

    @functools.lru_cache(maxsize=256)  # noqa: B019 - one stream per process, bounded
    def _text(self, i: int) -> str:
        return self.corpus.file_text(i)

    def _pick(self) -> int:
        at = self.rng.randrange(int(self.cum[-1]))
        return int(self.index[np.searchsorted(self.cum, at, side="right")])

    def example(self):
        rng = self.rng
        i = self._pick()
        if rng.random() < self.plain_share:
            toks = self.corpus.file_tokens(i)
            start = rng.randrange(max(1, len(toks) - self.seq_tokens // 2))
            ids = toks[start : start + self.seq_tokens].tolist()
            if self.objective == "fim-ar":
                return ids
            if self.block is not None:
                return bdo.plain_block_example(self.tok, ids, rng, self.block)
            return plain_example(self.tok, ids, self.seq_tokens)
        text = self._text(i)
        width = int(self.seq_tokens * CHARS_PER_TOKEN)
        start = rng.randrange(max(1, len(text) - width // 2))
        start = text.rfind("\n", 0, start) + 1 if start else 0
        end = min(len(text), start + width)
        window = SourceFile(self.corpus.paths[i], text[start:end])
        units = self.corpus.file_units(i)
        if units is not None:
            # Precomputed when the corpus was built: the units inside the window.
            inside = units[(units[:, 0] >= start) & (units[:, 1] <= end)] - start
            window = SourceFile(window.path, window.text, [(int(a), int(b)) for a, b in inside])
        # Else syntax units come from parsing the window alone (an older corpus): files are
        # drawn by size, and parsing whole large files cost 30 times more than the rest of
        # an example. A window may open inside a block; tree-sitter recovers, and units
        # inside an error are never offered.
        spans = sample_spans(window, 0, len(window.text), rng, rng.randint(1, 6))
        if self.block is not None:
            block_seq = None
            if spans:
                block_seq = bdo.block_example(
                    self.tok,
                    text[start:end],
                    spans[0],
                    rng,
                    self.block,
                    max_tokens=self.seq_tokens + 96,
                    at_file_start=start == 0,
                    at_file_end=end == len(text),
                )
            if block_seq is None:
                ids = self.tok.encode(text[start:end])[: self.seq_tokens]
                block_seq = bdo.plain_block_example(self.tok, ids, rng, self.block)
            return block_seq
        if self.objective == "fim-ar":
            # One gap per sequence (PSM has one middle): the first span the diffusion
            # stream would have cut from the same window.
            seq = None
            if spans:
                seq = fim_example(
                    self.tok,
                    text[start:end],
                    spans[0],
                    start == 0,
                    end == len(text),
                    self.seq_tokens + 96,
                )
            return seq or self.tok.encode(text[start:end])[: self.seq_tokens]
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

    def batch(self, size: int, generator: torch.Generator) -> Batch | ARBatch | bdo.BlockBatch:
        examples = [self.example() for _ in range(size)]
        if self.objective == "fim-ar":
            return ar_collate([e for e in examples if len(e) > 1] or [[0, 0]], self.tok)
        if self.objective in bdo.OBJECTIVES:
            return bdo.collate(examples, self.tok, pad_to=self.pad_to)
        return collate(examples, self.tok, generator)


class Batches(torch.utils.data.IterableDataset):
    """Endless batches; each DataLoader worker runs its own stream with its own seed."""

    def __init__(self, stream_args: dict, batch_size: int, seed: int) -> None:
        super().__init__()
        self.stream_args = stream_args
        self.batch_size = batch_size
        self.seed = seed

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        worker = info.id if info is not None else 0
        stream = ExampleStream(**self.stream_args, seed=self.seed * 1000 + worker)
        gen = torch.Generator().manual_seed(self.seed * 7919 + worker)
        while True:
            yield stream.batch(self.batch_size, gen)
