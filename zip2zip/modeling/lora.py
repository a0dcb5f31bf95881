"""LoRA target modules per model family, resolved from the model's own module names.

The paper adapts Phi-3 with LoRA on the attention and MLP projections. Phi-3 fuses them
(``qkv_proj``, ``gate_up_proj``); Llama, SmolLM2, Qwen2 and Gemma keep them separate. Rather than trusting
``config.model_type``, the names are read from the linear layers actually present, and a model that
matches neither layout is refused with the names it does have. This module does not train anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from torch import nn

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


def check_peft_type(adapter_config: Path) -> None:
    """Refuse an ``adapter_config.json`` that is not a LoRA adapter's, naming the file: peft fails on an
    unknown ``peft_type`` with a bare ``KeyError: '<type>'`` after the base model has loaded, and other peft
    methods (prompt tuning, ...) would change the sequence a zip2zip model sees."""
    try:
        raw = json.loads(adapter_config.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(
            f"{adapter_config} is not readable JSON ({exc}); restore it from the checkpoint"
        ) from None
    peft_type = raw.get("peft_type") if isinstance(raw, dict) else None
    if peft_type != "LORA":
        raise ValueError(
            f"{adapter_config}: peft_type={peft_type!r}, but a zip2zip checkpoint's adapter is LoRA "
            "(peft_type 'LORA'); restore the file from the checkpoint"
        )
