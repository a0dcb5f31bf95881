"""The run's log (``train_log.json``) and the held-out numbers in it.

The log holds the config, environment, data manifest, one record per optimizer step, the learning curve
(``validation``: held-out statistics before the first step and every ``eval_every`` steps, each with the
training codes and base tokens seen by then), ``heldout_reference`` and, at the end, ``summary``. Statistics
are summed over processes before they are logged, so every process holds the same log. Writing the file is
``state.write_log``'s job; the loop decides when.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path
from typing import Any

import torch

from zip2zip.data.training_chunks import PreparedData
from zip2zip.training.config import TrainConfig
from zip2zip.training.loss import (
    StepStats,
    TrainBatch,
    evaluate,
    slot_blind_reconstruction_accuracy,
    summarize,
)
from zip2zip.training.state import eval_batches


def start_log(
    config: TrainConfig, prepared: PreparedData, *, num_processes: int, num_accum: int, num_params: int
) -> dict[str, Any]:
    """The log before the first step: what was run, where, on which data (steps and curve still empty)."""
    from zip2zip.provenance import capture_environment, git_info

    return {
        "config": config.to_dict(),
        "environment": capture_environment(),
        "git": git_info(),  # the commit this run's code came from (provenance of the checkpoints)
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
        "num_processes": num_processes,
        "grad_accumulation_steps": num_accum,
        "num_trainable_params": num_params,
        "data": {k: v for k, v in prepared.manifest.items() if k != "config"},
        "data_cache": str(prepared.directory),
        "steps": [],
        "validation": [],
    }


def reduce_stats(stats: StepStats, accelerator: Any, reconstruction_weight: float) -> StepStats:
    """``stats`` summed over every process (unchanged with one process)."""
    if accelerator.num_processes == 1:
        return stats
    keys = sorted(stats.sums)
    t = torch.tensor(
        [stats.sums[k] for k in keys] + [stats.num_codes], dtype=torch.float64, device=accelerator.device
    )
    t = accelerator.reduce(t, reduction="sum")
    sums = {k: float(v) for k, v in zip(keys, t[:-1].tolist(), strict=True)}
    return summarize(sums, reconstruction_weight=reconstruction_weight, num_codes=int(t[-1]))


class LearningCurve:
    """Appends held-out points to ``log["validation"]``, each with the training seen so far.

    ``seen`` starts from the steps already in the log, so a resumed run's curve continues its counts.
    """

    def __init__(
        self,
        log: dict[str, Any],
        module: Any,
        heldout: list[TrainBatch],
        *,
        accelerator: Any,
        reconstruction_weight: float,
    ) -> None:
        self.log = log
        self.module = module
        self.heldout = heldout
        self.accelerator = accelerator
        self.reconstruction_weight = reconstruction_weight
        self.seen = {
            "num_train_codes_seen": sum(s["num_codes"] for s in log["steps"]),
            "num_train_base_tokens_seen": sum(s["num_base_tokens"] for s in log["steps"]),
        }

    def add_training(self, stats: StepStats) -> None:
        """Count one optimizer step's (all-process) codes and base tokens as seen."""
        self.seen["num_train_codes_seen"] += stats.num_codes
        self.seen["num_train_base_tokens_seen"] += stats.num_base_tokens

    def validate(self, step: int) -> None:
        """One learning-curve point: held-out statistics after ``step`` steps and what training had seen."""
        weight = self.reconstruction_weight
        val = reduce_stats(
            evaluate(self.module, self.heldout, reconstruction_weight=weight, accelerator=self.accelerator),
            self.accelerator,
            weight,
        )
        self.log["validation"].append({"step": step, **self.seen, **val.to_dict()})


def heldout_reference(config: TrainConfig, prepared: PreparedData) -> dict[str, Any]:
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


def run_summary(
    config: TrainConfig, steps: list[dict[str, Any]], final_heldout: dict[str, Any]
) -> dict[str, Any]:
    """``log["summary"]``: the final held-out statistics, throughput (first step excluded) and totals."""
    timed = steps[1:] or steps  # the first step (allocations, thread pools) is warm-up
    total_s = sum(s["duration_s"] for s in timed) or float("nan")
    return {
        "final_heldout": final_heldout,
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
