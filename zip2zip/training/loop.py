"""``python -m zip2zip.training --preset NAME``: LoRA continued pretraining of a causal LM on LZW-compressed text.

The loop, top to bottom: prepare (or reuse) the chunk cache (``train_data``), build the base model +
hyper-encoders + LoRA + reconstruction decoder, then for each optimizer step take ``tokens_per_step``
compressed ids (gradient accumulation over micro-batches, split across processes), run ``training.train_step``
under ``accelerate`` (so ``accelerate launch`` / ``torchrun`` run it unchanged on many GPUs or nodes; bf16
autocast on GPU), with three AdamW parameter groups (LoRA, encoders, decoder: each its own warm-up +
cosine schedule and gradient clip, ``TrainConfig.group_recipes``), validate on a fixed held-out set
before the first step and every ``eval_every`` steps (the learning curve: each point also records the
training codes and base tokens seen) and checkpoint every ``save_every`` steps. A checkpoint holds the
trainable weights, optimizer, scheduler, step (which fixes the data position: the chunk order is a seeded
function of the step) and every process's RNG state, so ``--resume`` continues exactly.
``--no-compression`` trains the continual-pretraining control on the same documents with compression off.

Outputs in ``<output_dir>`` (default ``checkpoints/<preset>[-no-compression]``, outside git):
``final/`` (zip2zip checkpoint: config, hyper-encoders, LoRA adapter, base referenced by path; plus the
reconstruction decoder; ``partial-step-NNNNNN/`` instead when ``stop_after_steps`` ended the run early),
``step-NNNNNN/`` (resumable), ``train_log.json`` (config, environment, data
manifest, per-step losses, learning rates, pre-clip gradient norms per group and throughput, the
learning-curve points in ``validation`` with ``heldout_reference``, summary).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import shutil
import statistics
import sys
import time
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import nn
from transformers import HfArgumentParser
from transformers.hf_argparser import DataClassType, string_to_bool

from zip2zip.data.training_chunks import PreparedData, prepare_data
from zip2zip.modeling.base_models import SMOLLM2_GGUF, SMOLLM2_PACKAGE, TinyLlama, load_base_model
from zip2zip.modeling.config import PACKAGE_SCHEME, HyperEncoderConfig
from zip2zip.modeling.model import Zip2ZipForCausalLM
from zip2zip.modeling.reconstruction import ReconstructionDecoder
from zip2zip.training.config import PRESETS, GroupRecipe, TrainConfig
from zip2zip.training.loss import (
    StepStats,
    Zip2ZipTrainingModule,
    evaluate,
    slot_blind_reconstruction_accuracy,
    summarize,
    train_step,
)
from zip2zip.training.state import (
    check_resume_config,
    eval_batches,
    latest_checkpoint,
    load_checkpoint,
    lr_factor,
    save_checkpoint,
    step_micro_batches,
    write_log,
)

LOG_FILE = "train_log.json"
DECODER_FILE = "reconstruction_decoder.safetensors"
LOG_EVERY_STEPS = 10  # the JSON log is rewritten this often (and at every checkpoint)


# ---- model -----------------------------------------------------------------------------------------


def build_model(config: TrainConfig, prepared: PreparedData, output_dir: Path) -> Zip2ZipTrainingModule:
    """Base model + encoders (+ LoRA, + reconstruction decoder); trainable = LoRA, encoders, decoder."""
    from zip2zip.modeling.lora import build_lora_config

    compression = prepared.compression
    dtype = getattr(torch, config.model_dtype)
    encoder = HyperEncoderConfig(num_layers=config.hyper_encoder_layers)
    if config.model == "tiny-llama":
        base = _tiny_llama(compression.initial_vocab_size, config.seq_len, output_dir)
        name = str(output_dir / "base")
    else:
        base, _ = load_base_model(config.model, dtype=dtype, revision=config.model_revision)
        # a packaged base is referenced by package, so the checkpoint loads wherever it is installed
        name = PACKAGE_SCHEME + SMOLLM2_PACKAGE if config.model == "smollm2" else config.model
    tie = config.tie_encoders
    if tie is None:
        text_config: Any = base.config.get_text_config()  # type: ignore[operator,union-attr]
        tie = bool(getattr(text_config, "tie_word_embeddings", False))
    model = Zip2ZipForCausalLM.from_base(
        base,
        compression=compression,
        hyper_encoder=encoder,
        tie_encoders=tie,
        base_model_name_or_path=name,
        base_gguf_file=SMOLLM2_GGUF if config.model == "smollm2" else None,
        base_revision=config.model_revision,
    )
    lora = build_lora_config(
        model.causal_lm,
        rank=config.lora_rank,
        alpha=config.lora_alpha,
        dropout=config.lora_dropout,
        targets=list(config.lora_targets) if config.lora_targets else None,
    )
    model.add_lora(lora)  # freezes every base weight; LoRA weights trainable
    decoder = None
    if config.use_compression:
        if config.reconstruction_weight > 0:
            decoder = ReconstructionDecoder(model.config.hidden_size, compression.max_subtokens).to(dtype)
    else:  # control: no hypertoken ever appears, so the encoders would get no gradient
        for p in [*model.input_encoder.parameters(), *model.output_encoder.parameters()]:
            p.requires_grad_(False)
    return Zip2ZipTrainingModule(
        model,
        decoder,
        reconstruction_weight=config.reconstruction_weight if decoder is not None else 0.0,
        max_reconstruction_entries=config.max_reconstruction_entries,
    )


def _tiny_llama(vocab_size: int, seq_len: int, output_dir: Path) -> nn.Module:
    """A random 2-layer Llama (d=64) saved under ``output_dir/base`` so checkpoints can reference it."""
    base_dir = output_dir / "base"
    if (base_dir / "config.json").is_file():
        return load_base_model(str(base_dir))[0]
    tiny = TinyLlama(vocab_size, max_position_embeddings=max(256, seq_len), pad_token_id=0)
    # seed fixed: a resumed or repeated smoke run gets the same base
    base, _ = load_base_model("tiny-llama", tiny=tiny, seed=1234)
    base.save_pretrained(str(base_dir))
    return base


# ---- the loop ----------------------------------------------------------------------------------------


def _reduce_stats(stats: StepStats, accelerator: Any, reconstruction_weight: float) -> StepStats:
    if accelerator.num_processes == 1:
        return stats
    keys = sorted(stats.sums)
    t = torch.tensor(
        [stats.sums[k] for k in keys] + [stats.num_codes], dtype=torch.float64, device=accelerator.device
    )
    t = accelerator.reduce(t, reduction="sum")
    sums = {k: float(v) for k, v in zip(keys, t[:-1].tolist(), strict=True)}
    return summarize(sums, reconstruction_weight=reconstruction_weight, num_codes=int(t[-1]))


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


def build_optimizer(module: Zip2ZipTrainingModule, config: TrainConfig) -> tuple[torch.optim.Optimizer, Any]:
    """AdamW over the parameter groups + a per-group warm-up/cosine schedule (stepped once per step)."""
    groups = _param_groups(module, config)
    optimizer = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
    recipes = config.group_recipes()
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, [_schedule(recipes[g["name"]], config.num_steps) for g in groups]
    )
    return optimizer, scheduler


def _schedule(recipe: GroupRecipe, num_steps: int) -> Callable[[int], float]:
    """The LR multiplier of one group after ``step`` optimizer steps (a plain function: nothing to save)."""

    def factor(step: int) -> float:
        return lr_factor(
            step, warmup_steps=recipe.warmup_steps, num_steps=num_steps, min_ratio=recipe.min_lr_ratio
        )

    return factor


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run(config: TrainConfig, *, resume: bool = False, show_progress: bool = True) -> dict[str, Any]:
    """Train; returns the final log (also written to ``<output_dir>/train_log.json``)."""
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs, set_seed
    from tqdm.auto import tqdm

    from zip2zip.provenance import capture_environment, git_info

    if config.num_threads is not None:
        # on a shared CPU, 2 threads can be 100x slower than 1 for tiny models (each waits for the other)
        torch.set_num_threads(config.num_threads)
    mixed = config.mixed_precision
    if mixed == "auto":
        mixed = "bf16" if torch.cuda.is_available() else "no"
    # several processes without CUDA (torchrun / accelerate launch on CPUs): accelerate needs cpu=True for gloo
    multi_cpu = not torch.cuda.is_available() and int(os.environ.get("WORLD_SIZE", "1")) > 1
    accelerator = Accelerator(
        mixed_precision=mixed,
        cpu=multi_cpu,
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
    )
    rank, world = accelerator.process_index, accelerator.num_processes
    if config.tokens_per_step % (config.micro_batch_size * config.seq_len * world):
        raise ValueError(
            f"tokens_per_step={config.tokens_per_step} is not divisible by micro_batch_size * seq_len * "
            f"num_processes = {config.micro_batch_size * config.seq_len * world}; change micro_batch_size"
        )
    num_accum = config.tokens_per_step // (config.micro_batch_size * config.seq_len * world)
    output_dir = config.resolved_output_dir()
    output_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = latest_checkpoint(output_dir) if resume else None
    if resume:
        if checkpoint is None:
            raise ValueError(f"--resume: no step-* checkpoint in {output_dir}")
        check_resume_config(checkpoint, config)  # before the data and the model: fail in seconds
    set_seed(config.seed)
    with accelerator.main_process_first():
        prepared = prepare_data(
            config.data_config(),
            cache_root=config.cache_dir,
            num_workers=config.num_data_workers,
            show_progress=show_progress and accelerator.is_main_process,
        )
        module = build_model(config, prepared, output_dir)
    pad = prepared.compression.pad_token_id
    params = [p for p in module.parameters() if p.requires_grad]
    optimizer, scheduler = build_optimizer(module, config)
    prepared_module, optimizer = accelerator.prepare(
        module, optimizer
    )  # scheduler: stepped by us, once per step
    module = torch.compile(prepared_module, dynamic=True) if config.compile else prepared_module  # type: ignore[assignment]
    num_params = sum(p.numel() for p in params)
    log: dict[str, Any] = {
        "config": config.to_dict(),
        "environment": capture_environment(),
        "git": git_info(),  # the commit this run's code came from (provenance of the checkpoints)
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
        "num_processes": world,
        "grad_accumulation_steps": num_accum,
        "num_trainable_params": num_params,
        "data": {k: v for k, v in prepared.manifest.items() if k != "config"},
        "data_cache": str(prepared.directory),
        "steps": [],
        "validation": [],
    }
    start = 0
    if checkpoint is not None:
        start, saved = load_checkpoint(
            checkpoint,
            module=accelerator.unwrap_model(module),
            optimizer=optimizer,
            scheduler=scheduler,
            accelerator=accelerator,
        )
        log["steps"], log["validation"] = saved["steps"], saved["validation"]
        log.setdefault("resumed_from", []).append({"step": start, "checkpoint": checkpoint.name})
    heldout = eval_batches(
        prepared.heldout, config.num_eval_chunks, config=config, rank=rank, world=world, pad=pad
    )
    stop = config.stop_after_steps or config.num_steps
    weight = config.reconstruction_weight if config.use_compression else 0.0
    seen = {
        "num_train_codes_seen": sum(s["num_codes"] for s in log["steps"]),
        "num_train_base_tokens_seen": sum(s["num_base_tokens"] for s in log["steps"]),
    }
    log["heldout_reference"] = _heldout_reference(config, prepared)

    def validate(step: int) -> None:
        """One learning-curve point: held-out statistics after ``step`` steps and what training had seen."""
        val = _reduce_stats(
            evaluate(module, heldout, reconstruction_weight=weight, accelerator=accelerator),
            accelerator,
            weight,
        )
        log["validation"].append({"step": step, **seen, **val.to_dict()})

    if start == 0:
        validate(0)  # the curves start at the untrained wrapper (the base model when compression is off)
    bar = tqdm(
        total=stop,
        initial=start,
        desc=f"train {config.preset}",
        unit="step",
        disable=not (show_progress and accelerator.is_main_process),
    )
    for step in range(start, stop):
        batches = [
            b.to(accelerator.device)
            for b in step_micro_batches(
                prepared.train, step=step, config=config, num_accum=num_accum, rank=rank, world=world, pad=pad
            )
        ]
        learning_rates = {g["name"]: g["lr"] for g in optimizer.param_groups}
        _sync(accelerator.device)
        t0 = time.perf_counter()
        stats = train_step(
            module,
            batches,
            optimizer=optimizer,
            scheduler=scheduler,
            accelerator=accelerator,
            max_grad_norm=config.max_grad_norm,
            reconstruction_weight=weight,
        )
        _sync(accelerator.device)
        elapsed = time.perf_counter() - t0
        grad_norms = stats.grad_norms  # all-reduced gradients: the same on every process
        stats = _reduce_stats(stats, accelerator, weight)
        record = {
            "step": step + 1,
            "learning_rates": learning_rates,
            "grad_norms": grad_norms,
            "duration_s": elapsed,
            "train_codes_per_s": stats.num_codes / elapsed,
            "train_base_tokens_per_s": stats.num_base_tokens / elapsed,
            **stats.to_dict(),
        }
        log["steps"].append(record)
        seen["num_train_codes_seen"] += stats.num_codes
        seen["num_train_base_tokens_seen"] += stats.num_base_tokens
        bar.update(1)
        bar.set_postfix(loss=f"{stats.loss:.3f}", codes_per_s=f"{record['train_codes_per_s']:.0f}")
        done = step + 1
        if done % config.eval_every == 0 or done == stop:
            validate(done)
        if done % config.save_every == 0 or done == stop:
            save_checkpoint(
                output_dir / f"step-{done:06d}",
                module=accelerator.unwrap_model(module),
                optimizer=optimizer,
                scheduler=scheduler,
                step=done,
                log=log,
                accelerator=accelerator,
            )
            if accelerator.is_main_process:
                for old in sorted(output_dir.glob("step-*"))[: -config.keep_checkpoints]:
                    shutil.rmtree(old, ignore_errors=True)
        if accelerator.is_main_process and (done % LOG_EVERY_STEPS == 0 or done % config.save_every == 0):
            write_log(output_dir / LOG_FILE, log)
    bar.close()
    _finish(
        config,
        log,
        module=accelerator.unwrap_model(module),
        prepared=prepared,
        accelerator=accelerator,
        output_dir=output_dir,
        weight=weight,
    )
    if accelerator.is_main_process:
        write_log(output_dir / LOG_FILE, log)
    accelerator.wait_for_everyone()
    return log


def _heldout_reference(config: TrainConfig, prepared: PreparedData) -> dict[str, Any]:
    """Facts of the learning-curve set that training cannot change, for reading the curves."""
    batches = eval_batches(
        prepared.heldout,
        config.num_eval_chunks,
        config=config,
        rank=0,
        world=1,
        pad=prepared.compression.pad_token_id,
    )
    slot_blind = None
    if config.use_compression and config.reconstruction_weight > 0:
        slot_blind = slot_blind_reconstruction_accuracy(
            batches,
            pad_token_id=prepared.compression.pad_token_id,
            max_entries=config.max_reconstruction_entries,
        )
    return {
        "num_chunks": min(config.num_eval_chunks, len(prepared.heldout)),
        # best reconstruction accuracy without member order (one id repeated in every slot of an entry),
        # on the entries one process scores: the trivial level a trained decoder must rise above
        "slot_blind_reconstruction_accuracy": slot_blind,
    }


def _finish(
    config: TrainConfig,
    log: dict[str, Any],
    *,
    module: Zip2ZipTrainingModule,
    prepared: PreparedData,
    accelerator: Any,
    output_dir: Path,
    weight: float,
) -> None:
    """Held-out evaluation, throughput summary and the model checkpoint at the end of the run.

    The checkpoint is ``final/`` when all ``num_steps`` ran, else ``partial-step-NNNNNN/`` (a run stopped by
    ``stop_after_steps``; ``--resume`` continues it exactly from its ``step-*`` checkpoint).
    """
    rank, world, pad = accelerator.process_index, accelerator.num_processes, prepared.compression.pad_token_id
    final_eval = eval_batches(
        prepared.heldout, config.num_final_eval_chunks, config=config, rank=rank, world=world, pad=pad
    )
    val = _reduce_stats(
        evaluate(module, final_eval, reconstruction_weight=weight, accelerator=accelerator),
        accelerator,
        weight,
    )
    steps = log["steps"]
    timed = steps[1:] or steps  # the first step (allocations, thread pools) is warm-up
    total_s = sum(s["duration_s"] for s in timed) or float("nan")
    log["summary"] = {
        "final_heldout": {
            "num_chunks": min(config.num_final_eval_chunks, len(prepared.heldout)),
            **val.to_dict(),
        },
        "num_steps_done": len(steps),
        "is_complete": len(steps) == config.num_steps,
        "final_train_step": steps[-1] if steps else None,
        "train_step_duration_s_median": statistics.median(s["duration_s"] for s in timed) if timed else None,
        "train_codes_per_s": sum(s["num_codes"] for s in timed) / total_s,
        "train_base_tokens_per_s": sum(s["num_base_tokens"] for s in timed) / total_s,
        "warmup_step_duration_s": steps[0]["duration_s"] if steps else None,
        "train_time_s": sum(s["duration_s"] for s in steps),
        "num_train_codes": sum(s["num_codes"] for s in steps),
        "num_train_base_tokens": sum(s["num_base_tokens"] for s in steps),
    }
    if accelerator.is_main_process:
        final = output_dir / ("final" if len(steps) == config.num_steps else f"partial-step-{len(steps):06d}")
        module.model.save_pretrained(final)
        if module.decoder is not None:
            save_file(
                {k: v.contiguous() for k, v in module.decoder.state_dict().items()}, str(final / DECODER_FILE)
            )
        write_log(final / LOG_FILE, log)


# ---- CLI ---------------------------------------------------------------------------------------------


DEFAULT_PRESET = "smollm2-cpu"


class _ArgumentParser(HfArgumentParser):
    """Errors in one line: the usage of ~60 flags, which argparse prints first, would bury the message."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Every flag's default after its help; the preset list in the epilog keeps its line breaks."""


def _parse_value(kind: Any, text: str) -> Any:
    """``text`` as a value of the field type ``kind``: ``none`` for an optional field, a comma-separated
    list for a tuple, true/false (yes/no, 1/0) for a bool. Example: ``tuple[float, ...] | None``,
    ``"2,1"`` -> ``(2.0, 1.0)``."""
    args = typing.get_args(kind)
    if type(None) in args:
        if text.lower() == "none":
            return None
        kind = next(a for a in args if a is not type(None))
    if typing.get_origin(kind) is tuple:
        return tuple(_parse_value(typing.get_args(kind)[0], item) for item in text.split(",") if item)
    if kind is bool:
        return string_to_bool(text)
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: {text!r}") from None


def build_parser(preset: str = DEFAULT_PRESET) -> HfArgumentParser:
    """A flag per ``TrainConfig`` field (HfArgumentParser), defaulting to ``preset``'s value.

    HfArgumentParser types an ``X | None`` field as ``X`` and a tuple as a string's characters, so those
    flags get ``_parse_value`` (``none``, comma-separated lists); a bool field also gets ``--no-<flag>``.
    """
    presets = "\n".join(f"  {name:<18} {desc}" for name, (desc, _) in PRESETS.items())
    parser = _ArgumentParser(
        DataClassType(TrainConfig),
        prog="python -m zip2zip.training",
        description="LoRA continued pretraining on LZW-compressed text (zip2zip), or the uncompressed control.",
        epilog=f"presets:\n{presets}\n\nEvery TrainConfig field is a flag; the defaults shown are those of "
        f"--preset (default {DEFAULT_PRESET}; `--preset NAME --help` shows NAME's). Lists are comma-separated "
        "(--corpora code,math); optional fields take none. Runs under `accelerate launch` / torchrun unchanged.",
        formatter_class=_HelpFormatter,
    )
    hints = typing.get_type_hints(TrainConfig)
    for action in parser._actions:  # argparse has no public accessor for its actions
        kind = hints.get(action.dest)
        if action.dest == "preset":
            action.choices = list(PRESETS)
        elif action.type is not None and (
            type(None) in typing.get_args(kind) or typing.get_origin(kind) is tuple
        ):
            action.type = functools.partial(_parse_value, kind)
    for f in dataclasses.fields(TrainConfig):  # HfArgumentParser adds --no-x only where the default is True
        flag = f.name.replace("_", "-")
        if hints[f.name] is bool and f.default is False:
            parser.add_argument(f"--no-{flag}", dest=f.name, action="store_false", help=f"--{flag} false")
    parser.add_argument(
        "--no-compression",
        dest="use_compression",
        action="store_false",
        help="continual-pretraining control: same documents and steps, compression off (--use-compression false)",
    )
    parser.add_argument("--resume", action="store_true", help="continue from the latest step-* checkpoint")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(**{**dataclasses.asdict(PRESETS[preset][1]), "preset": preset})
    return parser


def parse_command_line(argv: Sequence[str] | None = None) -> tuple[TrainConfig, argparse.Namespace]:
    """The run's config (``--preset`` gives the defaults, flags override them) and the other flags.

    A bad value exits with status 2 and a one-line message, as argparse does, also when the values parse
    but do not form a valid config (e.g. ``warmup_steps >= num_steps``).
    """
    first = argparse.ArgumentParser(add_help=False)
    first.add_argument("--preset", default=DEFAULT_PRESET)
    preset = first.parse_known_args(argv)[0].preset
    parser = build_parser(preset if preset in PRESETS else DEFAULT_PRESET)  # the full parser names a typo
    args = parser.parse_args(argv)
    try:
        config = TrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)})
    except ValueError as error:
        parser.error(str(error))
    return config, args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    config, args = parse_command_line(argv)
    log = run(config, resume=args.resume, show_progress=not args.no_progress)
    summary = log.get("summary")
    if summary:
        h = summary["final_heldout"]
        print(
            f"{config.preset}{'' if config.use_compression else ' (no compression)'}: held-out lm_loss "
            f"{h['lm_loss']:.4f} nats/code, {h['nll_per_base_token']:.4f} nats/base token, recon acc "
            f"{h['reconstruction_accuracy']}; {summary['train_codes_per_s']:.1f} codes/s, "
            f"{summary['train_base_tokens_per_s']:.1f} base tokens/s -> {config.resolved_output_dir()}",
            file=sys.stderr,
        )
    return log


if __name__ == "__main__":
    main()
