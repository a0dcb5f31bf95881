"""Resumable training state: learning-rate schedule, data order, trainable weights, checkpoints.

Everything that makes ``--resume`` exact lives here: the chunk order is a pure function of (seed, global
position), so the data position is implied by the optimizer step; a checkpoint stores the trainable
weights only (LoRA, encoders, decoder; the base model is rebuilt from its reference), the optimizer and
scheduler state, the log so far and every process's RNG state. Checkpoints are written to a temp directory
and renamed. Nothing is pickled (see ``state_file``): resuming from a checkpoint made elsewhere runs no code
from it, and it resumes only the run it was made by (same config, see ``check_resume_config``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import shutil
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from zip2zip.data.training_chunks import ChunkArrays
from zip2zip.training.config import TrainConfig
from zip2zip.training.loss import Scheduler, TrainBatch, collate_chunks
from zip2zip.training.state_file import load_state, save_state

if TYPE_CHECKING:
    from accelerate import Accelerator

TRAINABLE_FILE = "trainable.safetensors"
STATE_FILE = "trainer_state.safetensors"  # step, optimizer, scheduler
LOG_FILE = "train_log.json"  # the run's log up to this step, with its config
# Fields a resumed run may change: none alters a number of the run (threads: speed; stop: where it ends;
# output_dir: where the run is, which changes when its folder is moved).
RESUMABLE_CHANGES = ("num_threads", "stop_after_steps", "output_dir")


def trainable_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """Every trainable parameter by name (LoRA, encoders, decoder): what a resumable checkpoint stores."""
    return {n: p.detach().contiguous().clone() for n, p in module.named_parameters() if p.requires_grad}


def load_trainable_state(module: nn.Module, state: dict[str, torch.Tensor]) -> None:
    params = {n: p for n, p in module.named_parameters() if p.requires_grad}
    if set(params) != set(state):
        missing, unexpected = sorted(set(params) - set(state)), sorted(set(state) - set(params))
        raise ValueError(
            f"checkpoint does not match this model: missing {missing[:3]}, unexpected {unexpected[:3]} "
            "(resumed with another preset or --no-compression setting?)"
        )
    with torch.no_grad():
        for n, p in params.items():
            p.copy_(state[n])


# ---- schedule and data order -----------------------------------------------------------------------


def lr_factor(step: int, *, warmup_steps: int, num_steps: int, min_ratio: float) -> float:
    """Multiplier of the peak learning rate after ``step`` optimizer steps: linear warm-up, cosine decay.

    Example: warmup 10, 100 steps, min_ratio 0.1 -> 0.1 at step 0 (first step uses 1/10), 1.0 at step 10,
    0.1 at step 100.
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, num_steps - warmup_steps))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


@cache
def _epoch_order(num_chunks: int, epoch: int, seed: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(num_chunks)


def chunk_index(position: int, num_chunks: int, seed: int) -> int:
    """Chunk read at global ``position`` of the stream: a fresh seeded permutation every epoch."""
    return int(_epoch_order(num_chunks, position // num_chunks, seed)[position % num_chunks])


def step_micro_batches(
    data: ChunkArrays, *, step: int, config: TrainConfig, num_accum: int, rank: int, world: int, pad: int
) -> list[TrainBatch]:
    """This process's micro-batches for optimizer step ``step`` (0-based); a pure function of the step."""
    mb = config.micro_batch_size
    start = step * mb * num_accum * world
    out = []
    for a in range(num_accum):
        first = start + (a * world + rank) * mb
        rows = [data[chunk_index(first + i, len(data), config.seed)] for i in range(mb)]
        out.append(collate_chunks(rows, pad_token_id=pad, max_subtokens=config.max_subtokens))
    return out


def eval_batches(
    data: ChunkArrays, num_chunks: int, *, config: TrainConfig, rank: int, world: int, pad: int
) -> list[TrainBatch]:
    """The first ``num_chunks`` held-out chunks of a fixed order, this process's share, in micro-batches."""
    order = np.random.default_rng([config.seed, 10**6]).permutation(len(data))[:num_chunks]
    mine = order[rank::world]
    mb = config.micro_batch_size
    return [
        collate_chunks(
            [data[int(i)] for i in mine[j : j + mb]], pad_token_id=pad, max_subtokens=config.max_subtokens
        )
        for j in range(0, len(mine), mb)
    ]


# ---- checkpoints -----------------------------------------------------------------------------------


def _rng_file(process_index: int) -> str:
    return f"rng-{process_index}.safetensors"


def _rng_state() -> dict[str, Any]:
    """Every generator's state as tensors and plain values (so ``state_file`` can store it)."""
    np_state = np.random.get_state(legacy=False)
    state = {
        "python": random.getstate(),  # (version, tuple of 625 ints, gauss or None)
        "numpy": {**np_state, "state": {**np_state["state"], "key": np_state["state"]["key"].tolist()}},
        "torch": torch.get_rng_state(),  # uint8 tensor
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np_state = state["numpy"]
    key = np.asarray(np_state["state"]["key"], dtype=np.uint32)
    np.random.set_state({**np_state, "state": {**np_state["state"], "key": key}})
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    directory: Path,
    *,
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Scheduler,
    step: int,
    log: dict[str, Any],
    accelerator: Accelerator,
) -> None:
    """Write ``directory`` (atomically: temp dir + rename). Every process writes its own RNG file."""
    tmp = directory.with_name(directory.name + ".tmp")
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    save_state(tmp / _rng_file(accelerator.process_index), _rng_state())
    if accelerator.is_main_process:
        save_file(trainable_state(module), str(tmp / TRAINABLE_FILE))
        state = {"step": step, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}
        save_state(tmp / STATE_FILE, state)
        write_log(tmp / LOG_FILE, log)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        shutil.rmtree(directory, ignore_errors=True)
        tmp.rename(directory)
    accelerator.wait_for_everyone()


def latest_checkpoint(output_dir: Path) -> Path | None:
    steps = sorted(p for p in output_dir.glob("step-*") if p.is_dir() and not p.name.endswith(".tmp"))
    return steps[-1] if steps else None


def check_resume_config(directory: Path, config: TrainConfig) -> None:
    """Refuse to resume the run saved in ``directory`` with another config: the result would be neither run.

    Only the fields in ``RESUMABLE_CHANGES`` may differ. Raises ValueError naming every differing field.
    """
    _require_current_format(directory)
    saved = json.loads((directory / LOG_FILE).read_text(encoding="utf-8"))["config"]
    now = json.loads(json.dumps(config.to_dict()))  # tuples -> lists, as in the saved JSON
    # a field the saved run predates had its default then (e.g. min_doc_bytes before it became a flag)
    defaults = {f.name: f.default for f in dataclasses.fields(config) if f.default is not dataclasses.MISSING}
    saved = {**json.loads(json.dumps(defaults)), **saved}
    differ = sorted(
        k for k in saved.keys() | now.keys() if k not in RESUMABLE_CHANGES and saved.get(k) != now.get(k)
    )
    if differ:
        changes = "; ".join(
            f"{k}: saved {saved.get(k, '<absent>')!r}, now {now.get(k, '<absent>')!r}" for k in differ
        )
        raise ValueError(
            f"cannot resume {directory}: the config differs from the saved run's ({changes}). Only "
            f"{', '.join(RESUMABLE_CHANGES)} may change on --resume: pass the saved values, or start a new run "
            "in another output_dir"
        )


def load_checkpoint(
    directory: Path,
    *,
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Scheduler,
    accelerator: Accelerator,
) -> tuple[int, dict[str, Any]]:
    """Restore what ``save_checkpoint`` wrote; returns the step and the log up to it."""
    _require_current_format(directory)
    load_trainable_state(module, load_file(str(directory / TRAINABLE_FILE)))
    state = load_state(directory / STATE_FILE)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    rng = directory / _rng_file(accelerator.process_index)
    if not rng.is_file():
        raise ValueError(f"{rng} is missing: resume with the same number of processes as the saved run")
    _set_rng_state(load_state(rng))
    return int(state["step"]), json.loads((directory / LOG_FILE).read_text(encoding="utf-8"))


def _require_current_format(directory: Path) -> None:
    """Earlier versions pickled the state (``*.pt``); unpickling can run any code the file names, so such a
    checkpoint is refused, never read."""
    if (directory / STATE_FILE).is_file():
        return
    pickled = sorted(p.name for p in directory.glob("*.pt"))
    if pickled:
        raise ValueError(
            f"{directory} holds pickle files ({', '.join(pickled)}), the checkpoint format of earlier versions, "
            "which is not loaded because unpickling a file can run arbitrary code. Start the run afresh (a "
            "new output_dir); its final/ or partial-step-*/ model checkpoint still loads with from_pretrained"
        )
    raise ValueError(f"{directory} is not a complete checkpoint: {STATE_FILE} is missing")


def write_log(path: Path, log: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(log, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)
