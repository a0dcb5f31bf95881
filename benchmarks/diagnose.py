"""Where the compressed model's loss goes: per corpus and compressed step, the student's
code NLL = first + rest against a teacher's NLL of the same base tokens = first + rest.

Student: the zip2zip checkpoint (``--checkpoint``), scoring each window LZW-compressed with a fresh codebook
under the training loss's slot visibility. Teacher: the control (``--models control,zip2zip``, default) or the
base (``--models base,zip2zip``) scoring the same base ids uncompressed. Per step (a position predicting the
next code; the first code of a window is not predicted by either), in nats
(``zip2zip.training.diagnosis``):

* student ``first`` = -log (its first-token marginal at the code's first base token), ``rest`` = code - first;
* teacher ``first`` / ``rest`` = its NLL of the code's first base token / of the code's other base tokens;
* KL(teacher's next base token || student's first-token marginal);
* both models' mean NLL over the steps whose target is a hypertoken.

Sums over every step of the corpus divided by its number of steps (a ratio of totals). Documents are cut
into windows of ``--window-length`` base tokens (the last may be shorter; one of a single id is dropped).
Not measured: bytes or perplexity (``benchmarks.perplexity``), anything timed.

    python -m benchmarks.diagnose                           # committed checkpoints, offline stand-ins
    python -m benchmarks.diagnose --checkpoint checkpoints/smollm2-cpu-distill/final
    python -m benchmarks.diagnose --smoke --out /tmp/diagnose.json
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from zip2zip.config_cli import Names, check_names, option
from zip2zip.data.corpora import SOURCES
from zip2zip.data.eval_corpora import EVAL_CORPORA
from zip2zip.evaluation.results import BenchmarkResult, metric
from zip2zip.training.diagnosis import SUMS, diagnose_window

from ._checkpoints import (
    MODELS,
    RENAMED_CONFIG_KEYS,
    ModelSelection,
    checkpoint_assets,
    config_dict,
    parse_config,
)
from ._cli import add_resume_argument, check_at_least, new_command_line, run_and_write
from ._perplexity_corpora import load_corpora
from ._perplexity_models import load_model, load_tokenizer

ROW_KEYS = ("corpus",)
_PER_STEP = "nats/step"


@dataclass(frozen=True)
class Config(ModelSelection):
    """Student = ``zip2zip``, teacher = the other of ``models`` (``control`` or ``base``)."""

    models: tuple[str, ...] = option(
        ("control", "zip2zip"),
        "zip2zip (the student) and its teacher: control or base",
        parse=Names("model", MODELS),
    )
    corpora: tuple[str, ...] = option(
        tuple(EVAL_CORPORA), "evaluation corpora", parse=Names("corpus", tuple(EVAL_CORPORA))
    )
    corpus_source: str = option(
        "offline",
        "auto (the hub if reachable, else stand-ins), hub or offline",
        parse=Names("corpus source", SOURCES),
    )
    max_bytes_per_corpus: int = option(8_000, "text budget per corpus")
    window_length: int = option(512, "base tokens per scored window (each compressed with a fresh codebook)")
    num_threads: int = option(1, "torch threads")
    seed: int = option(0, "document sampling seed")

    def __post_init__(self) -> None:
        check_names(self)
        check_at_least(self, 1, "max_bytes_per_corpus", "num_threads")
        check_at_least(self, 2, "window_length", hint=" (a window needs a code to predict)")
        check_at_least(self, 0, "seed")
        if sorted(self.models) not in (["control", "zip2zip"], ["base", "zip2zip"]):
            raise ValueError(
                f"models={','.join(self.models)}: pass the student and one teacher, zip2zip,control or zip2zip,base"
            )

    @property
    def teacher(self) -> str:
        return next(name for name in self.models if name != "zip2zip")

    @classmethod
    def smoke(cls) -> Config:
        return cls(
            base_model="tiny",
            models=("base", "zip2zip"),
            checkpoint="",  # untrained wrapper of the tiny base
            corpora=("wikitext",),
            max_bytes_per_corpus=3_000,
            window_length=128,
        )


def run(
    config: Config,
    *,
    status: str,
    previous: Sequence[dict[str, Any]] = (),
    previous_assets: dict[str, Any] | None = None,
    on_progress: Callable[[list[dict[str, Any]], dict[str, Any]], None] | None = None,
) -> BenchmarkResult:
    """One row per corpus; rows in ``previous`` are kept (``--resume``), ``on_progress`` after each new one."""
    start = time.perf_counter()
    torch.set_num_threads(config.num_threads)
    tokenizer = load_tokenizer(config)
    assets: dict[str, Any] = {
        "tokenizer": {"name": tokenizer.name, **tokenizer.provenance},
        "corpora": {},
        "models": {},
        "checkpoint": checkpoint_assets(config),
        "teacher": config.teacher,
    }
    skipped: list[dict[str, str]] = []
    corpora = load_corpora(
        config.corpora,
        tokenizer,
        max_total_bytes=config.max_bytes_per_corpus,
        source=config.corpus_source,
        seed=config.seed,
        assets=assets,
        skipped=skipped,
    )
    models = {}
    for role, name in (("student", "zip2zip"), ("teacher", config.teacher)):
        models[role], info = load_model(
            name, config, tokenizer, max_length=config.window_length, seed=config.seed
        )
        assets["models"][name] = info
    rows = [row for row in previous if row["corpus"] in corpora]
    for corpus, (_, docs_ids) in corpora.items():
        if any(row["corpus"] == corpus for row in rows):
            continue
        sums = dict.fromkeys(SUMS, 0.0)
        windows = _windows(docs_ids, config.window_length)
        for window in windows:
            for key, value in diagnose_window(models["student"], models["teacher"], window).items():
                sums[key] += value
        metrics = {**_metrics(sums), "num_windows": metric(len(windows), "windows")}
        rows.append({"corpus": corpus, "metrics": metrics})
        if on_progress is not None:
            on_progress(rows, assets)
    return BenchmarkResult(
        benchmark="diagnose",
        status=status,
        config=config_dict(config),
        rows=rows,
        duration_s=time.perf_counter() - start,
        assets=assets,
        skipped=skipped,
    )


def _windows(docs_ids: Sequence[Sequence[int]], length: int) -> list[list[int]]:
    """Consecutive windows of ``length`` base ids per document; a trailing single id has nothing to predict."""
    return [
        list(doc[i : i + length]) for doc in docs_ids for i in range(0, len(doc), length) if len(doc) - i >= 2
    ]


def _metrics(sums: dict[str, float]) -> dict[str, Any]:
    """Per-step means (ratios of corpus totals); hypertoken NLLs per hypertoken step."""
    steps, hyper = int(sums["num_steps"]), int(sums["num_hypertoken_steps"])

    def per(key: str, num: int, unit: str = _PER_STEP) -> dict[str, Any]:
        if num == 0:
            return metric(None, unit, num_samples=0, reason="no step of this kind")
        return metric(sums[key] / num, unit, num_samples=num)

    out = {
        key: per(key, steps)
        for key in (
            "student_code_nll",
            "student_first_nll",
            "teacher_code_nll",
            "teacher_first_nll",
            "first_token_kl",
        )
    }
    for who in ("student", "teacher"):
        out[f"{who}_rest_nll"] = per(f"{who}_code_nll", steps)
        if steps:
            out[f"{who}_rest_nll"]["value"] -= sums[f"{who}_first_nll"] / steps
        out[f"{who}_hypertoken_nll"] = per(f"{who}_hypertoken_nll", hyper, "nats/hypertoken step")
    out["num_steps"] = metric(steps, "steps", num_samples=steps)
    out["num_base_tokens"] = metric(int(sums["num_base_tokens"]), "base tokens")
    return out


def summary_lines(result: BenchmarkResult) -> list[str]:
    """The student-vs-teacher table, one line per corpus (formatting only)."""

    def value(row: dict[str, Any], key: str) -> str:
        v = row["metrics"][key]["value"]
        return "--" if v is None else f"{v:.3f}"

    lines = [
        "| corpus | student code = first + rest | teacher same tokens = first + rest | KL(teacher || student first) "
        "| hypertoken targets: student vs teacher |",
        "|---|---|---|---|---|",
    ]
    for row in result.rows:
        student, teacher = (
            f"{value(row, f'{w}_code_nll')} = {value(row, f'{w}_first_nll')} + {value(row, f'{w}_rest_nll')}"
            for w in ("student", "teacher")
        )
        hyper = f"{value(row, 'student_hypertoken_nll')} vs {value(row, 'teacher_hypertoken_nll')}"
        lines.append(
            f"| {row['corpus']} | {student} | {teacher} | {value(row, 'first_token_kl')} | {hyper} |"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    command = new_command_line("diagnose", Config, __doc__)
    add_resume_argument(command, kept="keep corpus rows")
    parsed = parse_config(command, argv)
    must_match = (
        "base_model",
        "models",
        "corpus_source",
        "max_bytes_per_corpus",
        "window_length",
        "seed",
        "control_checkpoint",
        "checkpoint",
    )
    run_and_write(
        command,
        parsed,
        benchmark="diagnose",
        run=run,
        summary_lines=summary_lines,
        config_dict=config_dict(parsed.config),
        must_match=must_match,
        row_keys=ROW_KEYS,
        renamed_keys=RENAMED_CONFIG_KEYS,
    )


if __name__ == "__main__":
    main()
