"""Load the paper authors' checkpoints (PyPI ``zip2zip`` 0.2.0 layout) into ``Zip2ZipForCausalLM``.

Two formats share ``zip2zip_config.json`` (told apart from this project's by its ``encoder_type`` key):

* format 1 (the paper's hub models, e.g. ``epfl-dlab/zip2zip-Phi-3.5-mini-instruct-v0.1``): encoder
  weights ``zip2zip_encoders.safetensors`` (``input_encoder.*``, ``output_encoder.*`` unless tied), a peft
  LoRA adapter beside them, and the base model referenced by hub id or path;
* format 2 (zip2zip++ releases, ``format_version: 2``): self-contained, the decoder (LoRA merged) and
  tokenizer in the same folder, ``base_model_name_or_path: "."``.

What is reproduced, so that logits equal the authors' package: their encoder arithmetic (variants
``upstream_transformer`` and ``res_latent_attn``), their column layout (head rows beyond the tokenizer
after the hypertoken slots), their position convention, the pad id (the base tokenizer's pad, else EOS,
which the config does not store) and, for tied encoders over an untied base, one encoder run over each
side's own table (loaded as two encoders with the same weights). Unlike their loader, which ignores a
missing or renamed encoder tensor and LoRA tensors peft does not place, every tensor must match: a
checkpoint that would load as another model is refused with the tensor named. ``meta.pt`` (pickled
training flags) is refused rather than unpickled.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import nn

from zip2zip.codec.config import CompressionConfig, TokenizerVocabulary
from zip2zip.modeling.checkpoint_parts import CheckpointParts
from zip2zip.modeling.config import CONFIG_FILE_NAME, HyperEncoderConfig, Zip2ZipConfig
from zip2zip.modeling.pretrained_cache import load_causal_lm
from zip2zip.remote_code import RemoteCodeError, refusing_remote_code

ENCODER_FILES = ("zip2zip_encoders.safetensors", "encoders.safetensors")
ADAPTER_CONFIG, ADAPTER_WEIGHTS = "adapter_config.json", "adapter_model.safetensors"
SELF_CONTAINED = "."
_ENCODER_TYPES = ("transformer", "res_latent_attn")


def upstream_format_version(path: Path) -> int | None:
    """1 or 2 when ``path`` is a folder holding an authors' checkpoint, else None (not theirs)."""
    file = path / CONFIG_FILE_NAME
    if not file.is_file():
        return None
    data = json.loads(file.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "encoder_type" not in data:
        return None
    version = data.get("format_version", 1)
    if version not in (1, 2):
        raise ValueError(f"{file}: authors' checkpoint format_version={version!r}; this loader reads 1 and 2")
    return int(version)


def load_upstream_checkpoint(
    path: Path,
    *,
    base_model: nn.Module | str | Path | None,
    tokenizer: TokenizerVocabulary | None,
    dtype: torch.dtype | str | None,
    is_trainable: bool,
    trust_remote_code: bool,
) -> CheckpointParts:
    """The parts of the authors' checkpoint in ``path``; ``base_model`` overrides the referenced base (module or
    location).

    ``trust_remote_code`` applies to the base and its tokenizer (see ``zip2zip.remote_code``)."""
    raw = json.loads((path / CONFIG_FILE_NAME).read_text(encoding="utf-8"))
    version = upstream_format_version(path)
    _refuse_unsupported_files(path, version)
    location = _base_location(path, raw, base_model)
    compression = _compression(
        raw, tokenizer or _load_tokenizer(location, path, trust_remote_code=trust_remote_code)
    )
    encoder = _hyper_encoder_config(raw)
    encoder_file = next((path / f for f in ENCODER_FILES if (path / f).is_file()), None)
    if encoder_file is None:
        raise ValueError(f"{path} has no {' or '.join(ENCODER_FILES)}: refusing random hyper-encoders")
    if not isinstance(base_model, nn.Module):
        base_model = load_causal_lm(location, dtype=dtype, trust_remote_code=trust_remote_code)
    if version == 1 and (path / ADAPTER_WEIGHTS).is_file():
        base_model = _apply_adapter(base_model, path, is_trainable=is_trainable)
    emb = base_model.get_input_embeddings()  # type: ignore[operator]
    head = base_model.get_output_embeddings()  # type: ignore[operator]
    is_tied = bool(raw["encoder"].get("tie_encoders", False))
    config = Zip2ZipConfig(
        compression=compression,
        hidden_size=int(emb.weight.shape[1]),
        hyper_encoder=encoder,
        # our tied mode runs one encoder over the head rows: equal to theirs only when both sides share them
        tie_encoders=is_tied and head is not None and head.weight is emb.weight,
        base_model_name_or_path=location,
        position_mode=raw.get("position_mode", "compressed"),
        extra_head_rows="after_hypertokens",
    )
    _check_encoder_width(raw, config.hidden_size, path)
    return CheckpointParts(
        config,
        base_model,
        encoder_file=encoder_file,
        one_encoder_weight_set=is_tied,
        encoder_description="the encoders its config describes",
    )


def _refuse_unsupported_files(path: Path, version: int | None) -> None:
    if (path / "meta.pt").exists():
        raise ValueError(
            f"{path}/meta.pt holds pickled training flags that override encoder.causal/residual; this "
            "loader does not unpickle files: copy those flags into the encoder section of "
            f"{CONFIG_FILE_NAME} and remove meta.pt"
        )
    adapter = [f for f in (ADAPTER_CONFIG, ADAPTER_WEIGHTS) if (path / f).is_file()]
    if version == 2 and adapter:
        raise ValueError(f"{path}: a format-2 checkpoint has its LoRA merged, yet holds {adapter}")
    if version == 1 and len(adapter) == 1:
        raise ValueError(f"{path} holds {adapter[0]} without its partner: the adapter is incomplete")
    if version == 1 and not adapter and (path / "model.safetensors").is_file():
        raise ValueError(
            f"{path}: decoder weights in model.safetensors next to a format-1 config are not supported"
        )


def upstream_base_location(path: Path) -> str:
    """Where the authors' checkpoint in ``path`` takes its base from: the folder itself (format 2), else the
    hub id or path its config names."""
    raw = json.loads((path / CONFIG_FILE_NAME).read_text(encoding="utf-8"))
    return _base_location(path, raw, None)


def _base_location(path: Path, raw: dict[str, Any], base_model: nn.Module | str | Path | None) -> str:
    """Where the base (and its tokenizer) is: the override, the folder itself (format 2), or the reference."""
    if isinstance(base_model, str | Path):
        return str(base_model)
    referenced = raw.get("base_model_name_or_path")
    if referenced == SELF_CONTAINED:
        return str(path)
    if not referenced:
        raise ValueError(f"{path}/{CONFIG_FILE_NAME} names no base model; pass base_model=")
    return str(referenced)


def _load_tokenizer(location: str, path: Path, *, trust_remote_code: bool) -> TokenizerVocabulary:
    from transformers import AutoTokenizer

    try:
        with refusing_remote_code(location):
            tokenizer: TokenizerVocabulary = AutoTokenizer.from_pretrained(
                location, trust_remote_code=trust_remote_code
            )
    except RemoteCodeError:
        raise
    except (OSError, ValueError) as error:
        raise ValueError(
            f"{path}: cannot load the tokenizer of base model {location!r} (its pad id is part of the "
            f"encoder input): {error}. Pass base_model=<local folder> or tokenizer="
        ) from error
    return tokenizer


def _compression(raw: dict[str, Any], tokenizer: TokenizerVocabulary) -> CompressionConfig:
    """Their codec settings; V comes from the config (format 2 counts embedding rows, not the tokenizer)."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pad is None:
        raise ValueError("the base tokenizer has neither a pad nor an EOS token; the encoders need a pad id")
    c = raw["compression"]
    return CompressionConfig(
        initial_vocab_size=int(c["initial_vocab_size"]),
        pad_token_id=int(pad),
        max_subtokens=int(c["max_subtokens"]),
        max_codebook_size=int(c["max_codebook_size"]),
        disabled_ids=frozenset(int(i) for i in c["disabled_ids"]),
    )


def _hyper_encoder_config(raw: dict[str, Any]) -> HyperEncoderConfig:
    kind, enc = raw["encoder_type"], raw["encoder"]
    if kind not in _ENCODER_TYPES:
        raise ValueError(f"encoder_type={kind!r} is not supported; known: {', '.join(_ENCODER_TYPES)}")
    num_layers, num_heads = int(enc["num_hidden_layers"]), int(enc["num_heads"])
    hidden = int(enc["hidden_size"])
    intermediate = enc.get("intermediate_size") or 4 * hidden
    if kind == "transformer":
        if enc.get("position_encoding") not in ("learnable", None):
            raise ValueError(
                f"transformer position_encoding={enc['position_encoding']!r}: expected 'learnable' or null"
            )
        return HyperEncoderConfig(
            name="upstream_transformer",
            intermediate_size=int(intermediate),
            member_positions=enc.get("position_encoding") == "learnable",
            num_layers=num_layers,
            num_heads=num_heads,
        )
    return HyperEncoderConfig(
        name="res_latent_attn",
        width=hidden,
        intermediate_size=int(intermediate),
        causal=bool(enc.get("causal", False)),
        residual=bool(enc.get("residual", True)),
        num_layers=num_layers,
        num_heads=num_heads,
    )


def _check_encoder_width(raw: dict[str, Any], hidden_size: int, path: Path) -> None:
    enc = raw["encoder"]
    model_width = enc.get("model_hidden_size") or enc["hidden_size"]
    if int(model_width) != hidden_size:
        raise ValueError(
            f"{path}: the encoders were built for width {model_width} but the base model's is {hidden_size}; "
            "wrong base_model?"
        )


def _apply_adapter(base_model: nn.Module, path: Path, *, is_trainable: bool) -> nn.Module:
    """Wrap with the peft adapter in ``path`` and check that peft placed every tensor of its file."""
    from peft import PeftModel, get_peft_model_state_dict

    saved = load_file(str(path / ADAPTER_WEIGHTS))
    model = PeftModel.from_pretrained(base_model, str(path), is_trainable=is_trainable)
    placed = get_peft_model_state_dict(model)
    dropped = sorted(set(saved) - set(placed))
    if dropped:
        raise ValueError(
            f"{path / ADAPTER_WEIGHTS}: {len(dropped)} LoRA tensors match no module peft adapts (their "
            f"module is not in target_modules of {ADAPTER_CONFIG}, so peft would silently drop them): "
            f"{dropped[:5]}"
        )
    missing = sorted(set(placed) - set(saved))
    if missing:
        raise ValueError(f"{path / ADAPTER_WEIGHTS} lacks LoRA tensors peft expects: {missing[:5]}")
    differing = [k for k, v in saved.items() if not torch.equal(v.to(placed[k].dtype), placed[k].cpu())]
    if differing:
        raise ValueError(
            f"{path / ADAPTER_WEIGHTS}: peft did not load these tensors as saved: {differing[:5]}"
        )
    return model
