"""The distillation experiment (training v3): does distilling a teacher shrink zip2zip's held-out gap to the
control? Each distilled run's ``results/distillation/<run>/train_log.json`` (copied there by ``nox -s
train_distill``), the plain zip2zip run and the control (``models/smollm2-cpu-zip2zip`` and
``models/smollm2-cpu-control``, ``nox -s train``: same recipe, data and seed) -> ``distillation.md`` and
``distillation.{png,pdf}`` (``learning_curves`` over all runs).

The table gives, at every held-out evaluation all runs share and for the final held-out pass, the held-out
nats per base token of each run, each compressed run's gap to the control (same unit) and each distilled gap
as a multiple of the plain one; one verdict line per distilled run compares the gaps at the last shared step.
Below it, ``python -m benchmarks.diagnose`` per checkpoint (``results/diagnose/*.json``): where each model's
loss per compressed step goes. Every number comes from the logs and results.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

from zip2zip.evaluation.results import is_partial, read_result

from . import learning_curves
from ._format import fmt

STEM = "distillation"
TARGET_GAP_REDUCTION = (
    0.30  # the experiment's target: the held-out gap to the control down by >= 30% at the same steps
)


def render(
    experiment_dir: Path, plain_log: Path, control_log: Path, diagnose_dir: Path, out_dir: Path
) -> list[Path]:
    """Write ``distillation.md`` and the curves when a distilled run and both references have logs; [] (with a
    warning) otherwise."""
    distilled_logs = sorted(experiment_dir.glob(f"*/{learning_curves.LOG_FILE}"))
    missing = [str(p) for p in (plain_log, control_log) if not p.exists()]
    if missing or not distilled_logs:
        absent = missing or [f"{experiment_dir}/*/{learning_curves.LOG_FILE}"]
        warnings.warn(f"distillation experiment not rendered: no {', '.join(absent)}", stacklevel=2)
        return []
    distilled = {path.parent.name: _read(path) for path in distilled_logs}
    lines = ["**Distillation (training v3): held-out nats per base token, and the gap to the control**", ""]
    lines += _gap_table(distilled, _read(plain_log), _read(control_log))
    lines += _diagnose_lines(diagnose_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / f"{STEM}.md"
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    logs = {path.parent.name: path for path in (plain_log, control_log, *distilled_logs)}
    return [md, *_plot(logs, out_dir)]


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _held_out(log: dict[str, Any]) -> dict[Any, float]:
    """Held-out nats per base token by step, and ``"final"`` for the final held-out pass."""
    points: dict[Any, float] = {p["step"]: p["nll_per_base_token"] for p in log.get("validation", [])}
    final = (log.get("summary") or {}).get("final_heldout") or {}
    if "nll_per_base_token" in final:
        points["final"] = final["nll_per_base_token"]
    return points


def _gap_table(
    distilled: dict[str, dict[str, Any]], plain_log: dict[str, Any], control_log: dict[str, Any]
) -> list[str]:
    control, plain = _held_out(control_log), _held_out(plain_log)
    runs = {name: _held_out(log) for name, log in distilled.items()}
    steps = [s for s in control if s in plain and all(s in run for run in runs.values())]
    lines = [
        "| step | control | zip2zip (gap) | "
        + " | ".join(f"`{name}` (gap, x plain gap)" for name in runs)
        + " |",
        "|---|---|---|" + "---|" * len(runs),
    ]
    for step in steps:
        gap_plain = plain[step] - control[step]
        cells = []
        for run in runs.values():
            gap = run[step] - control[step]
            ratio = gap / gap_plain if gap_plain > 0 else None
            cells.append(f"{run[step]:.3f} ({gap:+.3f}, {fmt(ratio, 2)})")
        lines.append(
            f"| {step} | {control[step]:.3f} | {plain[step]:.3f} ({gap_plain:+.3f}) | "
            + " | ".join(cells)
            + " |"
        )
    numbered = [s for s in steps if s != "final"]
    if numbered:
        last = numbered[-1]
        lines.append("")
        for name, run in runs.items():
            reduction = 1 - (run[last] - control[last]) / (plain[last] - control[last])
            verdict = "reached" if reduction >= TARGET_GAP_REDUCTION else "not reached"
            lines.append(
                f"- `{name}` ({_recipe(distilled[name])}): at step {last} its gap to the control is "
                f"{100 * (1 - reduction):.0f}% of the plain run's; the target (a gap at least "
                f"{100 * TARGET_GAP_REDUCTION:.0f}% smaller) is {verdict}."
            )
    lines += [
        "",
        f"zip2zip: the committed `{plain_log.get('config', {}).get('preset')}` run; control: the committed "
        f"`{control_log.get('config', {}).get('preset')}` control run (same recipe, steps, seed and data, "
        "compression off). Final: the final held-out pass (more chunks than the periodic ones).",
    ]
    return lines


def _recipe(log: dict[str, Any]) -> str:
    """What a distilled run distilled: its weights and its teacher."""
    config = log.get("config", {})
    teacher = config.get("distill_teacher", "base")
    source = "the base model, LoRA off" if teacher == "base" else f"the adapter of `{teacher}`"
    return (
        f"first-token weight {config.get('distill_first_token_weight')}, split weight "
        f"{config.get('distill_split_weight')}, teacher {source}"
    )


def _diagnose_lines(diagnose_dir: Path) -> list[str]:
    """One line per diagnose result: the student's code NLL split and the teacher's, per corpus."""
    paths = (
        [p for p in sorted(diagnose_dir.glob("*.json")) if not is_partial(p)] if diagnose_dir.exists() else []
    )
    results = [(p, read_result(p)) for p in paths]
    results = [(p, r) for p, r in results if r.status == "full"]
    if not results:
        return []
    lines = [
        "",
        "**Where the loss goes (nats per compressed step; `python -m benchmarks.diagnose`)**",
        "",
        "| checkpoint | teacher | corpus | student code = first + rest | teacher = first + rest | KL(teacher ‖ "
        "student first) | hypertoken targets: student vs teacher |",
        "|---|---|---|---|---|---|---|",
    ]
    for path, result in results:
        name = result.config.get("checkpoint") or path.stem
        teacher = result.assets.get("teacher", "?")
        for row in result.rows:
            m = {k: v["value"] for k, v in row["metrics"].items()}
            lines.append(
                f"| {name} | {teacher} | {row['corpus']} | {m['student_code_nll']:.3f} = {m['student_first_nll']:.3f} + "
                f"{m['student_rest_nll']:.3f} | {m['teacher_code_nll']:.3f} = {m['teacher_first_nll']:.3f} + "
                f"{m['teacher_rest_nll']:.3f} | {m['first_token_kl']:.3f} | "
                f"{m['student_hypertoken_nll']:.2f} vs {m['teacher_hypertoken_nll']:.2f} |"
            )
    return lines


def _plot(logs: dict[str, Path], out_dir: Path) -> list[Path]:
    """All runs' learning curves in one figure (``learning_curves.plot`` over a folder of their logs)."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in logs.items():
            (Path(tmp) / name).mkdir()
            shutil.copy(path, Path(tmp) / name / learning_curves.LOG_FILE)
        return learning_curves.plot(Path(tmp), out_dir, stem=STEM)
