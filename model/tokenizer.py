"""Byte-level BPE tokenizer for source code (HF `tokenizers`).

Every UTF-8 string round-trips exactly: the byte-level alphabet covers all 256 bytes and
nothing is normalised. Special tokens are only ever inserted by id: text that happens to
contain ``<mask>`` is split like any other text (``encode_special_tokens``), so user code
can never smuggle a control token into the model.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from functools import cached_property
from pathlib import Path

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

# Order fixes the ids of a freshly trained tokenizer; code always looks ids up by name.
SPECIAL_TOKENS: tuple[str, ...] = ("<pad>", "<mask>", "<len>", "<bof>", "<eof>")
# The block-diffusion model's fill-in-the-middle sentinels (see `fim`), appended to a
# tokenizer by `with_fim_tokens`; the ids of the tokens above do not move.
FIM_TOKENS: tuple[str, ...] = ("<suf>", "<pre>")


class TokenizerError(ValueError):
    """Text that cannot be tokenized (for example, lone surrogates), with the reason."""


def check_unicode(text: str) -> None:
    """TokenizerError, naming the index, for text with a lone surrogate (it has no UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise TokenizerError(
            f"text has an unpaired surrogate at index {err.start} "
            "(not valid Unicode, so it has no UTF-8 form to tokenize)"
        ) from None


class ByteTokens:
    """Encoding and decoding shared by diffill's tokenizer and the open checkpoints': an HF
    `tokenizers.Tokenizer` in `_tok` and each token's raw bytes in `_token_bytes`."""

    _tok: Tokenizer
    _token_bytes: list[bytes]
    vocab_size: int
    mask_id: int
    pad_id: int
    special_ids: frozenset[int]

    _check = staticmethod(check_unicode)

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`; raises TokenizerError for lone surrogates."""
        self._check(text)
        if not text:
            return []
        return self._tok.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        for t in texts:
            self._check(t)
        encs = self._tok.encode_batch(list(texts), add_special_tokens=False)
        return [e.ids for e in encs]

    def token_bytes(self, token_id: int) -> bytes:
        return self._token_bytes[token_id]

    @cached_property
    def line_break_ids(self) -> frozenset[int]:
        """Ids of the tokens whose bytes hold a line break ("\n" or "\r"): where the
        middle of a one-line request ends."""
        return frozenset(
            i for i, piece in enumerate(self._token_bytes) if b"\n" in piece or b"\r" in piece
        )

    def encode_with_offsets(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """Token ids of `text` and the character range of each, read from the tokens'
        bytes (a token that ends inside a character ends at that character)."""
        ids = self.encode(text)
        byte_to_char = []
        for i, ch in enumerate(text):
            byte_to_char += [i] * len(ch.encode("utf-8"))
        byte_to_char.append(len(text))
        spans, pos = [], 0
        for x in ids:
            n = len(self._token_bytes[x])
            spans.append((byte_to_char[pos], byte_to_char[min(pos + n, len(byte_to_char) - 1)]))
            pos += n
        return ids, spans

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """Raw bytes of non-special tokens (special tokens contribute nothing)."""
        return b"".join(self._token_bytes[i] for i in ids)

    def decode(self, ids: Iterable[int]) -> str:
        """Text of `ids`; a byte sequence cut mid-character decodes as U+FFFD, never raises."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")


class CodeTokenizer(ByteTokens):
    """A thin wrapper that names the special ids and refuses text it cannot round-trip."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        tokenizer.encode_special_tokens = True
        self._tok = tokenizer
        vocab = tokenizer.get_vocab()
        missing = [s for s in SPECIAL_TOKENS if s not in vocab]
        if missing:
            raise TokenizerError(f"tokenizer lacks special tokens {missing}")
        self.pad_id = vocab["<pad>"]
        self.mask_id = vocab["<mask>"]
        self.len_id = vocab["<len>"]
        self.bof_id = vocab["<bof>"]
        self.eof_id = vocab["<eof>"]
        # None in tokenizers made before the block-diffusion model.
        self.suf_id: int | None = vocab.get("<suf>")
        self.pre_id: int | None = vocab.get("<pre>")
        self.special_ids = frozenset(vocab[s] for s in (*SPECIAL_TOKENS, *FIM_TOKENS) if s in vocab)
        self.vocab_size = tokenizer.get_vocab_size()
        # Byte-level alphabet: each token string maps back to raw bytes without decoding,
        # which lets us decode partial spans (half an emoji) deliberately.
        byte_decoder = {ch: b for b, ch in enumerate(_bytes_to_unicode())}
        self._token_bytes: list[bytes] = []
        for i in range(self.vocab_size):
            piece = tokenizer.id_to_token(i)
            if i in self.special_ids or piece is None:
                self._token_bytes.append(b"")
            else:
                self._token_bytes.append(bytes(byte_decoder[c] for c in piece))

    @classmethod
    def from_file(cls, path: str | Path) -> CodeTokenizer:
        return cls(Tokenizer.from_file(str(path)))

    @property
    def has_fim_tokens(self) -> bool:
        return self.suf_id is not None and self.pre_id is not None

    def with_fim_tokens(self) -> CodeTokenizer:
        """This tokenizer with the FIM sentinels appended (itself if it has them)."""
        if self.has_fim_tokens:
            return self
        tok = Tokenizer.from_str(self._tok.to_str())
        tok.add_special_tokens([AddedToken(t, special=True) for t in FIM_TOKENS])
        return CodeTokenizer(tok)

    def save(self, path: str | Path) -> None:
        self._tok.save(str(path))

    def to_json(self) -> str:
        return self._tok.to_str()


def _bytes_to_unicode() -> list[str]:
    """GPT-2's printable stand-in for each byte value 0..255 (the ByteLevel alphabet)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    bs += list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    table = dict(zip(bs, cs))
    return [chr(table[b]) for b in range(256)]


def train_tokenizer(texts: Iterator[str] | Iterable[str], vocab_size: int = 8192) -> CodeTokenizer:
    """Train a byte-level BPE on `texts` (source files)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        min_frequency=2,
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return CodeTokenizer(tok)
