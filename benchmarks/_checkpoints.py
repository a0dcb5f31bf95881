"""What the two evaluation benchmarks (perplexity, downstream) share: zip2zip checkpoints as they find and
describe them, the close of their argument parsing, and their loop of rows per (model, item)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from zip2zip.modeling.config import CONFIG_FILE_NAME

from ._cli import (
    add_resume_argument,
    argument_type,
    comma_list_of,
    given_fields,
    new_parser,
    parse_args,
    resolve_config,
)

ROOT = Path(__file__).resolve().parent.parent

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    class EvaluationConfig(DataclassInstance, Protocol):
        """What the evaluation benchmarks' Configs share: the models to evaluate and their checkpoints."""

        @property
        def models(self) -> tuple[str, ...]: ...

        @property
        def control_checkpoint(self) -> str: ...

        @property
        def zip2zip_checkpoint(self) -> str: ...


E = TypeVar("E", bound="EvaluationConfig")  # a perplexity or downstream Config


def checkpoint_path(text: str) -> Path:
    """A ``--*-checkpoint`` value: absolute, or relative to the repository (``models/...``)."""
    path = Path(text)
    return path if path.is_absolute() else ROOT / path


def checkpoint_problem(text: str) -> str | None:
    """Why ``text`` names no saved zip2zip checkpoint (None if it names one)."""
    if not text:
        return "empty path, but this model needs a saved checkpoint"
    path = checkpoint_path(text)
    if not path.is_dir():
        return f"no checkpoint folder {path} (`nox -s train` builds models/...; or check the path)"
    if not (path / CONFIG_FILE_NAME).is_file():
        return f"{path} holds no {CONFIG_FILE_NAME}, so it is not a saved zip2zip checkpoint"
    return None


def checked_checkpoint(text: str) -> str:
    """A ``--*-checkpoint`` value as typed, if it names a saved checkpoint; ``""`` (none) passes too."""
    if text and (problem := checkpoint_problem(text)):
        raise ValueError(problem)
    return text


def add_checkpoint_arguments(parser: argparse.ArgumentParser, *, untrained: str) -> None:
    """``--control-checkpoint`` and ``--zip2zip-checkpoint``, checked as they are parsed; ``untrained``: what
    ``--zip2zip-checkpoint ''`` evaluates instead."""
    parser.add_argument(
        "--control-checkpoint",
        type=argument_type(checked_checkpoint),
        help="continual-pretraining control (default models/smollm2-cpu-control)",
    )
    parser.add_argument(
        "--zip2zip-checkpoint",
        type=argument_type(checked_checkpoint),
        help=f"zip2zip checkpoint (default models/smollm2-cpu-zip2zip; '' = {untrained})",
    )


def model_checkpoint(name: str, *, control: str, zip2zip: str) -> Path:
    """The checkpoint folder of model ``name`` (``control``, else ``zip2zip``). Raises ValueError saying why
    when the path names no saved checkpoint."""
    text = control if name == "control" else zip2zip
    if problem := checkpoint_problem(text):
        raise ValueError(f"{name} checkpoint: {problem}")
    return checkpoint_path(text)


def missing_checkpoints(models: Sequence[str], *, control: str, zip2zip: str) -> str | None:
    """Why a selected model cannot load its checkpoint, as ``--<model>-checkpoint: why`` (None if all can).
    ``control`` always loads one; ``zip2zip`` too unless its path is ``""`` (untrained wrapper of the base)."""
    paths = {"control": control, "zip2zip": zip2zip}
    problems = [
        f"--{m}-checkpoint: {problem}"
        for m in models
        if m in paths and (m == "control" or paths[m]) and (problem := checkpoint_problem(paths[m]))
    ]
    return "; ".join(problems) or None


def describe_checkpoint(path: Path) -> dict[str, Any]:
    """What a result records of a checkpoint: where it is and, from its ``train_log.json``, how it was made."""
    info: dict[str, Any] = {"checkpoint": str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)}
    log = path / "train_log.json"
    if log.is_file():
        train_log = json.loads(log.read_text(encoding="utf-8"))
        summary = train_log.get("summary", {})
        info["training"] = {
            "preset": train_log.get("config", {}).get("preset"),
            "git": train_log.get("git"),
            "num_steps": summary.get("num_steps_done"),
            "final_heldout_nll_per_base_token": summary.get("final_heldout", {}).get("nll_per_base_token"),
        }
    return info


def new_evaluation_parser(
    benchmark: str, description: str | None, *, models: Sequence[str], item: str
) -> argparse.ArgumentParser:
    """The parser of an evaluation benchmark with its first arguments: the common ones, ``--resume`` (which
    keeps finished (model, ``item``) rows) and ``--models``."""
    parser = new_parser(benchmark, description)
    add_resume_argument(parser, kept=f"keep (model, {item}) rows")
    parser.add_argument(
        "--models",
        type=comma_list_of(models, kind="model"),
        help=f"comma list of {','.join(models)} (default all)",
    )
    return parser


def parse_config(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None, default: E, smoke: E
) -> tuple[argparse.Namespace, E]:
    """The arguments and the Config they select (``smoke`` with ``--smoke``, else ``default``, with the flags
    given); a selected model whose checkpoint is missing is a usage error, before any work."""
    args = parse_args(parser, argv)
    config = resolve_config(parser, smoke if args.smoke else default, given_fields(args, type(default)))
    if problem := missing_checkpoints(
        config.models, control=config.control_checkpoint, zip2zip=config.zip2zip_checkpoint
    ):
        parser.error(problem)
    return args, config


def config_dict(config: Any) -> dict[str, Any]:
    """``asdict(config)`` with tuples as lists, as the config reads back from a result."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}


def rows_per_model(
    models: Sequence[str],
    items: Sequence[str],
    *,
    item_key: str,
    previous: Sequence[dict[str, Any]],
    load: Callable[[str], tuple[Any, dict[str, Any]]],
    evaluate: Callable[[Any, str, str], dict[str, Any]],
    assets: dict[str, Any],
    skipped: list[dict[str, str]],
    on_progress: Callable[[list[dict[str, Any]], dict[str, Any]], None] | None,
) -> list[dict[str, Any]]:
    """One row per (model, item), model-major: a row of ``previous`` with the same ``model`` and
    ``row[item_key]`` is kept (``--resume``), the rest come from ``evaluate(model, model name, item)`` with
    each model loaded once by ``load`` (what was loaded goes to ``assets["models"]``). A model that does not
    load is skipped with the reason. After each new row, ``on_progress(rows so far, assets)``."""
    done = {(r["model"], r[item_key]): r for r in previous}
    rows: list[dict[str, Any]] = []
    for model_name in models:
        todo = [i for i in items if (model_name, i) not in done]
        rows += [done[(model_name, i)] for i in items if (model_name, i) in done]
        if not todo:
            continue
        try:
            model, assets["models"][model_name] = load(model_name)
        except (ValueError, ImportError, OSError) as exc:
            skipped.append({"name": f"model {model_name}", "reason": str(exc)})
            continue
        for item in todo:
            rows.append(evaluate(model, model_name, item))
            if on_progress is not None:
                on_progress(rows, assets)
        del model  # free it before the next model loads
    return rows
