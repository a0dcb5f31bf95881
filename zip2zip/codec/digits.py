"""Which base ids carry a decimal digit: the ids digit protection (``protect_digits``) keeps out of hypertokens.

zip2zip++ (the authors' follow-up) found that merging digits into hypertokens costs arithmetic: with digit ids
disabled, their GSM8K accuracy rose from 0.356 to 0.610 for a small loss of compression. Every place that
builds a ``CompressionConfig`` with ``protect_digits`` takes the ids from :func:`digit_bearing_ids`, so they
all protect the same ids.

A digit is a character of Unicode category Nd (``str.isdecimal``): the digits that write numbers in positional
notation, in any script (ASCII, Arabic-Indic, Devanagari, fullwidth ...). Not ``str.isdigit``, which adds
superscript, subscript and circled digits (², ₂, ①): exponent and list marks, not digits of a number an
arithmetic step reads; nor ``str.isnumeric``, which adds fractions and CJK numerals.

Each id is decoded on its own, so a non-ASCII digit that a byte-level tokenizer splits over several ids is not
found (no piece decodes to a digit); an ASCII digit is one byte and always is. Decoding every id takes about
0.2 s for Llama-3's 128k ids, so no cache is kept: callers compute the set once per tokenizer. This module
reads no tokenizer files and compresses nothing.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class IdDecoder(Protocol):
    """What :func:`digit_bearing_ids` reads of a tokenizer: a Hugging Face tokenizer and the registry's
    ``zip2zip.data.tokenizers.Tokenizer`` both have it."""

    def decode(self, token_ids: list[int], /) -> str | list[str]: ...


def has_decimal_digit(text: str) -> bool:
    """Whether ``text`` holds a decimal digit (Unicode Nd): ``"x2"`` yes, ``"²"`` and ``"½"`` no."""
    return any(char.isdecimal() for char in text)


def digit_bearing_ids(tokenizer: IdDecoder, vocab_size: int) -> frozenset[int]:
    """The ids ``0 .. vocab_size - 1`` whose decoded text holds a decimal digit (see the module docstring).

    ``vocab_size`` is the tokenizer's full vocabulary V, added tokens included (``len()`` of a Hugging Face
    tokenizer, not its ``vocab_size``, which leaves them out). Special ids with a digit in their name (e.g.
    ``<|reserved_special_token_7|>``) are included; they are disabled anyway. Ids the tokenizer cannot decode
    (gaps in its vocabulary, e.g. o200k's unassigned ids below its special tokens) have no text, so no digit.
    """
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 1:
        raise ValueError(f"vocab_size={vocab_size!r}: expected the tokenizer's full vocabulary size (>= 1)")
    found = set()
    for i in range(vocab_size):
        try:
            text = tokenizer.decode([i])
        except (KeyError, ValueError):  # tiktoken raises KeyError for an id outside its ranks
            continue
        if not isinstance(text, str):
            raise TypeError(f"decode([{i}]) gave {type(text).__name__}, not the text of that id")
        if has_decimal_digit(text):
            found.add(i)
    return frozenset(found)
