"""The tokenizer of a Hugging Face-format checkpoint, read with HF `tokenizers` alone.

A folder ships either `tokenizer.json` (LLaDA, most Qwen2 derivatives) or the older pair
`vocab.json` + `merges.txt` with its added tokens listed in `tokenizer_config.json` (the
Dream family ships a Python `DreamTokenizer` over that pair). The pair is turned into the
same byte-level BPE that `transformers`' `Qwen2Tokenizer` builds from it (NFC, Qwen2's
pre-tokenizer pattern, byte-level decoding); `tests/test_hf_checkpoints.py` checks that
against `transformers`. Other slow-tokenizer files (another tokenizer_class, a SentencePiece
`tokenizer.model`) are converted by `transformers` when the `hf` extra is installed. No
code from the folder is ever executed.

Special tokens are named in `tokenizer_config.json` or `special_tokens_map.json`
(`bos_token`, `eos_token`, `pad_token`, `mask_token`); which of them the model uses is
decided in `checkpoint`, together with the ids in `config.json`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers
from tokenizers.models import BPE

from ...checkpoint import CheckpointError, read_json
from ...tokenizer import ByteTokens, _bytes_to_unicode

# `Qwen2Tokenizer`'s pre-tokenizer (transformers, tokenization_qwen2.PRETOKENIZE_REGEX): the
# pattern is part of the tokenizer's definition but is not stored in vocab.json/merges.txt.
QWEN2_PRETOKENIZE = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"""
    r"""| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
# tokenizer_class values whose vocab.json/merges.txt pair is a Qwen2 byte-level BPE.
QWEN2_TOKENIZER_CLASSES = ("Qwen2Tokenizer", "Qwen2TokenizerFast", "DreamTokenizer")
SPECIAL_NAMES = ("bos_token", "eos_token", "pad_token", "mask_token")


def _token_text(value) -> str | None:
    """A special token as tokenizer files write it: a string or an AddedToken dict."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]
    return None


def read_tokenizer_config(folder: Path) -> dict:
    """`tokenizer_config.json` (or {}), with special token names filled in from
    `special_tokens_map.json` where the config leaves them out."""
    path = folder / "tokenizer_config.json"
    config = read_json(path) if path.is_file() else {}
    smap_path = folder / "special_tokens_map.json"
    smap = read_json(smap_path) if smap_path.is_file() else {}
    for name in SPECIAL_NAMES:
        if _token_text(config.get(name)) is None and _token_text(smap.get(name)) is not None:
            config[name] = smap[name]
    return config


def _converted_by_transformers(folder: Path, why: str) -> Tokenizer:
    """The fast tokenizer `transformers` converts from the folder's slow-tokenizer files
    (the optional `hf` extra); never with the folder's own code."""
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise CheckpointError(
            f"{folder} has no tokenizer.json and {why}; converting it needs transformers: "
            "pip install 'diffill[hf]' (or save a tokenizer.json into the folder)"
        ) from None
    try:
        converted = AutoTokenizer.from_pretrained(
            str(folder), local_files_only=True, trust_remote_code=False
        )
        backend = converted.backend_tokenizer
    except Exception as err:  # transformers raises many kinds
        raise CheckpointError(
            f"{folder} has no tokenizer.json and transformers could not convert its "
            f"tokenizer files ({why}): {err}"
        ) from None
    return Tokenizer.from_str(backend.to_str())


def _from_vocab_and_merges(folder: Path, config: dict) -> Tokenizer:
    cls = config.get("tokenizer_class")
    if cls is not None and cls not in QWEN2_TOKENIZER_CLASSES:
        return _converted_by_transformers(folder, f"its tokenizer_class is {cls!r}")
    try:
        bpe = BPE.from_file(str(folder / "vocab.json"), str(folder / "merges.txt"))
    except Exception as err:  # tokenizers raises bare Exceptions
        raise CheckpointError(f"cannot read {folder}/vocab.json and merges.txt: {err}") from None
    tok = Tokenizer(bpe)
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_PRETOKENIZE), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    added = config.get("added_tokens_decoder", {})
    if not isinstance(added, dict):
        raise CheckpointError(f"{folder}/tokenizer_config.json: added_tokens_decoder is not a map")
    for key in sorted(added, key=lambda k: int(k)):
        spec = added[key]
        content = _token_text(spec)
        if content is None:
            raise CheckpointError(
                f"{folder}/tokenizer_config.json: added token {key} has no content"
            )
        token = AddedToken(content, special=bool(spec.get("special", False)), normalized=False)
        if spec.get("special", False):
            tok.add_special_tokens([token])
        else:
            tok.add_tokens([token])
        if tok.token_to_id(content) != int(key):
            raise CheckpointError(
                f"{folder}/tokenizer_config.json puts {content!r} at id {key}, but with "
                f"vocab.json it lands at {tok.token_to_id(content)} (vocab.json and the added "
                "tokens do not belong together)"
            )
    return tok


def load_tokenizer_files(folder: Path) -> tuple[Tokenizer, dict]:
    """The raw tokenizer of `folder` and its (merged) tokenizer config."""
    config = read_tokenizer_config(folder)
    if (folder / "tokenizer.json").is_file():
        try:
            tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        except Exception as err:  # tokenizers raises bare Exceptions
            raise CheckpointError(f"cannot read {folder / 'tokenizer.json'}: {err}") from None
    elif (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file():
        tok = _from_vocab_and_merges(folder, config)
    elif (folder / "tokenizer.model").is_file():
        tok = _converted_by_transformers(folder, "its tokenizer is a SentencePiece model")
    else:
        raise CheckpointError(
            f"model folder {folder} has no tokenizer: it needs tokenizer.json, or vocab.json "
            "and merges.txt (with tokenizer_config.json for the special tokens), or "
            "tokenizer.model"
        )
    return tok, config


def special_token_id(tok: Tokenizer, config: dict, name: str) -> int | None:
    """Id of the special token `name` ("mask_token", ...) the tokenizer files declare."""
    text = _token_text(config.get(name))
    return None if text is None else tok.token_to_id(text)


class HFTokenizer(ByteTokens):
    """The checkpoint's tokenizer with the interface diffill uses (`encode`, `decode`,
    special ids). Text is never parsed into control tokens: ``<|mask|>`` typed in a file
    is encoded as ordinary text, as with the shipped tokenizer."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        *,
        mask_id: int,
        pad_id: int,
        eos_id: int | None,
        bos_id: int | None,
        slack_ids: Iterable[int],
    ) -> None:
        tokenizer.encode_special_tokens = True
        self._tok = tokenizer
        self.vocab_size = tokenizer.get_vocab_size(with_added_tokens=True)
        self.mask_id = mask_id
        self.pad_id = pad_id  # fills batch padding; also a slack token
        self.eos_id = eos_id
        self.bos_id = bos_id
        # Tokens a model writes in the unused part of a canvas; removed from results.
        self.slack_ids = frozenset(slack_ids) | {pad_id}
        added = tokenizer.get_added_tokens_decoder()
        self.special_ids = frozenset(i for i, t in added.items() if t.special) | {mask_id}
        for name, i in (("mask", mask_id), ("pad", pad_id), ("eos", eos_id), ("bos", bos_id)):
            assert i is None or 0 <= i < self.vocab_size, f"{name} id {i} outside the vocabulary"
        self._token_bytes = self._byte_table()

    def _byte_table(self) -> list[bytes]:
        decoder = json.loads(self._tok.to_str()).get("decoder") or {}
        kinds = {decoder.get("type")} | {d.get("type") for d in decoder.get("decoders", [])}
        out: list[bytes] = []
        if "ByteLevel" in kinds:
            table = {ch: b for b, ch in enumerate(_bytes_to_unicode())}
            for i in range(self.vocab_size):
                piece = self._tok.id_to_token(i)
                if piece is None or i in self.special_ids:
                    out.append(b"")
                elif all(c in table for c in piece):
                    out.append(bytes(table[c] for c in piece))
                else:  # an added non-special token: stored as text
                    out.append(piece.encode("utf-8"))
            return out
        # SentencePiece-style vocabularies: "<0xAB>" byte tokens and "▁" for a space.
        for i in range(self.vocab_size):
            piece = self._tok.id_to_token(i)
            if piece is None or i in self.special_ids:
                out.append(b"")
            elif len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
                out.append(bytes([int(piece[3:5], 16)]))
            elif "ByteFallback" in kinds or "Metaspace" in kinds or "Replace" in kinds:
                out.append(piece.replace("\u2581", " ").encode("utf-8"))
            else:
                out.append(self._tok.decode([i], skip_special_tokens=False).encode("utf-8"))
        return out

    def encode_with_offsets(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """Token ids of `text` and each token's character range in `text`, as `tokenizers`
        reports it: a normaliser (NFC) may change the bytes, so they cannot be counted."""
        self._check(text)
        if not text:
            return [], []
        enc = self._tok.encode(text, add_special_tokens=False)
        return enc.ids, [(a, b) for a, b in enc.offsets]

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """Raw bytes of non-special tokens; ids past the tokenizer (padded embedding rows)
        contribute nothing either."""
        n = self.vocab_size
        return b"".join(self._token_bytes[i] for i in ids if 0 <= i < n)
