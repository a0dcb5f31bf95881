"""The models the perplexity benchmark scores, each as a ``Zip2ZipPreTrainedModel`` in eval mode: the base
(compression off, C = 0), an untrained wrapper of it, or a saved checkpoint (control or zip2zip). Kept
apart from the script so it reads as what is measured, not how a model is put together."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from zip2zip.codec.digits import digit_bearing_ids
from zip2zip.data.tokenizers import BYTES_PAD, Tokenizer, bytes_tokenizer
from zip2zip.modeling.base_models import TinyLlama, load_base, load_base_tokenizer

from ._checkpoints import (
    CHECKPOINT_BASE,
    ModelSelection,
    checkpoint_tokenizer,
    describe_checkpoint,
    find_checkpoint,
    load_checkpoint_base,
    model_checkpoint,
)


def load_tokenizer(selection: ModelSelection) -> Tokenizer:
    """The base's tokenizer, without loading its weights when the registry knows it."""
    if selection.base_model == CHECKPOINT_BASE:
        return checkpoint_tokenizer(find_checkpoint(selection.checkpoint))
    return load_base_tokenizer(selection.base_model)


def _load_base(selection: ModelSelection, *, max_length: int, seed: int) -> tuple[Any, dict[str, Any]]:
    """The base causal LM and what was loaded; ``tiny`` is random (``seed``), with room for two windows."""
    if selection.base_model == CHECKPOINT_BASE:
        loaded = load_checkpoint_base(find_checkpoint(selection.checkpoint))
    elif selection.base_model == "tiny":
        tiny = TinyLlama(
            bytes_tokenizer().vocab_size, max_position_embeddings=2 * max_length, pad_token_id=BYTES_PAD
        )
        loaded = load_base("tiny", tiny=tiny, seed=seed)
    else:
        loaded = load_base(selection.base_model)
    return loaded.model, loaded.provenance


def load_model(
    name: str,
    selection: ModelSelection,
    tokenizer: Tokenizer,
    *,
    max_length: int,
    seed: int,
    codebook_policy: str | None = None,
    max_codebook_size: int | None = None,
    protect_digits: bool = False,
) -> tuple[Any, dict[str, Any]]:
    """One of ``MODELS`` -> (Zip2ZipPreTrainedModel in eval mode, what was loaded). Raises ValueError if missing.

    ``codebook_policy`` / ``max_codebook_size`` (None: the checkpoint's) set zip2zip's codebook and
    ``protect_digits`` keeps the tokenizer's digit ids out of its hypertokens; the hyper-encoders are
    context-free, so a checkpoint trained with one policy and size scores under another."""
    from zip2zip.data.training_chunks import DataConfig, compression_config
    from zip2zip.modeling.model import Zip2ZipPreTrainedModel

    if name == "base" or (name == "zip2zip" and not selection.checkpoint):
        base, info = _load_base(selection, max_length=max_length, seed=seed)
        c = 0 if name == "base" else max_codebook_size or DataConfig().max_codebook_size
        comp = compression_config(tokenizer, DataConfig(max_codebook_size=c, use_compression=c > 0))
        if name == "zip2zip" and codebook_policy is not None:
            comp = dataclasses.replace(comp, codebook_policy=codebook_policy)
        if name == "zip2zip" and protect_digits:
            comp = comp.with_protected_digits(digit_bearing_ids(tokenizer, tokenizer.vocab_size))
        model = Zip2ZipPreTrainedModel.from_base(base, compression=comp)
        return model.eval(), {**info, "compression": comp.to_dict(), "trained": name == "base"}
    checkpoint = model_checkpoint(name, control=selection.control_checkpoint, checkpoint=selection.checkpoint)
    zip2zip = name == "zip2zip"  # the control's codebook is empty (C = 0): nothing to set
    model = Zip2ZipPreTrainedModel.from_pretrained(
        checkpoint.path,
        dtype=torch.float32,
        codebook_policy=codebook_policy if zip2zip else None,
        max_codebook_size=max_codebook_size if zip2zip else None,
    )
    if zip2zip and protect_digits:
        model.config = model.config.with_protected_digits(digit_bearing_ids(tokenizer, tokenizer.vocab_size))
    info = {**describe_checkpoint(checkpoint), "config": model.config.to_dict()}
    return model.eval(), info
