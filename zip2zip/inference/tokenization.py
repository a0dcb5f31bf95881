"""``Zip2ZipTokenizer``: text -> base ids -> LZW-compressed ids + codebook, and back.

Wraps a Hugging Face tokenizer (the base tokenizer) and the codec. The compression settings are
derived from the tokenizer (``compression_config_from_tokenizer``): V is its full vocabulary including
added tokens, the pad id is its pad token or else EOS, and every special/added id is disabled (never
merged), so EOS and chat markers stay visible as themselves in a compressed stream. Batches are the
codec's ``BatchEncoded``, padded on an explicitly chosen side; ``model_inputs`` gives their tensors.
This module runs no model.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, cast

import torch

from zip2zip.codec import lzw
from zip2zip.codec.codebook import Codebook
from zip2zip.codec.config import CompressionConfig, TokenizerVocabulary, compression_config_from_tokenizer
from zip2zip.codec.lzw_codec import BatchEncoded, LZWCodec, PaddingSide


class BaseTokenizer(TokenizerVocabulary, Protocol):
    """The base tokenizer ``Zip2ZipTokenizer`` wraps: what it calls of a Hugging Face tokenizer.

    Besides ``len()``, ``pad_token_id`` and ``eos_token_id`` (see ``TokenizerVocabulary``): calling it on
    one text gives a mapping whose ``"input_ids"`` are that text's base ids, and ``decode`` turns a list
    of base ids back into text (a Hugging Face tokenizer is typed to return ``str | list[str]``; a flat
    list of ids gives a ``str``).
    """

    def __call__(self, text: str, *, add_special_tokens: bool = ...) -> Mapping[str, Sequence[int]]: ...

    def decode(self, token_ids: list[int], *, skip_special_tokens: bool = ...) -> str | list[str]: ...


@dataclass(frozen=True)
class CompressedSequence:
    """One compressed text: ``ids`` (codes), the codebook they define, and when each entry completes."""

    base_ids: list[int]
    ids: list[int]
    codebook: Codebook
    entry_positions: list[int]  # entry k completes on reading ids[entry_positions[k]]


@functools.lru_cache(maxsize=8)
def _codec(config: CompressionConfig) -> LZWCodec:
    return LZWCodec.from_config(config, num_threads=1)


def compress_ids(base_ids: Sequence[int], config: CompressionConfig) -> CompressedSequence:
    """Compress base ids with a fresh codebook (compiled codec; equal to ``lzw.compress`` by its tests).
    A non-integer id (2.5, True, "3") raises TypeError."""
    ids = lzw.as_ids(base_ids, "base_ids")
    encoded = _codec(config).encode(ids)
    return CompressedSequence(
        base_ids=ids,
        ids=encoded.ids.tolist(),
        codebook=encoded.codebook,
        entry_positions=encoded.entry_positions.tolist(),
    )


def compress_batch(
    base_ids: Sequence[Sequence[int]], config: CompressionConfig, *, padding_side: PaddingSide
) -> BatchEncoded:
    """Compress each row with its own fresh codebook and pad the codes on ``padding_side`` ("left" for
    generation, "right" for training). A non-integer id raises TypeError, as in ``compress_ids``."""
    rows = [lzw.as_ids(ids, f"base_ids[{i}]") for i, ids in enumerate(base_ids)]
    return _codec(config).batch_encode(rows, padding_side=padding_side)


def model_inputs(batch: BatchEncoded) -> dict[str, torch.Tensor]:
    """The tensors ``Zip2ZipForCausalLM.forward`` takes for ``batch``: ``model(**model_inputs(batch))``.

    Codebook tables and entry positions have one slot per entry of the fullest row; the other rows'
    missing slots hold the pad id and ``NO_POSITION``.
    """
    return {
        "input_ids": torch.from_numpy(batch.ids),  # [B, L]
        "attention_mask": torch.from_numpy(batch.attention_mask),  # [B, L]
        "codebook_table": torch.from_numpy(batch.codebook_tables(batch.num_slots)),  # [B, S, M]
        "entry_positions": torch.from_numpy(batch.entry_position_table(batch.num_slots)),  # [B, S]
    }


class Zip2ZipTokenizer:
    """A base tokenizer plus the LZW codec: ``encode``/``__call__`` compress, ``decode`` expands."""

    def __init__(self, tokenizer: BaseTokenizer, compression: CompressionConfig) -> None:
        if len(tokenizer) != compression.initial_vocab_size:
            raise ValueError(
                f"tokenizer has {len(tokenizer)} ids (added tokens included) but the compression config "
                f"says initial_vocab_size={compression.initial_vocab_size}: tokenizer/model mismatch. Use the "
                "tokenizer the model was wrapped with, or rebuild the config with compression_config_from_tokenizer"
            )
        self.tokenizer = tokenizer
        self.compression = compression

    @classmethod
    def from_tokenizer(
        cls, tokenizer: BaseTokenizer, *, max_subtokens: int = 3, max_codebook_size: int = 2048
    ) -> Zip2ZipTokenizer:
        config = compression_config_from_tokenizer(
            tokenizer, max_subtokens=max_subtokens, max_codebook_size=max_codebook_size
        )
        return cls(tokenizer, config)

    @property
    def eos_token_id(self) -> int | None:
        return self.tokenizer.eos_token_id

    def encode_base(self, text: str, *, add_special_tokens: bool = True) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"])

    def encode(
        self, text_or_ids: str | Sequence[int], *, add_special_tokens: bool = True
    ) -> CompressedSequence:
        """Text (or base ids) -> compressed ids + codebook."""
        base = (
            self.encode_base(text_or_ids, add_special_tokens=add_special_tokens)
            if isinstance(text_or_ids, str)
            else text_or_ids
        )
        return compress_ids(base, self.compression)

    def __call__(
        self,
        texts: Sequence[str | Sequence[int]],
        *,
        padding_side: PaddingSide,
        add_special_tokens: bool = True,
    ) -> BatchEncoded:
        """Compress a batch; every row gets its own codebook. ``padding_side`` is required on purpose."""
        if isinstance(texts, str):
            raise TypeError("pass a list of texts (a batch); use encode() for one text")
        base = [
            self.encode_base(t, add_special_tokens=add_special_tokens) if isinstance(t, str) else t
            for t in texts
        ]
        return compress_batch(base, self.compression, padding_side=padding_side)

    def decompress(self, ids: Sequence[int]) -> list[int]:
        """Compressed ids -> base ids (raises ValueError on an id that does not exist at its position)."""
        base, _, _ = lzw.decompress(lzw.as_ids(ids, "ids"), self.compression)
        return base

    def decode(self, ids: Sequence[int], *, skip_special_tokens: bool = False) -> str:
        """Compressed ids (as one stream with a fresh codebook) -> text."""
        # one flat id list decodes to one str (see BaseTokenizer)
        return cast(str, self.tokenizer.decode(self.decompress(ids), skip_special_tokens=skip_special_tokens))

    def decode_base(self, base_ids: Sequence[int], *, skip_special_tokens: bool = False) -> str:
        return cast(str, self.tokenizer.decode(list(base_ids), skip_special_tokens=skip_special_tokens))


def as_zip2zip_tokenizer(
    tokenizer: Zip2ZipTokenizer | BaseTokenizer | None, compression: CompressionConfig
) -> Zip2ZipTokenizer | None:
    """A ``Zip2ZipTokenizer`` as is; a base (Hugging Face) tokenizer wrapped with the model's ``compression``.

    A tokenizer of another size than the model's base vocabulary raises the ``Zip2ZipTokenizer`` mismatch error.
    """
    if tokenizer is None or isinstance(tokenizer, Zip2ZipTokenizer):
        return tokenizer
    if not (callable(tokenizer) and hasattr(tokenizer, "decode") and hasattr(tokenizer, "__len__")):
        raise TypeError(
            f"tokenizer must be a Zip2ZipTokenizer or a Hugging Face tokenizer, got {type(tokenizer).__name__}"
        )
    return Zip2ZipTokenizer(tokenizer, compression)
