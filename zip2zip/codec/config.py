"""Validated, frozen configuration objects.

``CompressionConfig`` fixes everything the LZW codec needs; its field names follow the upstream
reference implementation (``initial_vocab_size``, ``max_codebook_size``, ``max_subtokens``,
``pad_token_id``, ``disabled_ids``) so that checkpoints and papers read the same.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from zip2zip.codec.digits import IdDecoder, digit_bearing_ids
from zip2zip.registry import check_name

# What to do when an entry is due and the codebook is full (see ``zip2zip.codec.lzw``). ``freeze`` is the
# paper's, the upstream package's and every authors' checkpoint's behaviour.
CODEBOOK_POLICIES = ("freeze", "reset", "lru")


class TokenizerVocabulary(Protocol):
    """What ``compression_config_from_tokenizer`` reads of a base tokenizer; a Hugging Face tokenizer has it.

    ``len(tokenizer)`` is the full vocabulary V including added tokens. ``all_special_ids`` and
    ``added_tokens_decoder`` are read as well when the tokenizer has them (they are optional).
    """

    def __len__(self) -> int: ...

    @property
    def pad_token_id(self) -> int | None: ...

    @property
    def eos_token_id(self) -> int | None: ...


# Ids are stored as int64 and a trie key packs (parent id, child id) into one int64.
_MAX_VOCAB_SIZE = 2**30
# The codec allocates O(M) per stream before reading any input: bound M so that a config file cannot ask
# for GiBs. 1024 is far beyond any useful hypertoken (the paper uses M=3, the authors' checkpoints 4).
MAX_SUBTOKENS = 1024


@dataclass(frozen=True)
class CompressionConfig:
    """LZW settings over a base vocabulary of ``initial_vocab_size`` ids.

    Hypertoken ids are ``initial_vocab_size + k`` for the k-th entry created (k < ``max_codebook_size``).
    ``disabled_ids`` are never merged into a hypertoken; the pad id is always among them.
    ``max_subtokens=1`` or ``max_codebook_size=0`` turn compression off (the stream passes through).
    ``codebook_policy`` says what happens when an entry is due and the codebook is full: ``freeze`` adds
    nothing, ``reset`` drops every entry, ``lru`` replaces the least recently used leaf entry.
    ``protect_digits`` records that the tokenizer's digit-bearing ids (``zip2zip.codec.digits``) are among
    ``disabled_ids`` (zip2zip++'s digit protection). The codec reads only ``disabled_ids``; the flag tells a
    reader of a checkpoint or result why those ids are there. Set both with :meth:`with_protected_digits`.
    """

    initial_vocab_size: int
    pad_token_id: int
    max_subtokens: int = 3
    max_codebook_size: int = 2048
    disabled_ids: frozenset[int] = field(default_factory=frozenset)
    codebook_policy: str = "freeze"
    protect_digits: bool = False

    def __post_init__(self) -> None:
        for name in ("initial_vocab_size", "pad_token_id", "max_subtokens", "max_codebook_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__} ({value!r})")
        if not 1 <= self.initial_vocab_size <= _MAX_VOCAB_SIZE:
            raise ValueError(
                f"initial_vocab_size={self.initial_vocab_size}: expected 1..{_MAX_VOCAB_SIZE} "
                "(the tokenizer's full vocabulary, added/special tokens included)"
            )
        if not 0 <= self.pad_token_id < self.initial_vocab_size:
            raise ValueError(
                f"pad_token_id={self.pad_token_id} is not a base id (0..{self.initial_vocab_size - 1}); "
                "use the tokenizer's pad id, or its EOS id when it has none"
            )
        if not 1 <= self.max_subtokens <= MAX_SUBTOKENS:
            raise ValueError(
                f"max_subtokens={self.max_subtokens}: a hypertoken holds 1..M base ids, so 1 <= M <= "
                f"{MAX_SUBTOKENS} (M=1 turns compression off; the paper uses M=3)"
            )
        if self.max_codebook_size < 0:
            raise ValueError(
                f"max_codebook_size={self.max_codebook_size} must be >= 0 (0 turns compression off)"
            )
        if self.initial_vocab_size + self.max_codebook_size > _MAX_VOCAB_SIZE:
            raise ValueError(
                f"initial_vocab_size + max_codebook_size = {self.initial_vocab_size + self.max_codebook_size} "
                f"exceeds {_MAX_VOCAB_SIZE}"
            )
        disabled = _as_id_set(self.disabled_ids, "disabled_ids")
        bad = sorted(i for i in disabled if not 0 <= i < self.initial_vocab_size)
        if bad:
            raise ValueError(
                f"disabled_ids {bad[:5]} lie outside the base vocabulary 0..{self.initial_vocab_size - 1}"
            )
        object.__setattr__(self, "disabled_ids", frozenset(disabled | {self.pad_token_id}))
        if not isinstance(self.codebook_policy, str):
            raise TypeError(f"codebook_policy must be a str, got {self.codebook_policy!r}")
        check_name(self.codebook_policy, CODEBOOK_POLICIES, kind="codebook policy")
        if not isinstance(self.protect_digits, bool):
            raise TypeError(f"protect_digits must be a bool, got {self.protect_digits!r}")

    @property
    def is_compression_enabled(self) -> bool:
        return self.max_subtokens >= 2 and self.max_codebook_size > 0

    @property
    def total_vocab_size(self) -> int:
        """Base ids plus every hypertoken slot: the width of a joint output layer."""
        return self.initial_vocab_size + self.max_codebook_size

    def with_protected_digits(self, digit_ids: Iterable[int]) -> CompressionConfig:
        """This config with ``digit_ids`` (``zip2zip.codec.digits.digit_bearing_ids`` of its tokenizer) disabled
        and ``protect_digits`` set. Raises ValueError for no ids (a tokenizer without digits protects nothing,
        and a flag saying otherwise would mislabel the result) or ids outside the base vocabulary."""
        ids = _as_id_set(digit_ids, "digit_ids")
        if not ids:
            raise ValueError(
                "protect_digits: the tokenizer has no id whose text holds a decimal digit, so there is nothing "
                "to protect; check that the ids come from digit_bearing_ids of the model's tokenizer"
            )
        return dataclasses.replace(self, disabled_ids=self.disabled_ids | ids, protect_digits=True)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields. ``codebook_policy`` is written only when it is not ``freeze`` and ``protect_digits``
        only when set: files written before they existed (and the authors' formats) mean ``freeze`` without
        digit protection, and stay byte-identical."""
        out: dict[str, Any] = {
            "initial_vocab_size": self.initial_vocab_size,
            "pad_token_id": self.pad_token_id,
            "max_subtokens": self.max_subtokens,
            "max_codebook_size": self.max_codebook_size,
            "disabled_ids": sorted(self.disabled_ids),
        }
        if self.codebook_policy != "freeze":
            out["codebook_policy"] = self.codebook_policy
        if self.protect_digits:
            out["protect_digits"] = True
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CompressionConfig:
        known = {
            "initial_vocab_size",
            "pad_token_id",
            "max_subtokens",
            "max_codebook_size",
            "disabled_ids",
            "codebook_policy",
            "protect_digits",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown CompressionConfig keys {unknown}; known: {sorted(known)}")
        return cls(**{**data, "disabled_ids": frozenset(data.get("disabled_ids", ()))})


def _as_id_set(values: Iterable[int], name: str) -> frozenset[int]:
    out = set()
    for v in values:
        if isinstance(v, bool) or not hasattr(v, "__index__"):
            raise TypeError(f"{name} must hold ints, got {v!r}")
        out.add(operator.index(v))  # not int(): that would truncate a float tensor
    return frozenset(out)


def compression_config_from_tokenizer(
    tokenizer: TokenizerVocabulary,
    *,
    max_subtokens: int = 3,
    max_codebook_size: int = 2048,
    codebook_policy: str = "freeze",
    protect_digits: bool = False,
) -> CompressionConfig:
    """The codec settings a tokenizer implies (see the module docstring); ``protect_digits`` also disables its
    digit-bearing ids (``CompressionConfig.with_protected_digits``)."""
    vocab_size = len(tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pad is None:
        raise ValueError("the tokenizer has neither a pad nor an EOS token; set tokenizer.pad_token first")
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    special |= set((getattr(tokenizer, "added_tokens_decoder", None) or {}).keys())
    config = CompressionConfig(
        initial_vocab_size=vocab_size,
        pad_token_id=int(pad),
        max_subtokens=max_subtokens,
        max_codebook_size=max_codebook_size,
        disabled_ids=frozenset(int(i) for i in special if 0 <= int(i) < vocab_size),
        codebook_policy=codebook_policy,
    )
    if not protect_digits:
        return config
    if not isinstance(tokenizer, IdDecoder):
        raise TypeError(
            "protect_digits=True needs a tokenizer with decode() to find its digit ids; "
            f"{type(tokenizer).__name__} has none: pass the Hugging Face tokenizer"
        )
    return config.with_protected_digits(digit_bearing_ids(tokenizer, vocab_size))
