"""Checkpoints on disk: what ``Zip2ZipForCausalLM.save_pretrained`` writes and ``from_pretrained`` reads.

A checkpoint is a directory with the zip2zip config, the hyper-encoder weights (safetensors; none with
compression off), the peft adapter if there is one, and a ``config.json`` naming the model type for the
transformers Auto classes. The base model is referenced by name or path, never
copied, and loaded from that reference (``resolve_base_location``). The config lists which components the
checkpoint holds (``checkpoint_contents``), so a checkpoint that lost one is refused instead of loading as
another model. Settings passed at load time that differ from the checkpoint's are an error, never a
silent override. This module reads and writes files; the model itself is ``model``'s.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import nn

from zip2zip.codec.config import CompressionConfig
from zip2zip.modeling.base_models import BaseReference, load_base
from zip2zip.modeling.checkpoint_parts import CheckpointParts
from zip2zip.modeling.config import (
    ADAPTER,
    CONFIG_FILE_NAME,
    HF_CONFIG_FILE_NAME,
    HYPER_ENCODERS,
    MODEL_TYPE,
    HyperEncoderConfig,
    Zip2ZipConfig,
    checkpoint_base_location,
    load_referenced_base,
    read_checkpoint_config,
)
from zip2zip.modeling.config_file import first_line
from zip2zip.modeling.lora import load_adapter
from zip2zip.modeling.model_card import write_model_card
from zip2zip.modeling.upstream_checkpoint import (
    load_upstream_checkpoint,
    upstream_base_location,
    upstream_format_version,
)
from zip2zip.remote_code import RemoteCodeError, refusing_remote_code

ENCODER_WEIGHTS_FILE = "hyper_encoders.safetensors"
ADAPTER_DIR = "adapter"
DEFAULT_ADAPTER = "default"  # peft's name for the adapter get_peft_model and PeftModel.from_pretrained create
# The components a checkpoint may hold besides its config: the files each needs, and what loading
# without them would silently give.
_COMPONENT_FILES = {
    ADAPTER: (f"{ADAPTER_DIR}/adapter_config.json", f"{ADAPTER_DIR}/adapter_model.safetensors"),
    HYPER_ENCODERS: (ENCODER_WEIGHTS_FILE,),
}
_WITHOUT = {
    ADAPTER: "the base model without its LoRA adapter",
    HYPER_ENCODERS: "randomly initialised hyper-encoders",
}


def is_peft_model(model: nn.Module) -> bool:
    return hasattr(model, "get_base_model") and hasattr(model, "peft_config")


# ---- base models -------------------------------------------------------------------------------------


def compression_for_base(
    name_or_path: str,
    *,
    tokenizer: Any,
    gguf_file: str | None,
    revision: str | None,
    max_subtokens: int,
    max_codebook_size: int,
    trust_remote_code: bool,
    access: Mapping[str, Any] | None = None,
) -> CompressionConfig:
    """Codec settings for a base model from its tokenizer (loaded from ``name_or_path`` when not given)."""
    from zip2zip.codec.config import compression_config_from_tokenizer

    if tokenizer is None:
        from transformers import AutoTokenizer

        try:
            with refusing_remote_code(name_or_path):
                tokenizer = AutoTokenizer.from_pretrained(
                    name_or_path,
                    gguf_file=gguf_file,
                    revision=revision,
                    trust_remote_code=trust_remote_code,
                    **(access or {}),
                )
        except RemoteCodeError:
            raise
        except Exception as error:  # transformers' and tokenizers' errors of every type, damaged files
            raise ValueError(f"{name_or_path}: cannot load its tokenizer ({first_line(error)})") from error
    return compression_config_from_tokenizer(
        tokenizer, max_subtokens=max_subtokens, max_codebook_size=max_codebook_size
    )


# ---- loading -----------------------------------------------------------------------------------------


def is_checkpoint(path: Path) -> bool:
    """Whether ``path`` is a zip2zip checkpoint directory (else a base model id or path)."""
    return os.path.lexists(
        path / CONFIG_FILE_NAME
    )  # a broken file or link is a broken checkpoint, not a base


def base_reference(path: Path) -> BaseReference:
    """The base model of the checkpoint in ``path`` (ours or the authors'), read from its config alone.

    A self-contained checkpoint (the authors' format 2) is its own base: its folder. Raises ValueError
    when the config names none."""
    if upstream_format_version(path) is not None:
        return BaseReference(upstream_base_location(path))
    config = Zip2ZipConfig.load(path)
    if not config.base_model_name_or_path:
        raise ValueError(f"{path}/{CONFIG_FILE_NAME} does not say which base model it wraps")
    location = checkpoint_base_location(path, config.base_model_name_or_path, file=path / CONFIG_FILE_NAME)
    return BaseReference(location, config.base_gguf_file, config.base_revision)


def load_checkpoint(
    path: Path,
    *,
    compression: CompressionConfig | None,
    hyper_encoder: HyperEncoderConfig | None,
    dtype: torch.dtype | str | None,
    base_model: nn.Module | str | Path | None,
    is_trainable: bool,
    trust_remote_code: bool,
    tokenizer: Any = None,
    access: Mapping[str, Any] | None = None,
) -> CheckpointParts:
    """What ``path`` holds: its config, its base (``base_model`` or the one referenced) with its adapter, and
    its encoder file, each checked present.

    ``trust_remote_code`` applies to the base (see ``zip2zip.remote_code``); ``access``: hub options for the
    referenced base (``HubOptions.access_options``)."""
    if upstream_format_version(path) is not None:  # the authors' layout: settings come from their config
        if compression is not None or hyper_encoder is not None:
            raise ValueError(f"{path} fixes its own compression and encoder settings; drop those arguments")
        return load_upstream_checkpoint(
            path,
            base_model=base_model,
            tokenizer=tokenizer,
            dtype=dtype,
            is_trainable=is_trainable,
            trust_remote_code=trust_remote_code,
        )
    config = Zip2ZipConfig.load(path)
    contents = checkpoint_contents(path)  # before the (slow) base model: fail in a second
    _check_matching_settings(path, config, compression=compression, hyper_encoder=hyper_encoder)
    if not isinstance(base_model, nn.Module):
        if not (base_model or config.base_model_name_or_path):
            raise ValueError(f"{path} does not say which base model it wraps; pass base_model=")
        reference = (
            BaseReference(str(base_model), config.base_gguf_file, config.base_revision)
            if base_model
            else base_reference(path)
        )
        base_model = load_referenced_base(
            path / CONFIG_FILE_NAME,
            lambda: (
                load_base(reference, dtype=dtype, trust_remote_code=trust_remote_code, access=access).model
            ),
        )
    if ADAPTER in contents:
        base_model = load_adapter(base_model, path / ADAPTER_DIR, is_trainable=is_trainable)
    return CheckpointParts(
        config,
        path / CONFIG_FILE_NAME,
        base_model,
        encoder_file=path / ENCODER_WEIGHTS_FILE if HYPER_ENCODERS in contents else None,
        encoder_hint=" (checkpoint saved with another hyper-encoder or tie_encoders setting?)",
    )


def _check_matching_settings(
    path: Path,
    config: Zip2ZipConfig,
    *,
    compression: CompressionConfig | None,
    hyper_encoder: HyperEncoderConfig | None,
) -> None:
    """Settings passed to ``from_pretrained`` must equal the checkpoint's: trained encoders do not transfer."""
    if compression is not None and compression != config.compression:
        diffs = {
            k: (v, config.compression.to_dict()[k])
            for k, v in compression.to_dict().items()
            if v != config.compression.to_dict()[k]
        }
        raise ValueError(
            f"{path} was trained with other compression settings; (given, checkpoint) = {diffs}. "
            "Encoders trained for one M/C do not transfer: drop compression= or use a matching checkpoint"
        )
    if hyper_encoder is not None and hyper_encoder != config.hyper_encoder:
        raise ValueError(
            f"hyper_encoder={hyper_encoder} differs from the checkpoint's {config.hyper_encoder}"
        )


# ---- saving ------------------------------------------------------------------------------------------


def save_checkpoint(
    directory: Path | str,
    *,
    config: Zip2ZipConfig,
    base_model: nn.Module,
    encoder_state: Mapping[str, torch.Tensor],
    tokenizer: Any = None,
) -> Path:
    """Write encoder weights (+ the base's peft adapter) + config + model card; the base model is referenced
    by name/path. ``tokenizer`` (a transformers tokenizer, or a ``data.tokenizers.Tokenizer`` that has one)
    is saved beside them, so ``AutoTokenizer`` loads the folder.

    With compression off (C = 0, e.g. the continual-pretraining control) no encoder weights are written.
    The config's ``contents`` lists what was written (see ``checkpoint_contents``)."""
    if not config.base_model_name_or_path:
        raise ValueError(
            "this model's base has no name or path to reference: save the base model first "
            "(base.save_pretrained(dir)) and wrap it with from_base(..., base_model_name_or_path=dir)"
        )
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    contents = []
    if config.compression.max_codebook_size > 0:
        state = {k: v.detach().contiguous() for k, v in encoder_state.items()}
        save_file(state, str(directory / ENCODER_WEIGHTS_FILE), metadata={"format": "pt"})
        contents.append(HYPER_ENCODERS)
    base: Any = base_model
    if is_peft_model(base):
        # peft records the local path the base was loaded from; record the portable reference instead
        for adapter_config in base.peft_config.values():
            adapter_config.base_model_name_or_path = str(config.base_model_name_or_path)
            adapter_config.revision = config.base_revision
        # one adapter per checkpoint, the model's own ("default", what loading restores); others, e.g. a frozen
        # distillation teacher beside it, are not part of the model
        base.save_pretrained(str(directory / ADAPTER_DIR), selected_adapters=[DEFAULT_ADAPTER])
        contents.append(ADAPTER)
    if tokenizer is not None:
        hf_tokenizer = tokenizer.hf_tokenizer() if hasattr(tokenizer, "hf_tokenizer") else tokenizer
        hf_tokenizer.save_pretrained(str(directory))
    write_hf_config(directory)
    config.save(directory, contents=contents)  # a first save cut short leaves no config
    write_model_card(directory)
    return directory


def write_hf_config(directory: Path) -> Path:
    """The ``config.json`` through which ``AutoConfig``/``AutoModelForCausalLM`` recognise a zip2zip checkpoint."""
    path = directory / HF_CONFIG_FILE_NAME
    data = {"model_type": MODEL_TYPE, "architectures": ["Zip2ZipForCausalLM"]}
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


# ---- contents ----------------------------------------------------------------------------------------


def checkpoint_contents(path: Path | str) -> frozenset[str]:
    """The components (``"adapter"``, ``"hyper_encoders"``) of the checkpoint in ``path``, checked present.

    The list is the one its config records (a config without it is refused, see ``read_checkpoint_config``;
    a control checkpoint, C = 0, has no hyper-encoders by design). Raises ValueError naming any missing
    file, or a component present but not recorded: either way the loaded model would not be the saved one.
    """
    path = Path(path)
    config, recorded = read_checkpoint_config(path)
    unknown = sorted(recorded - _COMPONENT_FILES.keys())
    if unknown:
        raise ValueError(
            f"{path}: unknown components {unknown} in its config; known: {sorted(_COMPONENT_FILES)}"
        )
    if bool(config.compression.max_codebook_size) != (HYPER_ENCODERS in recorded):
        raise ValueError(
            f"{path / CONFIG_FILE_NAME}: max_codebook_size={config.compression.max_codebook_size} but "
            f"{HYPER_ENCODERS!r} is {'not ' if HYPER_ENCODERS not in recorded else ''}listed: a checkpoint holds "
            "hyper-encoders exactly when its codebook has slots (C > 0)"
        )
    missing = {
        name: [f for f in _COMPONENT_FILES[name] if not (path / f).is_file()] for name in sorted(recorded)
    }
    if any(missing.values()):
        details = "; ".join(
            f"{name} lacks {', '.join(files)} (loading would give {_WITHOUT[name]})"
            for name, files in missing.items()
            if files
        )
        raise ValueError(f"{path} is incomplete: {details}. Copy the whole checkpoint directory")
    unlisted = sorted(name for name in _COMPONENT_FILES if name not in recorded and _is_present(path, name))
    if unlisted:
        raise ValueError(
            f"{path} holds {unlisted} but its config does not list them, so it is not the checkpoint its "
            f"config describes; remove those files or list them under 'contents' in {CONFIG_FILE_NAME}"
        )
    return recorded


def _is_present(path: Path, component: str) -> bool:
    """Any trace of the component: its directory or file, complete or not."""
    return (path / Path(_COMPONENT_FILES[component][0]).parts[0]).exists()
