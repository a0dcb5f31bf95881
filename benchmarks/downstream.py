"""Downstream tasks: the paper's seven lm-eval tasks, base model vs continual-pretraining control vs zip2zip.

Accuracy (fraction of items, 0..1) per task through lm-evaluation-harness itself: the base model through
lm-eval's own ``hf`` model (``HFLM`` over the loaded weights), the control and zip2zip checkpoints through
the ``zip2zip`` model type (``zip2zip.evaluation.lm_eval_model``), with the same task configs, few-shot counts and seeds.
Every metric variant is kept (acc and acc_norm; GSM8K exact match under the strict-match and
flexible-extract filters), with lm-eval's standard error, the per-item scores and a paired bootstrap 95%
interval of zip2zip's difference to the base and the control. zip2zip rows also record the compression
actually achieved on what was scored (base tokens per model step) and generated. Whenever zip2zip runs, a
``zip2zip_canonical`` row follows: the same checkpoint scored over canonical parses only (the softmax
renormalised over the codes the parse can produce, ``zip2zip.modeling.canonical_mask``; both scores come from
zip2zip's forward passes) and decoding with the canonical mask, with the mean probability per scored step
that zip2zip put on impossible codes (``impossible_code_mass``).

Tasks: with the hub reachable (``--task-source auto``, default) the paper's arc_challenge, arc_easy,
hellaswag, openbookqa, piqa, winogrande and gsm8k at lm-eval's defaults (0-shot, GSM8K 5-shot). Offline the
same code runs lm-eval on local stand-ins (``zip2zip/data/lm_eval_tasks``, loaded with
``include_defaults=False``): same formats, metrics and few-shot counts, items built from packaged text;
their numbers measure base vs zip2zip on these items, not on the paper's datasets. ``--checkpoint`` evaluates
another zip2zip checkpoint (a folder or hub id; ours or the authors', either format) as ``zip2zip`` and its
base model as ``base`` (the control is then left out unless one on that base is given). The hub tasks at full
size take hours on a CPU (HellaSwag alone is 40k requests): use ``--limit`` there. Not measured: speed
(see throughput) and anything with a chat template. ``--codebook-policy`` / ``--max-codebook-size`` run
zip2zip under another codebook than its checkpoint's (the control's stays empty); ``--protect-digits`` runs it
with the tokenizer's digit ids never merged (zip2zip++'s digit protection, ``zip2zip.codec.digits``). The default
result file is then tagged (``...-lru-C256.json``, ``...-digits.json``), so it never replaces the main result.

    python -m benchmarks.downstream                          # offline here: 7 stand-ins x 3 models (time: README, Run times)
    python -m benchmarks.downstream --models base,zip2zip --tasks gsm8k,piqa --limit 20
    python -m benchmarks.downstream --models zip2zip --tasks gsm8k --protect-digits   # GSM8K with digits kept whole
    python -m benchmarks.downstream --checkpoint epfl-dlab/zip2zip-pp-Llama-3.2-1B-Instruct --limit 20
    python -m benchmarks.downstream --smoke --out /tmp/downstream.json
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from zip2zip.codec.config import CODEBOOK_POLICIES
from zip2zip.config_cli import Names, check_names, option
from zip2zip.data.lm_eval_tasks import TASKS_DIR
from zip2zip.evaluation.results import BenchmarkResult

from ._checkpoints import (
    RENAMED_CONFIG_KEYS,
    ModelSelection,
    checkpoint_assets,
    config_dict,
    parse_config,
    rows_per_model,
)
from ._cli import add_resume_argument, check_at_least, new_command_line, run_and_write
from ._downstream_models import CANONICAL_MODEL, load_evaluated_base, load_lm
from ._downstream_rows import difference_rows, task_row
from ._downstream_summary import cell_line, summary_lines
from ._downstream_tasks import resolve_tasks
from ._result_file import codebook_variant, join_variants, selection_variant

PAPER_TASKS = ("arc_challenge", "arc_easy", "hellaswag", "openbookqa", "piqa", "winogrande", "gsm8k")
TASK_SOURCES = ("auto", "hub", "offline")


@dataclass(frozen=True)
class Config(ModelSelection):
    """The run: which models (:class:`ModelSelection`), which tasks from where, how many items and how."""

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
    codebook_policy: str | None = option(
        None,
        "zip2zip's codebook policy (freeze, reset, lru); none = its checkpoint's",
        parse=Names("codebook policy", CODEBOOK_POLICIES),
    )
    max_codebook_size: int | None = option(
        None, "zip2zip's codebook size C; none = its checkpoint's (or fallback_max_codebook_size)"
    )
    protect_digits: bool = option(
        False, "zip2zip never merges the tokenizer's digit ids (zip2zip++'s digit protection, at inference)"
    )

    def __post_init__(self) -> None:
        check_names(self)
        check_at_least(self, 1, "limit", hint=" (or leave it out: every item)")
        check_at_least(self, 1, "max_codebook_size")
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


# What identifies a row (resumed by, named by in the regression check); ``versus``: only the rows comparing
# two models (:func:`difference_rows`).
ROW_KEYS = ("model", "task", "versus")


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
    source, manager, names = resolve_tasks(config.task_source, config.tasks)
    base, tokenizer, base_info = load_evaluated_base(config, seed=config.seed)
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
    score_cache: dict[Any, Any] = {}
    rows = rows_per_model(
        "downstream",
        (*config.models, CANONICAL_MODEL) if "zip2zip" in config.models else config.models,
        config.tasks,
        item_key="task",
        previous=previous,
        load=lambda name: load_lm(
            name,
            config,
            base,
            tokenizer,
            batch_size=config.batch_size,
            fallback_max_codebook_size=config.fallback_max_codebook_size,
            codebook_policy=config.codebook_policy,
            max_codebook_size=config.max_codebook_size,
            protect_digits=config.protect_digits,
            score_cache=score_cache,
        ),
        evaluate=lambda lm, name, task: task_row(
            lm, name, task, names[task], manager, limit=config.limit, source=source, assets=assets
        ),
        describe=cell_line,
        assets=assets,
        skipped=skipped,
        on_progress=on_progress,
    )
    rows += difference_rows(rows, bootstrap_samples=config.bootstrap_samples, seed=config.seed)
    return BenchmarkResult(
        benchmark="downstream",
        status=status,
        config=config_dict(config),
        rows=rows,
        duration_s=time.perf_counter() - start,
        assets=assets,
        skipped=skipped,
    )


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
        must_match=(
            *("base_model", "task_source", "limit", "control_checkpoint", "checkpoint", "seed"),
            *("codebook_policy", "max_codebook_size", "protect_digits"),
        ),
        row_keys=ROW_KEYS,
        renamed_keys=RENAMED_CONFIG_KEYS,
        variant=join_variants(
            selection_variant(parsed.config, parsed.given, ("models", "tasks")),
            codebook_variant(
                parsed.config.codebook_policy,
                parsed.config.max_codebook_size,
                protect_digits=parsed.config.protect_digits,
            ),
        ),
    )


if __name__ == "__main__":
    main()
