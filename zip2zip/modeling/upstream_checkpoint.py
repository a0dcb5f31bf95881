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
training flags) is refused rather than unpickled, as is ``adapter_model.bin``. The config is read strictly
(``read_upstream_config``, through ``config_file``); a format-1 checkpoint without its adapter is refused
unless its config says ``"has_adapter": false``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from zip2zip.codec.config import CompressionConfig, TokenizerVocabulary
from zip2zip.modeling.base_models import load_base
from zip2zip.modeling.checkpoint_parts import CheckpointParts
from zip2zip.modeling.config import (
    CONFIG_FILE_NAME,
    MAX_ENCODER_LAYERS,
    MAX_INTERMEDIATE_SIZE,
    MAX_MODEL_WIDTH,
    POSITION_MODES,
    HyperEncoderConfig,
    Zip2ZipConfig,
    build_from_file,
    checkpoint_base_location,
    load_referenced_base,
    read_compression,
)
from zip2zip.modeling.config_file import (
    REQUIRED,
    ConfigFileError,
    ConfigSection,
    first_line,
    read_json_object,
)
from zip2zip.modeling.lora import ADAPTER_CONFIG, ADAPTER_WEIGHTS, load_adapter
from zip2zip.remote_code import RemoteCodeError, refusing_remote_code

ENCODER_FILES = ("zip2zip_encoders.safetensors", "encoders.safetensors")
SELF_CONTAINED = "."
_ENCODER_TYPES = ("transformer", "res_latent_attn")
# Our addition to their format-1 config: ``"has_adapter": false`` says the checkpoint was saved without LoRA
# (their package writes no such record, and rejects the key: remove it to load the folder with theirs).
HAS_ADAPTER_KEY = "has_adapter"


@dataclass(frozen=True)
class UpstreamConfig:
    """The authors' ``zip2zip_config.json``, read strictly (``config_file``); the pad id comes from the tokenizer."""

    file: Path
    version: int
    base_model_name_or_path: str | None
    compression: dict[str, Any]  # CompressionConfig fields but pad_token_id
    hyper_encoder: HyperEncoderConfig
    is_tied: bool
    position_mode: str
    model_width: int  # the base width the encoders were built for
    has_adapter: bool


def upstream_format_version(path: Path) -> int | None:
    """1 or 2 when ``path`` is a folder holding an authors' checkpoint, else None (not theirs)."""
    file = path / CONFIG_FILE_NAME
    if not file.exists() and not file.is_symlink():
        return None
    data = read_json_object(file)
    if "encoder_type" not in data:
        return None
    return read_upstream_config(path).version


def read_upstream_config(path: Path) -> UpstreamConfig:
    """Every key of the authors' config in ``path``, typed and range-checked; unknown keys are refused."""
    file = path / CONFIG_FILE_NAME
    top = ConfigSection(read_json_object(file), str(file))
    version = top.integer("format_version", default=1, low=1, high=2)
    kind = top.string("encoder_type", choices=_ENCODER_TYPES)
    base = top.string("base_model_name_or_path", default=None)
    # format 2 (zip2zip++) introduced the key; only format 1 may omit it (then "compressed", as theirs)
    mode_default = POSITION_MODES[0] if version == 1 else REQUIRED
    position_mode = top.string("position_mode", default=mode_default, choices=POSITION_MODES)
    has_adapter = top.boolean(HAS_ADAPTER_KEY, default=version == 1)
    if version == 2 and has_adapter:
        raise top.error(HAS_ADAPTER_KEY, "but a format-2 checkpoint has its LoRA merged into its weights")
    compression = read_compression(top.section("compression"), is_authors=True)
    enc = top.section("encoder")
    hidden = enc.integer("hidden_size", low=1, high=MAX_MODEL_WIDTH)
    shared = {
        "num_layers": enc.integer("num_hidden_layers", high=MAX_ENCODER_LAYERS),
        "num_heads": enc.integer("num_heads", low=1, high=MAX_MODEL_WIDTH),
        # their default, 4 * hidden_size, applies to null only; 0 is refused by the range
        "intermediate_size": enc.integer("intermediate_size", default=None, low=1, high=MAX_INTERMEDIATE_SIZE)
        or 4 * hidden,
    }
    is_tied = enc.boolean("tie_encoders", default=False)
    if kind == "transformer":
        position = enc.string("position_encoding", default=None, choices=("learnable", None))
        model_width = hidden
        values: dict[str, Any] = {"name": "upstream_transformer", "member_positions": position == "learnable"}
    else:  # their res_latent_attn reads no position_encoding: a value would be silently ignored
        enc.string("position_encoding", default=None, choices=(None,))
        model_width = enc.integer("model_hidden_size", default=None, low=1, high=MAX_MODEL_WIDTH) or hidden
        values = {
            "name": "res_latent_attn",
            "width": hidden,
            "causal": enc.boolean("causal", default=False),
            "residual": enc.boolean("residual", default=True),
        }
    enc.finish()
    top.finish()
    return UpstreamConfig(
        file=file,
        version=version,
        base_model_name_or_path=base,
        compression=compression,
        hyper_encoder=build_from_file(HyperEncoderConfig, str(file), **shared, **values),
        is_tied=is_tied,
        position_mode=position_mode,
        model_width=model_width,
        has_adapter=has_adapter,
    )


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
    raw = read_upstream_config(path)
    _refuse_unsupported_files(path, raw)
    location = _base_location(path, raw, base_model)
    compression = _compression(
        raw, tokenizer or _load_tokenizer(location, path, trust_remote_code=trust_remote_code)
    )
    encoder_file = next((path / f for f in ENCODER_FILES if (path / f).is_file()), None)
    if encoder_file is None:
        raise ValueError(f"{path} has no {' or '.join(ENCODER_FILES)}: refusing random hyper-encoders")
    if not isinstance(base_model, nn.Module):
        base_model = load_referenced_base(
            raw.file, lambda: load_base(location, dtype=dtype, trust_remote_code=trust_remote_code).model
        )
    if raw.has_adapter:
        base_model = load_adapter(base_model, path, is_trainable=is_trainable)
    emb = base_model.get_input_embeddings()  # type: ignore[operator]
    head = base_model.get_output_embeddings()  # type: ignore[operator]
    hidden_size = int(emb.weight.shape[1])
    if raw.model_width != hidden_size:
        raise ValueError(
            f"{raw.file}: the encoders were built for width {raw.model_width} but the base model's is "
            f"{hidden_size}; wrong base_model?"
        )
    config = build_from_file(
        Zip2ZipConfig,
        str(raw.file),
        compression=compression,
        hidden_size=hidden_size,
        hyper_encoder=raw.hyper_encoder,
        # our tied mode runs one encoder over the head rows: equal to theirs only when both sides share them
        tie_encoders=raw.is_tied and head is not None and head.weight is emb.weight,
        base_model_name_or_path=location,
        position_mode=raw.position_mode,
        extra_head_rows="after_hypertokens",
    )
    return CheckpointParts(
        config,
        raw.file,
        base_model,
        encoder_file=encoder_file,
        one_encoder_weight_set=raw.is_tied,
        encoder_description="the encoders its config describes",
    )


def _refuse_unsupported_files(path: Path, raw: UpstreamConfig) -> None:
    """Files this loader does not read, or a LoRA adapter that is not what the config says."""
    if (path / "meta.pt").exists():
        raise ValueError(
            f"{path}/meta.pt holds pickled training flags that override encoder.causal/residual; this "
            "loader does not unpickle files: copy those flags into the encoder section of "
            f"{CONFIG_FILE_NAME} and remove meta.pt"
        )
    if (path / "adapter_model.bin").exists():
        raise ValueError(
            f"{path}/adapter_model.bin is a pickled LoRA adapter, which this loader does not unpickle: convert "
            f"it to {ADAPTER_WEIGHTS} (peft's save_pretrained(..., safe_serialization=True)) and remove the .bin"
        )
    adapter = [f for f in (ADAPTER_CONFIG, ADAPTER_WEIGHTS) if (path / f).exists() or (path / f).is_symlink()]
    if raw.version == 2 and adapter:
        raise ValueError(f"{path}: a format-2 checkpoint has its LoRA merged, yet holds {adapter}")
    if raw.version == 1 and not raw.has_adapter and adapter:
        raise ValueError(
            f"{path} holds {adapter} but {raw.file} says {HAS_ADAPTER_KEY}: false; remove one or the other"
        )
    missing = [f for f in (ADAPTER_CONFIG, ADAPTER_WEIGHTS) if f not in adapter]
    if raw.has_adapter and missing:
        raise ValueError(
            f"{path} lacks {' and '.join(missing)}: a format-1 checkpoint carries its LoRA adapter, and "
            f"without it the model is the base without LoRA. Copy the whole checkpoint, or if it was saved "
            f'without LoRA add "{HAS_ADAPTER_KEY}": false to {raw.file}'
        )
    if raw.version == 1 and not adapter and (path / "model.safetensors").is_file():
        raise ValueError(
            f"{path}: decoder weights in model.safetensors next to a format-1 config are not supported"
        )


def upstream_base_location(path: Path) -> str:
    """Where the authors' checkpoint in ``path`` takes its base from: the folder itself (format 2), else the
    hub id or path its config names (a relative path is relative to ``path``)."""
    return _base_location(path, read_upstream_config(path), None)


def _base_location(path: Path, raw: UpstreamConfig, base_model: nn.Module | str | Path | None) -> str:
    """Where the base (and its tokenizer) is: the override, the folder itself (format 2), or the reference."""
    if isinstance(base_model, str | Path):
        return str(base_model)
    referenced = raw.base_model_name_or_path
    if referenced == SELF_CONTAINED:
        if raw.version != 2:
            raise ConfigFileError(
                f"{raw.file}: base_model_name_or_path is '.', which only a self-contained format-2 checkpoint "
                "may say; name the base model"
            )
        return str(path)
    if not referenced:
        raise ConfigFileError(f"{raw.file} names no base model; pass base_model=")
    return checkpoint_base_location(path, referenced, file=raw.file)


def _load_tokenizer(location: str, path: Path, *, trust_remote_code: bool) -> TokenizerVocabulary:
    from transformers import AutoTokenizer

    try:
        with refusing_remote_code(location):
            tokenizer: TokenizerVocabulary = AutoTokenizer.from_pretrained(
                location, trust_remote_code=trust_remote_code
            )
    except RemoteCodeError:
        raise
    except Exception as error:  # transformers' and tokenizers' errors of every type, damaged files
        raise ValueError(
            f"{path}: cannot load the tokenizer of base model {location!r} (its pad id is part of the "
            f"encoder input): {first_line(error)}. Pass base_model=<local folder> or tokenizer="
        ) from error
    return tokenizer


def _compression(raw: UpstreamConfig, tokenizer: TokenizerVocabulary) -> CompressionConfig:
    """Their codec settings; V comes from the config (format 2 counts embedding rows, not the tokenizer)."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pad is None:
        raise ValueError(
            f"{raw.file}: the base tokenizer has neither a pad nor an EOS token; the encoders need a pad id"
        )
    config: CompressionConfig = build_from_file(
        CompressionConfig, str(raw.file), **raw.compression, pad_token_id=int(pad)
    )
    return config
