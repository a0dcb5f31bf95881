"""LoRA target modules per model family, resolved from the model's own module names.

The paper adapts Phi-3 with LoRA on the attention and MLP projections. Phi-3 fuses them
(``qkv_proj``, ``gate_up_proj``); Llama, SmolLM2, Qwen2 and Gemma keep them separate. Rather than trusting
``config.model_type``, the names are read from the linear layers actually present, and a model that
matches neither layout is refused with the names it does have. This module does not train anything.
"""

from __future__ import annotations

import contextlib
import enum
import math
import types
import typing
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import nn

from zip2zip.modeling.config import MAX_MODEL_WIDTH
from zip2zip.modeling.config_file import ConfigFileError, ConfigSection, first_line, read_json_object
from zip2zip.modeling.tensor_copy import load_tensors

if TYPE_CHECKING:
    from peft import LoraConfig

FUSED_TARGETS = ("qkv_proj", "o_proj", "gate_up_proj", "down_proj")  # Phi-3 / Phi-3.5
SPLIT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")  # Llama & co.


def linear_module_names(model: nn.Module) -> set[str]:
    """Last name component of every ``nn.Linear`` in ``model`` (e.g. ``{"q_proj", "lm_head", ...}``)."""
    return {
        name.rsplit(".", 1)[-1] for name, module in model.named_modules() if isinstance(module, nn.Linear)
    }


def lora_target_modules(model: nn.Module) -> list[str]:
    """The attention + MLP projections to adapt, for a transformers causal LM.

    Example: a ``Phi3ForCausalLM`` -> ``["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]``.
    Raises ValueError listing the model's linear layers when neither known layout is complete.
    """
    names = linear_module_names(model)
    for targets in (FUSED_TARGETS, SPLIT_TARGETS):
        if set(targets) <= names:
            return list(targets)
    model_type = getattr(getattr(model, "config", None), "model_type", type(model).__name__)
    raise ValueError(
        f"cannot resolve LoRA targets for model_type={model_type!r}: its linear layers are {sorted(names)}, "
        f"which contain neither the fused Phi-3 set {list(FUSED_TARGETS)} nor the split set "
        f"{list(SPLIT_TARGETS)}. Pass the target module names explicitly (lora_targets=...)."
    )


def build_lora_config(
    model: nn.Module,
    *,
    rank: int,
    alpha: int,
    dropout: float = 0.0,
    targets: list[str] | None = None,
) -> LoraConfig:
    """A peft ``LoraConfig`` for ``model`` (targets resolved by ``lora_target_modules`` unless given)."""
    from peft import LoraConfig

    if rank < 1 or alpha <= 0:
        raise ValueError(f"LoRA rank={rank} and alpha={alpha} must be positive (the paper uses 16/16)")
    resolved = list(targets) if targets else lora_target_modules(model)
    missing = sorted(set(resolved) - linear_module_names(model))
    if missing:
        raise ValueError(f"LoRA targets {missing} are not linear layers of this model")
    return LoraConfig(
        r=rank,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=resolved,
        bias="none",
        task_type="CAUSAL_LM",
    )


def check_adapter_config(file: Path) -> None:
    """Read a peft ``adapter_config.json`` strictly before peft does: every key one of ``LoraConfig``'s, every
    value of a JSON type its annotation allows. peft itself tests options for truth (``"use_rslora":
    "false"`` switches rsLoRA on), takes ``"None"`` for a list of tokens, raises a KeyError for an unknown
    ``peft_type`` and a bare JSONDecodeError for a truncated file."""
    import dataclasses

    from peft import LoraConfig

    section = ConfigSection(read_json_object(file), str(file))
    peft_type = section.data.get("peft_type")
    if peft_type != "LORA":  # peft: a bare KeyError; another method (prompt tuning...) changes the sequence
        raise ConfigFileError(
            f"{file}: peft_type={peft_type!r}, but a zip2zip checkpoint's adapter is LoRA "
            "(peft_type 'LORA'); restore the file from the checkpoint"
        )
    section.ignore("peft_type")
    section.integer("r", low=1, high=MAX_MODEL_WIDTH)
    hints = typing.get_type_hints(LoraConfig)
    for field in dataclasses.fields(LoraConfig):
        if section.has(field.name) and not _json_fits(section.data[field.name], hints.get(field.name, Any)):
            raise section.error(
                field.name, f"does not fit peft's LoraConfig.{field.name}: {hints[field.name]}"
            )
        section.ignore(field.name)
    section.finish()


def _json_fits(value: Any, annotation: Any) -> bool:
    """Whether a JSON value has a type ``annotation`` allows (a peft config class: a JSON object)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_json_fits(value, a) for a in args)
    if origin is typing.Literal:
        return value in args
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if annotation is str:
        return isinstance(value, str)
    if origin in (list, tuple):
        if not isinstance(value, list):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(_json_fits(v, a) for v, a in zip(value, args, strict=True))
        return all(_json_fits(v, args[0]) for v in value) if args else True
    if annotation is dict or origin is dict:
        return isinstance(value, dict) and (not args or all(_json_fits(v, args[1]) for v in value.values()))
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return isinstance(value, str) and value in {m.value for m in annotation}
    return isinstance(value, dict)  # one of peft's nested config classes, built from a JSON object


ADAPTER_CONFIG, ADAPTER_WEIGHTS = "adapter_config.json", "adapter_model.safetensors"


@contextlib.contextmanager
def peft_deprecation_quieted() -> Iterator[None]:
    """peft (0.21) reads ``model.is_gradient_checkpointing``, which transformers 5.25 deprecates for
    ``is_activation_checkpointing``: a FutureWarning on every adapter load or LoRA wrap that no user of ours can
    act on. Only that message is filtered, and only around peft's call."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning
        )
        yield


def load_adapter(base_model: nn.Module, folder: Path, *, is_trainable: bool) -> nn.Module:
    """Wrap ``base_model`` with the peft adapter in ``folder`` (both checkpoint formats), checked every way peft
    does not: its config strictly (``check_adapter_config``), its errors of any type as one line naming the
    file, and every tensor of its file placed as saved (peft silently drops a tensor whose module is not a
    target, e.g. after a misspelt ``target_modules`` entry, and loads the model without it)."""
    import torch
    from peft import PeftModel, get_peft_model_state_dict

    config, weights = folder / ADAPTER_CONFIG, folder / ADAPTER_WEIGHTS
    check_adapter_config(config)
    saved = load_tensors(weights)
    try:
        with peft_deprecation_quieted():
            model = PeftModel.from_pretrained(base_model, str(folder), is_trainable=is_trainable)
    except Exception as error:  # peft raises TypeError, AttributeError, KeyError, ValueError for bad configs
        raise ValueError(f"{config}: peft cannot load this adapter ({first_line(error)})") from error
    # The embedding layers' own weights belong in the comparison exactly when the file holds them ("auto"
    # would look the base up, on the hub or beside it, to guess, and warn whenever it cannot).
    holds_embeddings = any(key.endswith(("embed_tokens.weight", "lm_head.weight")) for key in saved)
    placed = get_peft_model_state_dict(model, save_embedding_layers=holds_embeddings)
    dropped = sorted(set(saved) - set(placed))
    if dropped:
        raise ValueError(
            f"{weights}: {len(dropped)} LoRA tensors match no module peft adapts (their module is not in "
            f"target_modules of {ADAPTER_CONFIG}, so peft would silently drop them): {dropped[:5]}"
        )
    missing = sorted(set(placed) - set(saved))
    if missing:
        raise ValueError(f"{weights} lacks LoRA tensors peft expects: {missing[:5]}")
    differing = [k for k, v in saved.items() if not torch.equal(v.to(placed[k].dtype), placed[k].cpu())]
    if differing:
        raise ValueError(f"{weights}: peft did not load these tensors as saved: {differing[:5]}")
    return model
