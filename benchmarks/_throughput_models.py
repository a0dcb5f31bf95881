"""The models and tokenizer of ``benchmarks/throughput.py``: the base (a registered model, or the base of
``--checkpoint``), its tokenizer, and zip2zip around the same weights (the checkpoint's trained weights, or
fresh encoders). Nothing here is timed."""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

import torch

from zip2zip.data.tokenizers import BYTES_PAD, Tokenizer, bytes_tokenizer, get_tokenizer
from zip2zip.modeling.base_models import BASE_MODELS, PHI35_MINI_HUB_ID, LoadedBase, TinyLlama
from zip2zip.modeling.base_models import load_base as load_registered_base

from ._checkpoints import (
    CHECKPOINT_BASE,
    base_setting,
    default_base,
    describe_base,
    find_checkpoint,
    load_checkpoint_base,
)


class ModelSettings(Protocol):
    """What this module reads of ``throughput.Config`` (a Protocol, so that it need not import the script)."""

    @property
    def model(self) -> str: ...
    @property
    def checkpoint(self) -> str | None: ...
    @property
    def dtype(self) -> str: ...
    @property
    def seed(self) -> int: ...
    @property
    def allow_random_weights(self) -> bool: ...
    @property
    def max_subtokens(self) -> int: ...
    @property
    def max_codebook_size(self) -> int: ...


def model_for_checkpoint(config: ModelSettings, *, given: bool) -> str:
    """``config.model``, or ``checkpoint`` when ``--checkpoint`` wraps another base than the model's.

    Raises:
        ValueError: a ``--model`` was ``given`` for another base than the checkpoint's (a usage error)."""
    if not config.checkpoint or config.model == CHECKPOINT_BASE:
        return config.model
    model = base_setting(config.model, config.checkpoint, default_base(config.model))
    if model != config.model and given:
        base = describe_base(find_checkpoint(config.checkpoint).base)
        raise ValueError(
            f"--model {config.model} is not the base of --checkpoint (which wraps {base}); drop --model"
        )
    return model


def load_base(config: ModelSettings, device: torch.device) -> LoadedBase:
    """The base of ``config.model`` with its tokenizer, through the registry (``tiny``: the bytes tokenizer)."""
    dtype = getattr(torch, config.dtype)
    if config.model == CHECKPOINT_BASE:
        return load_checkpoint_base(find_checkpoint(str(config.checkpoint)), dtype=dtype, device=device)
    if config.model == "tiny":
        tiny = TinyLlama(bytes_tokenizer().vocab_size, tie_word_embeddings=True, pad_token_id=BYTES_PAD)
        return load_registered_base("tiny", tiny=tiny, seed=config.seed, dtype=dtype, device=device)
    if config.model == "phi-3.5-mini":
        return _phi35_mini(config, dtype, device)
    return load_registered_base(config.model, dtype=dtype, device=device)


def _phi35_mini(config: ModelSettings, dtype: torch.dtype, device: torch.device) -> LoadedBase:
    """Phi-3.5-mini from the hub; without it, and when ``allow_random_weights``, its shape with random weights
    (replay-mode cost does not depend on the weights), the reason recorded."""
    try:
        return load_registered_base("phi-3.5-mini", dtype=dtype, device=device)
    except (OSError, ValueError) as exc:
        if not config.allow_random_weights:
            raise ValueError(
                f"{PHI35_MINI_HUB_ID} is not available ({exc}); allow random weights or use the hub"
            ) from exc
        reason = f"{type(exc).__name__}: {str(exc)[:200]}"
    tokenizer = phi35_mini_tokenizer(config)
    torch.manual_seed(config.seed)
    model, provenance = _random_phi35_mini(tokenizer, dtype, device, reason)
    return LoadedBase(model, provenance, lambda: tokenizer)


def phi35_mini_tokenizer(config: ModelSettings) -> Tokenizer:
    """Phi-3.5-mini's tokenizer; offline and not cached, SmolLM2's stands in when ``allow_random_weights``
    (said on stdout and recorded in the tokenizer's provenance), else refused."""
    try:
        return get_tokenizer(BASE_MODELS["phi-3.5-mini"].tokenizer)
    except ValueError as exc:  # not cached and the hub unreachable
        if not config.allow_random_weights:
            raise ValueError(f"{PHI35_MINI_HUB_ID}'s tokenizer is not available ({exc})") from exc
    stand_in = get_tokenizer("smollm2")
    why = f"{PHI35_MINI_HUB_ID}'s tokenizer is not available offline: SmolLM2's stands in"
    print(f"note: {why} (the random-weight replay cost does not depend on which)", flush=True)
    return dataclasses.replace(stand_in, provenance={**stand_in.provenance, "stand_in_because": why})


def _random_phi35_mini(
    tok: Tokenizer, dtype: torch.dtype, device: torch.device, reason: str
) -> tuple[Any, dict]:
    """Phi-3.5-mini's shape with random weights."""
    from transformers import AutoModelForCausalLM, Phi3Config

    cfg = Phi3Config(
        vocab_size=max(tok.vocab_size, 32064),
        hidden_size=3072,
        intermediate_size=8192,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=32,
        max_position_embeddings=4096,
        pad_token_id=tok.pad_token_id,
        bos_token_id=None,
        eos_token_id=None,
    )
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(cfg, dtype=dtype)
    return model.eval(), {
        "name": "Phi-3.5-mini shape, random weights",
        "random_weights": True,
        "why_random": reason,
    }


def wrap(config: ModelSettings, base: Any, tok: Tokenizer) -> tuple[Any, dict[str, Any]]:
    from zip2zip.codec.config import CompressionConfig
    from zip2zip.modeling.model import Zip2ZipPreTrainedModel

    if config.checkpoint:
        checkpoint = find_checkpoint(config.checkpoint)
        model = Zip2ZipPreTrainedModel.from_pretrained(checkpoint.path, base_model=base)
        if tok.vocab_size > model.compression.initial_vocab_size:  # the authors' V may exceed the tokenizer's
            raise ValueError(
                f"{config.checkpoint} was trained for V={model.compression.initial_vocab_size}, "
                f"but the tokenizer has {tok.vocab_size} ids"
            )
        return model.eval(), {"hyper_encoders": f"trained checkpoint {checkpoint.as_given}"}
    comp = CompressionConfig(
        initial_vocab_size=tok.vocab_size,
        pad_token_id=tok.pad_token_id,
        max_subtokens=config.max_subtokens,
        max_codebook_size=config.max_codebook_size,
        disabled_ids=tok.special_ids,
    )
    model = Zip2ZipPreTrainedModel.from_base(base, compression=comp).eval()
    return model, {
        "hyper_encoders": "freshly initialised (untrained): fine for replay mode, whose cost "
        "does not depend on the weights; generate-mode outputs are not meaningful text"
    }
