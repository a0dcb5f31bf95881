"""The models and tokenizer of ``benchmarks/throughput.py``: the base (a registered model, or the base of
``--checkpoint``), its tokenizer, and zip2zip around the same weights (the checkpoint's trained weights, or
fresh encoders). Nothing here is timed."""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

import torch

from zip2zip.data.tokenizers import Tokenizer, get_tokenizer
from zip2zip.modeling.base_models import PHI35_MINI_HUB_ID, TinyLlama, load_base_model

from ._checkpoints import CHECKPOINT_BASE, find_checkpoint, load_checkpoint_base, load_checkpoint_tokenizer


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


def bytes_tokenizer() -> Tokenizer:
    """UTF-8 bytes as ids (pad = 256): no asset needed, for smoke runs."""
    return Tokenizer(
        name="bytes",
        vocab_size=257,
        special_ids=frozenset({256}),
        pad_token_id=256,
        provenance={"kind": "UTF-8 bytes, pad id 256"},
        _encode_batch=lambda texts: [list(t.encode("utf-8")) for t in texts],
        _decode=lambda ids: bytes(i for i in ids if i < 256).decode("utf-8", errors="replace"),
    )


def load_base(config: ModelSettings, tok: Tokenizer, device: torch.device) -> tuple[Any, dict[str, Any]]:
    dtype = getattr(torch, config.dtype)
    if config.model == CHECKPOINT_BASE:
        return load_checkpoint_base(find_checkpoint(str(config.checkpoint)), dtype=dtype, device=device)
    if config.model == "smollm2":
        return load_base_model("smollm2", dtype=dtype, device=device)
    torch.manual_seed(config.seed)
    if config.model == "tiny":
        tiny = TinyLlama(tok.vocab_size, tie_word_embeddings=True, pad_token_id=tok.pad_token_id)
        return load_base_model("tiny-llama", tiny=tiny, dtype=dtype, device=device)
    try:
        return load_base_model("phi-3.5-mini", dtype=dtype, device=device)
    except (OSError, ValueError) as exc:
        if not config.allow_random_weights:
            raise ValueError(
                f"{PHI35_MINI_HUB_ID} is not available ({exc}); allow random weights or use the hub"
            ) from exc
        reason = f"{type(exc).__name__}: {str(exc)[:200]}"
    return _random_phi35_mini(tok, dtype, device, reason)


def _random_phi35_mini(
    tok: Tokenizer, dtype: torch.dtype, device: torch.device, reason: str
) -> tuple[Any, dict]:
    """Phi-3.5-mini's shape with random weights: replay-mode cost does not depend on the weights."""
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


def load_tokenizer(config: ModelSettings) -> Tokenizer:
    if config.model == CHECKPOINT_BASE:
        tokenizer: Tokenizer = load_checkpoint_tokenizer(find_checkpoint(str(config.checkpoint)))
        return tokenizer
    if config.model == "tiny":
        return bytes_tokenizer()
    if config.model == "phi3.5-mini":
        try:
            return get_tokenizer(PHI35_MINI_HUB_ID)
        except ValueError as exc:  # not cached and the hub unreachable
            if not config.allow_random_weights:
                raise ValueError(f"{PHI35_MINI_HUB_ID}'s tokenizer is not available ({exc})") from exc
            stand_in = get_tokenizer("smollm2")
            why = f"{PHI35_MINI_HUB_ID}'s tokenizer is not available offline: SmolLM2's stands in"
            print(f"note: {why} (the random-weight replay cost does not depend on which)", flush=True)
            return dataclasses.replace(stand_in, provenance={**stand_in.provenance, "stand_in_because": why})
    return get_tokenizer("smollm2")


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
