"""Learning curves of the embedded training runs: zip2zip vs the control, from ``models/*/train_log.json``.

``python -m zip2zip.training`` evaluates a fixed held-out set every ``eval_every`` steps (and before the first
step) and appends each point to the log's ``validation`` list with the training codes and base tokens
seen so far. This renderer plots those points against training tokens seen (a hypertoken counts as one token: a code of the
compressed stream), one line per run:

1. held-out nats per base token (comparable between zip2zip and the control: same text, same unit);
2. held-out loss per target kind, nats per code: zip2zip's base-id and hypertoken targets, and the
   control's base-id targets;
3. held-out reconstruction accuracy (zip2zip only), with the slot-blind level the log records (the best
   a decoder can do that repeats one id in every slot of an entry), drawn as "one id guessed for every slot".

Logs whose validation points carry no ``num_train_codes_seen`` (written before curves were recorded)
are skipped with a warning. Nothing is computed here beyond drawing the logged numbers.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes

LOG_FILE = "train_log.json"
STEM = "learning_curves"


@dataclass(frozen=True)
class Run:
    """One training run's curve: ``name`` is its folder, ``points`` its validation records in step order."""

    name: str
    use_compression: bool
    points: list[dict[str, Any]]
    slot_blind_accuracy: float | None


def find_runs(models_dir: Path) -> list[Run]:
    """Every ``<models_dir>/*/train_log.json`` with learning-curve points; others are skipped with a warning."""
    runs = []
    for path in sorted(models_dir.glob(f"*/{LOG_FILE}")):
        log = json.loads(path.read_text(encoding="utf-8"))
        points = [p for p in log.get("validation", []) if "num_train_codes_seen" in p]
        if not points:
            warnings.warn(
                f"{path}: no learning-curve points (log written before curves were recorded); not plotted",
                stacklevel=2,
            )
            continue
        reference = log.get("heldout_reference") or {}
        runs.append(
            Run(
                name=path.parent.name,
                use_compression=bool(log.get("config", {}).get("use_compression", True)),
                points=sorted(points, key=lambda p: p["step"]),
                slot_blind_accuracy=reference.get("slot_blind_reconstruction_accuracy"),
            )
        )
    return runs


def _series(run: Run, key: str) -> tuple[list[int], list[float]]:
    pts = [(p["num_train_codes_seen"], p[key]) for p in run.points if p.get(key) is not None]
    return [x for x, _ in pts], [y for _, y in pts]


def _draw_run(run: Run, color: str, ax_nll: Axes, ax_kind: Axes, ax_recon: Axes) -> None:
    """One run's curves in the three panels (dashed: the no-compression control)."""
    style = "-" if run.use_compression else "--"
    name = _method_label(run)
    ax_nll.plot(*_series(run, "nll_per_base_token"), style, color=color, marker="o", ms=3, label=name)
    ax_kind.plot(
        *_series(run, "base_loss"),
        style,
        color=color,
        marker="o",
        ms=3,
        label=f"{name}: base-token targets",
    )
    if not run.use_compression:
        return
    ax_kind.plot(
        *_series(run, "hypertoken_loss"),
        ":",
        color=color,
        marker="s",
        ms=3,
        label=f"{name}: hypertoken targets",
    )
    xs, ys = _series(run, "reconstruction_accuracy")
    if ys:
        ax_recon.plot(xs, ys, style, color=color, marker="o", ms=3, label=name)
        if run.slot_blind_accuracy is not None:
            ax_recon.axhline(
                run.slot_blind_accuracy,
                color=color,
                ls=":",
                lw=1,
                label=f"one id guessed for every slot: {run.slot_blind_accuracy:.3f}",
            )


def _method(run: Run) -> str:
    """The run's method as the perplexity and downstream tables name it."""
    return "zip2zip" if run.use_compression else "continual pretraining"


def _method_label(run: Run) -> str:
    return f"{_method(run)} ({run.name})"


def plot(models_dir: Path, out_dir: Path, *, stem: str = STEM) -> list[Path]:
    """Draw ``<out_dir>/<stem>.{png,pdf}`` from the runs in ``models_dir``; [] when none has curves."""
    runs = find_runs(models_dir)
    if not runs:
        warnings.warn(f"no train log with learning curves under {models_dir}: nothing plotted", stacklevel=2)
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    out_dir.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8 + 0.15 * 2 * len(runs)), squeeze=False)
    ax_nll, ax_kind, ax_recon = axes[0]
    for index, run in enumerate(runs):
        _draw_run(run, f"C{index}", ax_nll, ax_kind, ax_recon)  # one colour per run in every panel
    ax_nll.set_ylabel("held-out nats per base token")
    ax_kind.set_ylabel("held-out nats per predicted token")
    ax_recon.set_ylabel("fraction of base tokens recovered")
    ax_recon.set_ylim(0, 1)
    titles = (
        "loss per base token of text",
        "loss by kind of next token",
        "hypertoken reconstruction (held-out)",
    )
    for ax, title in zip((ax_nll, ax_kind, ax_recon), titles, strict=True):
        ax.set_xlabel("training tokens seen (a hypertoken counts as one)")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1000:g}k" if x else "0"))
        ax.set_title(title)
        ax.grid(alpha=0.3)
        if ax.lines:  # below the panel: with more than two runs a legend inside hides the curves
            ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    fig.tight_layout()
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.pdf"]
    fig.savefig(paths[0], dpi=150)
    fig.savefig(paths[1], metadata={"CreationDate": None})  # no timestamp: stable files
    plt.close(fig)
    return paths
