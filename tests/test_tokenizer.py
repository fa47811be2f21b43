from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diffill.model.tokenizer import SPECIAL_TOKENS, TokenizerError

# Valid Unicode text: every code point except the surrogate block.
unicode_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=200)
code_like = st.lists(
    st.sampled_from(
        [
            "\t",
            "\r\n",
            "\n",
            "    ",
            "def ",
            "😀",
            "\x00",
            "é",
            "中文",
            "<mask>",
            "'''",
            "\\",
            "x",
            "1",
            "\u200b",
            "\ufeff",
            "\U0001f469\u200d\U0001f4bb",
        ]
    ),
    max_size=40,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(unicode_text)
def test_any_valid_string_round_trips(tokenizer, text):
    assert tokenizer.decode(tokenizer.encode(text)) == text


@settings(max_examples=200, deadline=None)
@given(code_like)
def test_code_like_strings_round_trip(tokenizer, text):
    ids = tokenizer.encode(text)
    assert tokenizer.decode(ids) == text
    assert not set(ids) & tokenizer.special_ids


def test_tabs_crlf_emoji_nul_round_trip(tokenizer):
    text = "def f():\r\n\treturn '😀\x00'\r\n"
    assert tokenizer.decode(tokenizer.encode(text)) == text


def test_special_token_text_is_plain_text(tokenizer):
    for special in SPECIAL_TOKENS:
        ids = tokenizer.encode(f"x = '{special}'")
        assert not set(ids) & tokenizer.special_ids
        assert tokenizer.decode(ids) == f"x = '{special}'"


@pytest.mark.parametrize("text", ["\ud800", "ok \udfff", "a\ud83d"])
def test_lone_surrogates_are_refused_with_the_index(tokenizer, text):
    with pytest.raises(TokenizerError, match="surrogate at index"):
        tokenizer.encode(text)


def test_decoding_half_a_character_is_replacement_not_an_error(tokenizer):
    ids = tokenizer.encode("😀")
    # Find a prefix of the byte stream that cuts the emoji.
    partial = tokenizer.decode_bytes(ids)[:2]
    assert partial.decode("utf-8", errors="replace") == "\ufffd"
    assert tokenizer.decode([]) == ""


def test_vocabulary_size_and_special_ids(tokenizer):
    assert 8000 <= tokenizer.vocab_size <= 16384
    ids = {
        tokenizer.pad_id,
        tokenizer.mask_id,
        tokenizer.len_id,
        tokenizer.bof_id,
        tokenizer.eof_id,
    }
    assert len(ids) == len(SPECIAL_TOKENS)
    assert tokenizer.decode(sorted(ids)) == ""


def test_python_source_compresses(tokenizer):
    src = "def add(a, b):\n    return a + b\n\n\nclass Point:\n    x: int = 0\n"
    assert len(src) / len(tokenizer.encode(src)) > 2.5
