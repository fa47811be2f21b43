"""The training corpus, built once and reused: source trees are walked and read, noise is
filtered out (both by `sources`), exact and near-exact duplicates are dropped, files are
split into train and held-out by content hash, tokenized in parallel and packed into
memory-mapped files.

A built corpus is a folder:

    manifest.json   format version, source roots, tokenizer hash, what was dropped and why
    text.bin        the kept files' UTF-8 bytes, back to back
    tokens.bin      their tokens (uint16), back to back, each file tokenized whole
    files.npy       per file: byte start, byte end, token start, token end, split (0 train,
                    1 held-out)
    paths.txt       per file: the path it was read from
    units.npy       the syntax units spans are drawn from (`spans.syntax_units`), as
                    (start, end) character offsets, file after file; unit_index.npy holds
                    where each file's run starts (N + 1 entries). Computed once here, in
                    parallel, so the data loader never parses (older builds lack them and
                    the loader parses each window instead).

Duplicates are removed before the split, so no held-out file has a near-copy in train.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from ..tokenizer import CodeTokenizer, train_tokenizer
from .sources import content_hash, is_heldout, iter_python_files, read_source
from .spans import syntax_units

FORMAT_VERSION = 1
TRAIN, HELDOUT = 0, 1

# Near-duplicate detection: MinHash over shingles of two normalised lines, banded LSH,
# then a check of the estimated Jaccard similarity.
MINHASH_PERMUTATIONS = 64
LSH_BANDS = 16
NEAR_DUPLICATE_JACCARD = 0.85
MIN_SHINGLES = 8  # smaller files are judged by exact and normalised hashes only

_rng = np.random.default_rng(20261126)
_HASH_A = _rng.integers(1, 2**63, MINHASH_PERMUTATIONS, dtype=np.uint64) | np.uint64(1)
_HASH_B = _rng.integers(0, 2**63, MINHASH_PERMUTATIONS, dtype=np.uint64)
_COMMENT = re.compile(r"(?m)^\s*#.*$")
_SPACE = re.compile(r"\s+")


class CorpusError(ValueError):
    """A corpus folder that cannot be built or read; the message says why."""


@dataclass
class CorpusStats:
    files_seen: int = 0
    too_large: int = 0
    unreadable: int = 0  # not UTF-8, or an OS error
    empty: int = 0
    reserved: int = 0  # kept for independent evaluation (HumanEval)
    generated: int = 0
    minified: int = 0
    vendored: int = 0
    exact_duplicates: int = 0
    near_duplicates: int = 0
    train_files: int = 0
    heldout_files: int = 0
    train_bytes: int = 0
    train_tokens: int = 0
    heldout_tokens: int = 0
    seconds: float = 0.0
    examples_of_near_duplicates: list[list[str]] = field(default_factory=list)


@dataclass
class _Candidate:
    path: str
    text: str | None
    reason: str  # why it was dropped, when text is None (a `CorpusStats` field)
    exact: str = ""
    normalised: str = ""
    signature: np.ndarray | None = None


def normalise(text: str) -> str:
    """The text with comments and all whitespace gone: two files equal after this differ
    only in formatting and comments."""
    return _SPACE.sub("", _COMMENT.sub("", text))


def minhash(text: str) -> np.ndarray | None:
    """MinHash signature of the file's shingles (pairs of consecutive non-blank lines with
    inner whitespace collapsed), or None for files too small to judge this way."""
    lines = [_SPACE.sub(" ", line.strip()) for line in text.splitlines()]
    lines = [line for line in lines if line]
    if len(lines) < MIN_SHINGLES + 1:
        return None
    shingles = {zlib.crc32(f"{a}\n{b}".encode()) for a, b in zip(lines, lines[1:])}
    x = np.fromiter(shingles, dtype=np.uint64, count=len(shingles))
    # Multiply-shift hashing, one independent function per permutation (wrapping uint64).
    with np.errstate(over="ignore"):
        h = (_HASH_A[:, None] * x[None, :] + _HASH_B[:, None]) >> np.uint64(32)
    return h.min(axis=1).astype(np.uint32)


def _read(path: str, filtered: bool = True) -> _Candidate:
    text, reason = read_source(path, filtered)
    if text is None:
        return _Candidate(path, None, reason)
    norm = hashlib.sha1(normalise(text).encode("utf-8")).hexdigest()
    return _Candidate(path, text, "", content_hash(text), norm, minhash(text))


class _NearDuplicates:
    """Banded LSH index over MinHash signatures."""

    def __init__(self) -> None:
        self.bands: list[dict[bytes, int]] = [{} for _ in range(LSH_BANDS)]
        self.signatures: list[np.ndarray] = []
        self.paths: list[str] = []

    def find(self, sig: np.ndarray) -> str | None:
        """The path of an indexed file this one nearly duplicates, or None."""
        for band, key in zip(self.bands, self._keys(sig)):
            j = band.get(key)
            if j is not None and (self.signatures[j] == sig).mean() >= NEAR_DUPLICATE_JACCARD:
                return self.paths[j]
        return None

    def add(self, sig: np.ndarray, path: str) -> None:
        j = len(self.signatures)
        self.signatures.append(sig)
        self.paths.append(path)
        for band, key in zip(self.bands, self._keys(sig)):
            band.setdefault(key, j)

    def find_or_add(self, sig: np.ndarray, path: str) -> str | None:
        """The path of a kept file this one nearly duplicates, or None (then it is kept)."""
        twin = self.find(sig)
        if twin is None:
            self.add(sig, path)
        return twin

    @staticmethod
    def _keys(sig: np.ndarray) -> list[bytes]:
        rows = MINHASH_PERMUTATIONS // LSH_BANDS
        return [sig[i * rows : (i + 1) * rows].tobytes() for i in range(LSH_BANDS)]


def _deduplicated(candidates: Iterable[_Candidate], stats: CorpusStats) -> list[tuple[str, str]]:
    """(path, text) of the readable, clean candidates, the first of each group of exact or
    near duplicates kept."""
    kept: list[tuple[str, str]] = []
    exact: set[str] = set()
    normalised: set[str] = set()
    near = _NearDuplicates()
    for c in candidates:
        if c.text is None:
            setattr(stats, c.reason, getattr(stats, c.reason) + 1)
            continue
        if c.exact in exact:
            stats.exact_duplicates += 1
            continue
        exact.add(c.exact)
        if c.normalised in normalised:
            stats.near_duplicates += 1
            continue
        normalised.add(c.normalised)
        if c.signature is not None:
            twin = near.find_or_add(c.signature, c.path)
            if twin is not None:
                stats.near_duplicates += 1
                if len(stats.examples_of_near_duplicates) < 20:
                    stats.examples_of_near_duplicates.append([c.path, twin])
                continue
        kept.append((c.path, c.text))
    return kept


def _unfiltered(candidates: Iterable[_Candidate], stats: CorpusStats) -> list[tuple[str, str]]:
    """(path, text) of every readable candidate, noise and duplicates included (the data-
    filtering ablation), except train files that copy or nearly copy a held-out file: the
    held-out split stays unseen either way."""
    readable: list[tuple[_Candidate, str, bool]] = []  # candidate, text, held out
    for c in candidates:
        if c.text is None:
            setattr(stats, c.reason, getattr(stats, c.reason) + 1)
        else:
            readable.append((c, c.text, is_heldout(c.text)))
    held_normalised = {c.normalised for c, _, held in readable if held}
    near = _NearDuplicates()
    for c, _, held in readable:
        if held and c.signature is not None:
            near.add(c.signature, c.path)
    kept: list[tuple[str, str]] = []
    for c, text, held in readable:
        if not held and (
            c.normalised in held_normalised
            or (c.signature is not None and near.find(c.signature) is not None)
        ):
            stats.near_duplicates += 1
            continue
        kept.append((c.path, text))
    return kept


def build(
    roots: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    tokenizer: CodeTokenizer | None = None,
    vocab_size: int = 8192,
    workers: int | None = None,
    log: Callable[[str], None] = print,
    filtered: bool = True,
) -> Corpus:
    """Build a corpus folder at `out` from the Python files under `roots`.

    Without a tokenizer one is trained on the train split and saved beside the corpus.
    Unfiltered, noise (generated, minified, vendored) and duplicates stay in (`_unfiltered`);
    the reserved evaluation files never do.
    """
    t0 = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    workers = max(1, workers or os.cpu_count() or 1)
    stats = CorpusStats()
    paths = [str(p) for p in iter_python_files(roots)]
    stats.files_seen = len(paths)
    if not paths:
        raise CorpusError(f"no Python files under {[str(r) for r in roots]}")

    with ProcessPoolExecutor(workers) as pool:
        # Sorted paths and an ordered map keep the first of each duplicate group, the same
        # one on every run.
        candidates = pool.map(partial(_read, filtered=filtered), paths, chunksize=64)
        kept = _deduplicated(candidates, stats) if filtered else _unfiltered(candidates, stats)
    if not kept:
        raise CorpusError(f"every Python file under {[str(r) for r in roots]} was filtered out")
    log(
        f"corpus: {len(kept)} of {len(paths)} files kept in {time.time() - t0:.0f}s "
        f"({stats.exact_duplicates} exact and {stats.near_duplicates} near duplicates, "
        f"{stats.generated + stats.minified + stats.vendored} generated/minified/vendored)"
    )

    split = np.array([HELDOUT if is_heldout(text) else TRAIN for _, text in kept], dtype=np.int64)
    if tokenizer is None:
        train_texts = (text for (_, text), s in zip(kept, split) if s == TRAIN)
        tokenizer = train_tokenizer(train_texts, vocab_size)
        log(f"corpus: trained a {tokenizer.vocab_size}-token tokenizer")
    if tokenizer.vocab_size > 2**16:
        raise CorpusError("tokens are stored as uint16; the vocabulary must be at most 65,536")
    tokenizer.save(out / "tokenizer.json")

    files = np.zeros((len(kept), 5), dtype=np.int64)
    byte_pos = tok_pos = 0
    with open(out / "text.bin.tmp", "wb") as text_f, open(out / "tokens.bin.tmp", "wb") as tok_f:
        # The tokenizer runs on every core inside encode_batch; chunks bound the memory.
        for lo in range(0, len(kept), 512):
            chunk = kept[lo : lo + 512]
            ids = tokenizer.encode_batch([text for _, text in chunk])
            for i, ((_, text), row) in enumerate(zip(chunk, ids), lo):
                data = text.encode("utf-8")
                text_f.write(data)
                tok_f.write(np.asarray(row, dtype=np.uint16).tobytes())
                files[i] = (byte_pos, byte_pos + len(data), tok_pos, tok_pos + len(row), split[i])
                byte_pos += len(data)
                tok_pos += len(row)
    train_rows = files[files[:, 4] == TRAIN]
    stats.train_files = len(train_rows)
    stats.heldout_files = len(files) - len(train_rows)
    stats.train_bytes = int((train_rows[:, 1] - train_rows[:, 0]).sum())
    stats.train_tokens = int((train_rows[:, 3] - train_rows[:, 2]).sum())
    stats.heldout_tokens = int((files[:, 3] - files[:, 2]).sum()) - stats.train_tokens
    stats.seconds = round(time.time() - t0, 1)
    units, unit_index = _units_of([text for _, text in kept], workers)
    np.save(out / "units.npy", units)
    np.save(out / "unit_index.npy", unit_index)
    np.save(out / "files.npy", files)
    (out / "paths.txt").write_text("".join(path + "\n" for path, _ in kept), encoding="utf-8")
    os.replace(out / "text.bin.tmp", out / "text.bin")
    os.replace(out / "tokens.bin.tmp", out / "tokens.bin")
    manifest = {
        "format_version": FORMAT_VERSION,
        "roots": [str(Path(r).resolve()) for r in roots],
        "tokenizer_sha1": hashlib.sha1(tokenizer.to_json().encode()).hexdigest(),
        "filtered": filtered,
        "stats": asdict(stats),
    }
    # Written last: a folder without a manifest is an interrupted build.
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    log(
        f"corpus: {stats.train_files} train files ({stats.train_tokens / 1e6:.1f}M tokens), "
        f"{stats.heldout_files} held out ({stats.heldout_tokens / 1e6:.2f}M tokens), "
        f"built in {stats.seconds:.0f}s"
    )
    return Corpus(out)


def _units_of(texts: list[str], workers: int) -> tuple[np.ndarray, np.ndarray]:
    """Every file's syntax units, concatenated (U, 2) int32, and each file's first row."""
    with ProcessPoolExecutor(workers) as pool:
        per_file = list(pool.map(syntax_units, texts, chunksize=32))
    index = np.zeros(len(texts) + 1, dtype=np.int64)
    index[1:] = np.cumsum([len(u) for u in per_file])
    flat = [pair for u in per_file for pair in u]
    return np.asarray(flat, dtype=np.int32).reshape(-1, 2), index


def is_corpus(folder: str | os.PathLike[str]) -> bool:
    return (Path(folder) / "manifest.json").is_file()


class Corpus:
    """A built corpus folder, memory-mapped: opening it costs nothing, whatever its size,
    and worker processes share its pages."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        if not is_corpus(self.folder):
            raise CorpusError(f"{self.folder} is not a built corpus (no manifest.json)")
        try:
            self.manifest = json.loads((self.folder / "manifest.json").read_text())
            if self.manifest.get("format_version") != FORMAT_VERSION:
                raise CorpusError(
                    f"{self.folder} has corpus format {self.manifest.get('format_version')}, "
                    f"this diffill reads {FORMAT_VERSION}; rebuild it"
                )
            self.files = np.load(self.folder / "files.npy")
            self.text = np.memmap(self.folder / "text.bin", dtype=np.uint8, mode="r")
            self.tokens = np.memmap(self.folder / "tokens.bin", dtype=np.uint16, mode="r")
            self.paths = (self.folder / "paths.txt").read_text(encoding="utf-8").splitlines()
            self._units: np.ndarray | None = None
            self._unit_index: np.ndarray | None = None
            if (self.folder / "units.npy").is_file():
                self._units = np.load(self.folder / "units.npy", mmap_mode="r")
                self._unit_index = np.load(self.folder / "unit_index.npy")
        except (OSError, ValueError, json.JSONDecodeError) as err:
            raise CorpusError(f"cannot read the corpus in {self.folder}: {err}") from None
        if len(self.paths) != len(self.files):
            raise CorpusError(f"{self.folder}: paths.txt and files.npy disagree; rebuild it")

    @property
    def tokenizer(self) -> CodeTokenizer:
        return CodeTokenizer.from_file(self.folder / "tokenizer.json")

    def split(self, which: int) -> np.ndarray:
        """Indices of the files of one split (TRAIN or HELDOUT)."""
        return np.flatnonzero(self.files[:, 4] == which)

    def file_text(self, i: int) -> str:
        a, b = self.files[i, :2]
        return bytes(self.text[a:b]).decode("utf-8")

    def file_units(self, i: int) -> np.ndarray | None:
        """(K, 2) character ranges of file i's syntax units, or None for a corpus built
        before they were stored."""
        if self._units is None or self._unit_index is None:
            return None
        return self._units[self._unit_index[i] : self._unit_index[i + 1]]

    def file_tokens(self, i: int) -> np.ndarray:
        a, b = self.files[i, 2:4]
        return self.tokens[a:b]

    def texts(self, which: int) -> Iterable[tuple[str, str]]:
        """(path, text) of every file of a split."""
        for i in self.split(which):
            yield self.paths[i], self.file_text(int(i))
