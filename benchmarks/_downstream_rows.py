"""The downstream benchmark's rows: one per (model, task) from one lm-eval run (plus, for the zip2zip model
type, the compression achieved on it), and the rows of zip2zip's difference to the base and the control
with a paired item bootstrap. Kept apart from the script so it reads as what is measured."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from zip2zip.evaluation.results import metric

from ._checkpoints import zip2zip_comparisons
from ._downstream_tasks import evaluate_task


def task_row(
    lm: Any,
    model_name: str,
    task: str,
    lm_eval_task: str,
    manager: Any,
    *,
    limit: int | None,
    source: str,
    assets: dict[str, Any],
) -> dict[str, Any]:
    """Evaluate one (model, task), record the task's lm-eval config in ``assets``; the row."""
    counts_before = dict(getattr(lm, "counts", {}))
    began = time.perf_counter()
    outcome = evaluate_task(lm, lm_eval_task, manager, limit=limit)
    assets["lm_eval_version"] = outcome.pop("lm_eval_version")
    assets["lm_eval_run"] = outcome.pop("lm_eval_run")
    assets["tasks"][task] = {
        "lm_eval_task": lm_eval_task,
        "lm_eval_config": outcome.pop("lm_eval_config"),
    }
    row = {
        "model": model_name,
        "task": task,
        "lm_eval_task": lm_eval_task,
        "task_source": source,
        "duration_s": time.perf_counter() - began,
        **outcome,
    }
    if hasattr(lm, "counts"):  # the zip2zip model type counts base tokens and model steps
        row["metrics"].update(_compression_metrics(counts_before, lm.counts))
    return row


def _compression_metrics(before: dict[str, int], after: dict[str, int]) -> dict[str, Any]:
    """Base tokens per model step on this task: whole scored requests, their continuations, generation prompts
    and generated text (each only if the task had any); for the canonical zip2zip model, the mean unmasked
    probability per scored step on impossible codes."""
    d = {k: after[k] - before.get(k, 0) for k in after}
    out = {}
    for name, base_key, step_key in (
        ("input_compression_ratio", "input_base_tokens", "input_codes"),
        ("scored_compression_ratio", "scored_base_tokens", "scored_codes"),
        ("prompt_compression_ratio", "prompt_base_tokens", "prompt_codes"),
        ("generated_compression_ratio", "generated_base_tokens", "generation_steps"),
    ):
        if d[step_key]:
            out[name] = metric(d[base_key] / d[step_key], "base tokens/step", num_samples=d[step_key]) | {
                "num_base_tokens": d[base_key],
                "num_steps": d[step_key],
            }
    if d.get("scored_impossible_mass") and d["scored_codes"]:  # the canonical zip2zip model measured it
        out["impossible_code_mass"] = metric(
            d["scored_impossible_mass"] / d["scored_codes"], "probability/step", num_samples=d["scored_codes"]
        )
    return out


def difference_rows(rows: list[dict[str, Any]], *, bootstrap_samples: int, seed: int) -> list[dict[str, Any]]:
    """zip2zip minus the control and minus the base, per task and metric, with a paired item bootstrap 95% CI."""
    rng = np.random.default_rng(seed)
    out = []
    pairs = zip2zip_comparisons(rows, item_key="task", measured="per_item", references=("base", "control"))
    for task, row, reference, ref in pairs:
        metrics = {}
        for name, ours in row["per_item"].items():
            theirs = ref["per_item"].get(name)
            if theirs is None or len(theirs) != len(ours):
                continue
            diff = np.asarray(ours) - np.asarray(theirs)
            picks = rng.integers(0, len(diff), size=(bootstrap_samples, len(diff)))
            low, high = np.percentile(diff[picks].mean(1), [2.5, 97.5])
            metrics[f"{name}_difference"] = metric(
                float(diff.mean()), "fraction", num_samples=len(diff), ci95=[float(low), float(high)]
            )
        out.append({"model": "zip2zip", "versus": reference, "task": task, "metrics": metrics})
    return out
