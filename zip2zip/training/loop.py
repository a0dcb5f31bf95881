"""The training run behind ``python -m zip2zip.training``: LoRA continued pretraining on LZW-compressed text.

The loop, top to bottom: prepare (or reuse) the chunk cache (``data.training_chunks``), build the base model +
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

This module is the run itself: setup, the step loop and the end of the run. What is trained and with which
optimizer is built in ``build``; what the log holds (learning curve, summary) is ``run_log``; checkpoints,
data order and schedule are ``state``; the command line is ``cli``.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from zip2zip.data.tokenizers import get_tokenizer
from zip2zip.data.training_chunks import PreparedData, prepare_data
from zip2zip.modeling.model_card import write_model_card
from zip2zip.training.build import build_model, build_optimizer
from zip2zip.training.config import TrainConfig
from zip2zip.training.loss import StepStats, TrainBatch, Zip2ZipTrainingModule, evaluate, train_step
from zip2zip.training.run_log import LearningCurve, heldout_reference, reduce_stats, run_summary, start_log
from zip2zip.training.state import (
    LOG_FILE,
    check_resume_config,
    eval_batches,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
    step_micro_batches,
    write_log,
)

DECODER_FILE = "reconstruction_decoder.safetensors"
LOG_EVERY_STEPS = 10  # the JSON log is rewritten this often (and at every checkpoint)


@dataclasses.dataclass
class _RunContext:
    """What every step of one run reads: the prepared module and optimizer, the data and the log."""

    config: TrainConfig
    accelerator: Any
    prepared: PreparedData
    module: Any  # the Zip2ZipTrainingModule as accelerate prepared (and maybe compiled) it
    optimizer: torch.optim.Optimizer
    scheduler: Any  # stepped by train_step, once per optimizer step
    output_dir: Path
    num_accum: int
    log: dict[str, Any]

    @property
    def reconstruction_weight(self) -> float:
        return self.config.reconstruction_weight if self.config.use_compression else 0.0

    def unwrapped(self) -> Zip2ZipTrainingModule:
        return self.accelerator.unwrap_model(self.module)


def run(config: TrainConfig, *, resume: bool = False, show_progress: bool = True) -> dict[str, Any]:
    """Train; returns the final log (also written to ``<output_dir>/train_log.json``)."""
    from accelerate.utils import set_seed

    if config.num_threads is not None:
        # on a shared CPU, 2 threads can be 100x slower than 1 for tiny models (each waits for the other)
        torch.set_num_threads(config.num_threads)
    accelerator = _make_accelerator(config)
    num_accum = _grad_accumulation_steps(config, accelerator.num_processes)
    output_dir = config.resolved_output_dir()
    output_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = _checkpoint_to_resume(config, output_dir) if resume else None
    set_seed(config.seed)
    with accelerator.main_process_first():
        prepared = prepare_data(
            config.data_config(),
            cache_root=config.cache_dir,
            num_workers=config.num_data_workers,
            show_progress=show_progress and accelerator.is_main_process,
        )
        module = build_model(config, prepared, output_dir)
    ctx = _prepare(config, accelerator, prepared, module, output_dir=output_dir, num_accum=num_accum)
    start = 0 if checkpoint is None else _resume_from(ctx, checkpoint)
    curve = LearningCurve(
        ctx.log,
        ctx.module,
        _heldout_batches(ctx, config.num_eval_chunks),
        accelerator=accelerator,
        reconstruction_weight=ctx.reconstruction_weight,
    )
    ctx.log["heldout_reference"] = heldout_reference(config, prepared)
    if start == 0:
        # the curves start at the untrained wrapper (the base model when compression is off)
        curve.validate(0)
    _train(ctx, curve, start=start, show_progress=show_progress)
    _finish(ctx)
    if accelerator.is_main_process:
        write_log(output_dir / LOG_FILE, ctx.log)
    accelerator.wait_for_everyone()
    return ctx.log


# ---- setup -------------------------------------------------------------------------------------------


def _make_accelerator(config: TrainConfig) -> Any:
    """The run's ``accelerate.Accelerator``: bf16 autocast on GPU when ``mixed_precision="auto"``."""
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs

    mixed = config.mixed_precision
    if mixed == "auto":
        mixed = "bf16" if torch.cuda.is_available() else "no"
    # several processes without CUDA (torchrun / accelerate launch on CPUs): accelerate needs cpu=True for gloo
    multi_cpu = not torch.cuda.is_available() and int(os.environ.get("WORLD_SIZE", "1")) > 1
    return Accelerator(
        mixed_precision=mixed,
        cpu=multi_cpu,
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
    )


def _grad_accumulation_steps(config: TrainConfig, world: int) -> int:
    """Micro-batches per process per optimizer step, so one step takes exactly ``tokens_per_step`` codes."""
    if config.tokens_per_step % (config.micro_batch_size * config.seq_len * world):
        raise ValueError(
            f"tokens_per_step={config.tokens_per_step} is not divisible by micro_batch_size * seq_len * "
            f"num_processes = {config.micro_batch_size * config.seq_len * world}; change micro_batch_size"
        )
    return config.tokens_per_step // (config.micro_batch_size * config.seq_len * world)


def _checkpoint_to_resume(config: TrainConfig, output_dir: Path) -> Path:
    """The latest ``step-*`` checkpoint, checked against ``config`` before data and model: fail in seconds."""
    checkpoint = latest_checkpoint(output_dir)
    if checkpoint is None:
        raise ValueError(f"--resume: no step-* checkpoint in {output_dir}")
    check_resume_config(checkpoint, config)
    return checkpoint


def _prepare(
    config: TrainConfig,
    accelerator: Any,
    prepared: PreparedData,
    module: Zip2ZipTrainingModule,
    *,
    output_dir: Path,
    num_accum: int,
) -> _RunContext:
    """The optimizer, the module and optimizer handed to accelerate (and ``torch.compile``), and the log."""
    num_params = sum(p.numel() for p in module.parameters() if p.requires_grad)
    optimizer, scheduler = build_optimizer(module, config)
    # the scheduler stays out of accelerate: train_step steps it, once per optimizer step
    prepared_module, optimizer = accelerator.prepare(module, optimizer)
    compiled = torch.compile(prepared_module, dynamic=True) if config.compile else prepared_module
    log = start_log(
        config, prepared, num_processes=accelerator.num_processes, num_accum=num_accum, num_params=num_params
    )
    return _RunContext(
        config, accelerator, prepared, compiled, optimizer, scheduler, output_dir, num_accum, log
    )


def _resume_from(ctx: _RunContext, checkpoint: Path) -> int:
    """Restore weights, optimizer, scheduler, RNG states and the log so far; returns the step to start at."""
    start, saved = load_checkpoint(
        checkpoint,
        module=ctx.unwrapped(),
        optimizer=ctx.optimizer,
        scheduler=ctx.scheduler,
        accelerator=ctx.accelerator,
    )
    ctx.log["steps"], ctx.log["validation"] = saved["steps"], saved["validation"]
    ctx.log.setdefault("resumed_from", []).append({"step": start, "checkpoint": checkpoint.name})
    return start


def _heldout_batches(ctx: _RunContext, num_chunks: int) -> list[TrainBatch]:
    """This process's share of the first ``num_chunks`` held-out chunks, in micro-batches."""
    accelerator = ctx.accelerator
    return eval_batches(
        ctx.prepared.heldout,
        num_chunks,
        config=ctx.config,
        rank=accelerator.process_index,
        world=accelerator.num_processes,
        pad=ctx.prepared.compression.pad_token_id,
    )


# ---- the step loop -----------------------------------------------------------------------------------


def _train(ctx: _RunContext, curve: LearningCurve, *, start: int, show_progress: bool) -> None:
    """Steps ``start`` .. ``stop_after_steps or num_steps``; validates, checkpoints and logs on the way."""
    from tqdm.auto import tqdm

    config, accelerator = ctx.config, ctx.accelerator
    stop = config.stop_after_steps or config.num_steps
    bar = tqdm(
        total=stop,
        initial=start,
        desc=f"train {config.preset}",
        unit="step",
        disable=not (show_progress and accelerator.is_main_process),
    )
    for step in range(start, stop):
        stats, record = _train_one_step(ctx, step)
        ctx.log["steps"].append(record)
        curve.add_training(stats)
        bar.update(1)
        bar.set_postfix(loss=f"{stats.loss:.3f}", codes_per_s=f"{record['train_codes_per_s']:.0f}")
        done = step + 1
        if done % config.eval_every == 0 or done == stop:
            curve.validate(done)
        if done % config.save_every == 0 or done == stop:
            _save_step_checkpoint(ctx, done)
        if accelerator.is_main_process and (done % LOG_EVERY_STEPS == 0 or done % config.save_every == 0):
            write_log(ctx.output_dir / LOG_FILE, ctx.log)
    bar.close()


def _train_one_step(ctx: _RunContext, step: int) -> tuple[StepStats, dict[str, Any]]:
    """One optimizer step over its micro-batches: all-process statistics and the step's log record."""
    config, accelerator = ctx.config, ctx.accelerator
    micro_batches = step_micro_batches(
        ctx.prepared.train,
        step=step,
        config=config,
        num_accum=ctx.num_accum,
        rank=accelerator.process_index,
        world=accelerator.num_processes,
        pad=ctx.prepared.compression.pad_token_id,
    )
    batches = [b.to(accelerator.device) for b in micro_batches]
    learning_rates = {g["name"]: g["lr"] for g in ctx.optimizer.param_groups}
    _sync(accelerator.device)
    t0 = time.perf_counter()
    stats = train_step(
        ctx.module,
        batches,
        optimizer=ctx.optimizer,
        scheduler=ctx.scheduler,
        accelerator=accelerator,
        max_grad_norm=config.max_grad_norm,
        reconstruction_weight=ctx.reconstruction_weight,
    )
    _sync(accelerator.device)
    elapsed = time.perf_counter() - t0
    grad_norms = stats.grad_norms  # all-reduced gradients: the same on every process
    stats = reduce_stats(stats, accelerator, ctx.reconstruction_weight)
    record = {
        "step": step + 1,
        "learning_rates": learning_rates,
        "grad_norms": grad_norms,
        "duration_s": elapsed,
        "train_codes_per_s": stats.num_codes / elapsed,
        "train_base_tokens_per_s": stats.num_base_tokens / elapsed,
        **stats.to_dict(),
    }
    return stats, record


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _save_step_checkpoint(ctx: _RunContext, done: int) -> None:
    """A resumable ``step-NNNNNN/`` checkpoint; only the newest ``keep_checkpoints`` are kept."""
    save_checkpoint(
        ctx.output_dir / f"step-{done:06d}",
        module=ctx.unwrapped(),
        optimizer=ctx.optimizer,
        scheduler=ctx.scheduler,
        step=done,
        log=ctx.log,
        accelerator=ctx.accelerator,
    )
    if ctx.accelerator.is_main_process:
        for old in sorted(ctx.output_dir.glob("step-*"))[: -ctx.config.keep_checkpoints]:
            shutil.rmtree(old, ignore_errors=True)


# ---- the end -----------------------------------------------------------------------------------------


def _finish(ctx: _RunContext) -> None:
    """Held-out evaluation, throughput summary and the model checkpoint at the end of the run.

    The checkpoint is ``final/`` when all ``num_steps`` ran, else ``partial-step-NNNNNN/`` (a run stopped by
    ``stop_after_steps``; ``--resume`` continues it exactly from its ``step-*`` checkpoint).
    """
    config, accelerator, weight = ctx.config, ctx.accelerator, ctx.reconstruction_weight
    module = ctx.unwrapped()
    final_eval = _heldout_batches(ctx, config.num_final_eval_chunks)
    val = reduce_stats(
        evaluate(module, final_eval, reconstruction_weight=weight, accelerator=accelerator),
        accelerator,
        weight,
    )
    final_heldout = {
        "num_chunks": min(config.num_final_eval_chunks, len(ctx.prepared.heldout)),
        **val.to_dict(),
    }
    steps = ctx.log["steps"]
    ctx.log["summary"] = run_summary(config, steps, final_heldout)
    if accelerator.is_main_process:
        name = "final" if len(steps) == config.num_steps else f"partial-step-{len(steps):06d}"
        _save_final(module, ctx.output_dir / name, ctx.log, tokenizer=config.tokenizer)


def _save_final(module: Zip2ZipTrainingModule, final: Path, log: dict[str, Any], *, tokenizer: str) -> None:
    """The zip2zip checkpoint (with the tokenizer, where it has a transformers twin), the reconstruction
    decoder (if any) and the log, in ``final``; then the model card, which reads the log."""
    try:
        hf_tokenizer = get_tokenizer(tokenizer).hf_tokenizer()
    except ValueError:  # a tiktoken backend: AutoTokenizer cannot load it from the folder anyway
        hf_tokenizer = None
    module.model.save_pretrained(final, tokenizer=hf_tokenizer)
    if module.decoder is not None:
        save_file(
            {k: v.contiguous() for k, v in module.decoder.state_dict().items()}, str(final / DECODER_FILE)
        )
    write_log(final / LOG_FILE, log)
    write_model_card(final)
