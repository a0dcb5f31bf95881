"""What one training run trains and with what: the model (base + hyper-encoders + LoRA + reconstruction
decoder) and its AdamW optimizer with one parameter group per part (``lora``, ``encoders``, ``decoder``),
each with its own learning rate, warm-up + cosine schedule and gradient clip (``TrainConfig.group_recipes``).

Building only: the step loop, validation and checkpoints live in ``loop``, ``validation`` and ``state``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from zip2zip.data.training_chunks import PreparedData
from zip2zip.modeling.base_models import BASE_MODELS, BaseReference, TinyLlama, load_base
from zip2zip.modeling.config import HyperEncoderConfig
from zip2zip.modeling.model import Zip2ZipPreTrainedModel
from zip2zip.modeling.reconstruction import ReconstructionDecoder
from zip2zip.training.config import GroupRecipe, TrainConfig
from zip2zip.training.distillation import DistillationWeights, load_teacher_adapter
from zip2zip.training.loss import Zip2ZipTrainingModule
from zip2zip.training.state import lr_factor

# ---- model -----------------------------------------------------------------------------------------


def build_model(config: TrainConfig, prepared: PreparedData, output_dir: Path) -> Zip2ZipTrainingModule:
    """Base model + encoders (+ LoRA, + reconstruction decoder); trainable = LoRA, encoders, decoder."""
    from zip2zip.modeling.lora import build_lora_config

    compression = prepared.compression
    base, reference = _load_base(config, compression.initial_vocab_size, output_dir)
    tie = config.tie_encoders
    if tie is None:
        text_config: Any = base.config.get_text_config()  # type: ignore[operator,union-attr]
        tie = bool(getattr(text_config, "tie_word_embeddings", False))
    model = Zip2ZipPreTrainedModel.from_base(
        base,
        compression=compression,
        hyper_encoder=HyperEncoderConfig(num_layers=config.hyper_encoder_layers),
        tie_encoders=tie,
        base_model_name_or_path=reference.name_or_path,
        base_gguf_file=reference.gguf_file,
        base_revision=reference.revision,
    )
    lora = build_lora_config(
        model.causal_lm,
        rank=config.lora_rank,
        alpha=config.lora_alpha,
        dropout=config.lora_dropout,
        targets=list(config.lora_targets) if config.lora_targets else None,
    )
    model.add_lora(lora)  # freezes every base weight; LoRA weights trainable
    if config.use_compression and config.distill_teacher != "base":
        load_teacher_adapter(model, Path(config.distill_teacher))
    decoder = None
    if config.use_compression:
        if config.reconstruction_weight > 0:
            dtype = getattr(torch, config.model_dtype)
            decoder = ReconstructionDecoder(model.config.hidden_size, compression.max_subtokens).to(dtype)
    else:  # control: no hypertoken ever appears, so the encoders would get no gradient
        for p in [*model.input_encoder.parameters(), *model.output_encoder.parameters()]:
            p.requires_grad_(False)
    return Zip2ZipTrainingModule(
        model,
        decoder,
        reconstruction_weight=config.reconstruction_weight if decoder is not None else 0.0,
        max_reconstruction_entries=config.max_reconstruction_entries,
        # the control has no codes to distil into: it is the teacher's own vocabulary (like lambda, ignored)
        distillation=DistillationWeights(config.distill_first_token_weight, config.distill_split_weight)
        if config.use_compression
        else None,
        canonical_loss=config.canonical_loss,
    )


def _load_base(config: TrainConfig, vocab_size: int, output_dir: Path) -> tuple[nn.Module, BaseReference]:
    """The base causal LM and the reference a checkpoint records for it (a registered base by its offline
    reference or hub id, so the checkpoint loads wherever that is installed)."""
    if config.model == "tiny":
        return _tiny_base(vocab_size, config.seq_len, output_dir), BaseReference(str(output_dir / "base"))
    dtype = getattr(torch, config.model_dtype)
    loaded = load_base(config.model, dtype=dtype, revision=config.model_revision)
    spec = BASE_MODELS.get(config.model)
    reference = (spec.reference() if spec is not None else None) or BaseReference(config.model)
    return loaded.model, dataclasses.replace(reference, revision=config.model_revision)


def _tiny_base(vocab_size: int, seq_len: int, output_dir: Path) -> nn.Module:
    """A random 2-layer Llama (d=64) saved under ``output_dir/base`` so checkpoints can reference it."""
    base_dir = output_dir / "base"
    if (base_dir / "config.json").is_file():
        return load_base(str(base_dir)).model
    tiny = TinyLlama(vocab_size, max_position_embeddings=max(256, seq_len), pad_token_id=0)
    # seed fixed: a resumed or repeated smoke run gets the same base
    base = load_base("tiny", tiny=tiny, seed=1234).model
    base.save_pretrained(str(base_dir))
    return base


def build_optimizer(module: Zip2ZipTrainingModule, config: TrainConfig) -> tuple[torch.optim.Optimizer, Any]:
    """AdamW over the parameter groups + a per-group warm-up/cosine schedule (stepped once per step)."""
    groups = _param_groups(module, config)
    optimizer = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
    recipes = config.group_recipes()
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, [_schedule(recipes[g["name"]], config.num_steps) for g in groups]
    )
    return optimizer, scheduler


def _param_groups(module: Zip2ZipTrainingModule, config: TrainConfig) -> list[dict[str, Any]]:
    """Trainable parameters split into the ``lora``, ``encoders`` and ``decoder`` groups (empty ones dropped).

    Each group carries its peak ``lr`` and its ``max_grad_norm`` (read by ``training.clip_grad_norms``).
    A trainable parameter in none of the three is our bug, not silently put in some group.
    """
    encoders = {
        id(p) for p in [*module.model.input_encoder.parameters(), *module.model.output_encoder.parameters()]
    }
    decoder = {id(p) for p in module.decoder.parameters()} if module.decoder is not None else set()
    members: dict[str, list[nn.Parameter]] = {"lora": [], "encoders": [], "decoder": []}
    for name, p in module.named_parameters():
        if not p.requires_grad:
            continue
        group = "encoders" if id(p) in encoders else "decoder" if id(p) in decoder else "lora"
        if group == "lora" and "lora_" not in name:
            raise AssertionError(f"trainable parameter {name} is not LoRA, encoder or decoder")
        members[group].append(p)
    recipes = config.group_recipes()
    return [
        {
            "params": params,
            "lr": recipes[name].learning_rate,
            "max_grad_norm": recipes[name].max_grad_norm,
            "name": name,
        }
        for name, params in members.items()
        if params
    ]


def _schedule(recipe: GroupRecipe, num_steps: int) -> Callable[[int], float]:
    """The LR multiplier of one group after ``step`` optimizer steps (a plain function: nothing to save)."""

    def factor(step: int) -> float:
        return lr_factor(
            step, warmup_steps=recipe.warmup_steps, num_steps=num_steps, min_ratio=recipe.min_lr_ratio
        )

    return factor
