"""The downstream benchmark's lm-eval side: which tasks run (the hub's, or the packaged stand-ins offline) and
one ``lm_eval.simple_evaluate`` of one task, read back as our metrics, per-item scores, generations and the
facts a result records. The tasks themselves are lm-eval's; nothing here re-implements one."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zip2zip.data.lm_eval_tasks import TASKS_DIR
from zip2zip.evaluation.results import metric

from ._checkpoints import display_path

# lm-eval result key ("metric,filter") -> our metric name
METRIC_NAMES = {
    "acc,none": "acc",
    "acc_norm,none": "acc_norm",
    "exact_match,strict-match": "exact_match_strict",
    "exact_match,flexible-extract": "exact_match_flexible",
}


def resolve_tasks(task_source: str, tasks: Sequence[str]) -> tuple[str, Any, dict[str, str]]:
    """(source used, lm-eval TaskManager, paper task -> lm-eval task name)."""
    from lm_eval.tasks import TaskManager

    from zip2zip.data.hub_reachability import hub_is_reachable

    source = task_source
    if source == "auto":
        source = "hub" if hub_is_reachable() else "offline"
    if source == "hub":
        return source, TaskManager(), {t: t for t in tasks}
    manager = TaskManager(include_path=str(TASKS_DIR), include_defaults=False)
    return source, manager, {t: f"standin_{t}" for t in tasks}


def evaluate_task(lm: Any, task: str, manager: Any, *, limit: int | None) -> dict[str, Any]:
    """One lm-eval run: metrics, per-item scores (by doc id), generations (generative tasks) and lm-eval's task facts."""
    import lm_eval

    out = lm_eval.simple_evaluate(
        model=lm,
        tasks=[task],
        task_manager=manager,
        limit=limit,
        bootstrap_iters=1000,
        log_samples=True,
    )
    assert out is not None  # single process: rank 0 always gets results
    scores, samples = out["results"][task], sorted(out["samples"][task], key=lambda s: s["doc_id"])
    metrics, per_item = {}, {}
    for key, name in METRIC_NAMES.items():
        if key not in scores:
            continue
        metric_name, filter_name = key.split(",")
        per_item[name] = [float(s[metric_name]) for s in samples if s["filter"] == filter_name]
        value, stderr = float(scores[key]), float(scores[f"{metric_name}_stderr,{filter_name}"])
        metrics[name] = metric(
            value,
            "fraction",
            num_samples=len(per_item[name]),
            ci95=[value - 1.96 * stderr, value + 1.96 * stderr],
        )
        # ci95 above: normal approximation from lm-eval's stderr
        metrics[name].update(stderr=stderr, lm_eval_key=key)
    generations: dict[int, dict[str, Any]] = {}
    for s in samples:  # one sample per (item, filter); generative tasks only
        if isinstance(s["resps"][0][0], str):
            entry = generations.setdefault(
                s["doc_id"],
                {"doc_id": s["doc_id"], "target": s["target"], "response": s["resps"][0][0], "extracted": {}},
            )
            entry["extracted"][s["filter"]] = s["filtered_resps"][0]
    facts = {
        "lm_eval_task_version": out["versions"][task],
        "num_fewshot": out["n-shot"][task],
        "num_items": out["n-samples"][task]["effective"],
        "num_items_available": out["n-samples"][task]["original"],
    }
    return {
        "metrics": metrics,
        "per_item": per_item,
        "generations": list(generations.values()),
        **facts,
        "lm_eval_config": _portable(json.loads(json.dumps(out["configs"][task], default=_name_of))),
        "lm_eval_version": out.get("lm_eval_version"),
        "lm_eval_run": {
            k: out["config"].get(k)
            for k in ("random_seed", "numpy_seed", "torch_seed", "fewshot_seed", "bootstrap_iters", "limit")
        },
    }


def _portable(config: dict[str, Any]) -> dict[str, Any]:
    """A task config with its ``config_source`` (a file of this checkout) relative to the repository; lm-eval
    keeps it at the top of the config or, in newer versions, under ``metadata``."""
    for holder in (config, config.get("metadata")):
        if isinstance(holder, dict) and (source := holder.get("config_source")):
            holder["config_source"] = display_path(Path(source))
    return config


def _name_of(obj: Any) -> str:
    """JSON stand-in for what lm-eval leaves unserialised in a task config (``!function`` callables)."""
    return f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', type(obj).__name__)}"
