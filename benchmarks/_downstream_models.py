"""The models the downstream benchmark evaluates, each as an lm-eval ``LM``: the base through lm-eval's own
``hf`` model, the control and zip2zip checkpoints (or an untrained wrapper of the base) through the
``zip2zip`` model type. Kept apart from the script so it reads as what is measured, not how a model is built."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import torch

from ._checkpoints import (
    CHECKPOINT_BASE,
    ModelSelection,
    describe_checkpoint,
    find_checkpoint,
    load_checkpoint_base,
    model_checkpoint,
)

CANONICAL_MODEL = "zip2zip_canonical"  # zip2zip's row with canonical scores and decoding, run after zip2zip


def load_evaluated_base(selection: ModelSelection, *, seed: int) -> tuple[Any, Any, dict[str, Any]]:
    """(causal LM, its Hugging Face tokenizer, what was loaded); ``tiny`` with the bytes tokenizer's ids."""
    from zip2zip.data.tokenizers import BYTES_EOS, BYTES_PAD, bytes_tokenizer
    from zip2zip.modeling.base_models import TinyLlama, load_base

    if selection.base_model == "tiny":
        vocab_size = bytes_tokenizer().vocab_size
        tiny = TinyLlama(
            vocab_size, max_position_embeddings=4096, pad_token_id=BYTES_PAD, eos_token_id=BYTES_EOS
        )
        loaded = load_base("tiny", tiny=tiny, seed=seed)
    elif selection.base_model == CHECKPOINT_BASE:
        loaded = load_checkpoint_base(find_checkpoint(selection.checkpoint))
    else:
        loaded = load_base(selection.base_model)
    return loaded.model, loaded.tokenizer.hf_tokenizer(), loaded.provenance


def load_lm(
    name: str,
    selection: ModelSelection,
    base: Any,
    tokenizer: Any,
    *,
    batch_size: int,
    fallback_max_codebook_size: int,
    codebook_policy: str | None = None,
    max_codebook_size: int | None = None,
    protect_digits: bool = False,
    score_cache: dict[Any, Any] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """An lm-eval ``LM`` for one of ``MODELS`` or ``CANONICAL_MODEL`` and what it is. Raises ValueError when it
    cannot be built. Without a zip2zip checkpoint, zip2zip is an untrained wrapper of ``base`` with
    ``fallback_max_codebook_size``. ``codebook_policy`` / ``max_codebook_size`` (None: the checkpoint's) set
    zip2zip's codebook and ``protect_digits`` keeps the tokenizer's digit ids out of its hypertokens; the
    hyper-encoders are context-free, so a checkpoint trained with one policy and size runs under another.
    ``CANONICAL_MODEL`` is zip2zip scored and decoding canonically; zip2zip and it share ``score_cache`` (each
    request is scored once, both numbers from one forward pass)."""
    from lm_eval.models.huggingface import HFLM

    from zip2zip.codec.config import compression_config_from_tokenizer
    from zip2zip.codec.digits import digit_bearing_ids
    from zip2zip.evaluation.lm_eval_model import Zip2ZipLM
    from zip2zip.modeling.model import Zip2ZipPreTrainedModel

    if name == "base":
        return HFLM(pretrained=base, tokenizer=tokenizer, batch_size=batch_size), {"lm_eval_model": "hf"}
    is_canonical = name == CANONICAL_MODEL
    name = "zip2zip" if is_canonical else name
    info: dict[str, Any] = {"lm_eval_model": "zip2zip", **({"canonical": True} if is_canonical else {})}
    if name == "control" or selection.checkpoint:  # only an empty checkpoint means "untrained wrapper"
        checkpoint = model_checkpoint(
            name, control=selection.control_checkpoint, checkpoint=selection.checkpoint
        )
        is_zip2zip = name == "zip2zip"  # the control's codebook is empty (C = 0): nothing to set
        model = Zip2ZipPreTrainedModel.from_pretrained(
            checkpoint.path,
            base_model=copy.deepcopy(base),
            dtype=torch.float32,
            codebook_policy=codebook_policy if is_zip2zip else None,
            max_codebook_size=max_codebook_size if is_zip2zip else None,
        )
        if is_zip2zip and protect_digits:
            model.config = model.config.with_protected_digits(digit_bearing_ids(tokenizer, len(tokenizer)))
        info.update(describe_checkpoint(checkpoint), trained=True)
    else:
        comp = compression_config_from_tokenizer(
            tokenizer,
            max_codebook_size=max_codebook_size or fallback_max_codebook_size,
            protect_digits=protect_digits,
        )
        if codebook_policy is not None:
            comp = dataclasses.replace(comp, codebook_policy=codebook_policy)
        model = Zip2ZipPreTrainedModel.from_base(copy.deepcopy(base), compression=comp)
        info.update(
            trained=False,
            fallback_reason="no zip2zip checkpoint given: untrained hyper-encoders, "
            "so these numbers do not measure zip2zip training",
        )
    info["config"] = model.config.to_dict()
    cache = score_cache if name == "zip2zip" else None
    return Zip2ZipLM(model, tokenizer, batch_size=batch_size, canonical=is_canonical, score_cache=cache), info
