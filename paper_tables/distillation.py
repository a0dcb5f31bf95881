"""The distillation experiment (training v3): does distilling the base model shrink zip2zip's held-out gap to
the control? ``results/distillation/<run>/train_log.json`` (copied there by ``nox -s train_distill``) and the
control's log (``models/smollm2-cpu-control``, same recipe, data and seed) -> ``distillation.md`` and
``distillation.{png,pdf}`` (``learning_curves`` over the three runs).

The table gives, at every held-out evaluation all runs share and for the final held-out pass, the held-out
nats per base token of each run and each compressed run's gap to the control (same unit); the verdict line
compares the distilled gap with the plain one at the last shared step. Below it, ``python -m
benchmarks.diagnose`` per checkpoint (``results/diagnose/*.json``): where each model's loss per compressed
step goes. Every number comes from the logs and results.
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
PLAIN, DISTILLED = "smollm2-cpu", "smollm2-cpu-distill"
TARGET_GAP_REDUCTION = (
    0.30  # the experiment's target: the held-out gap to the control down by >= 30% at the same steps
)


def render(experiment_dir: Path, control_log: Path, diagnose_dir: Path, out_dir: Path) -> list[Path]:
    """Write ``distillation.md`` and the curves when both runs' logs exist; [] (with a warning) otherwise."""
    logs = {run: experiment_dir / run / learning_curves.LOG_FILE for run in (PLAIN, DISTILLED)}
    missing = [str(p) for p in (*logs.values(), control_log) if not p.exists()]
    if missing:
        warnings.warn(f"distillation experiment not rendered: no {', '.join(missing)}", stacklevel=2)
        return []
    runs = {name: json.loads(path.read_text(encoding="utf-8")) for name, path in logs.items()}
    control = json.loads(control_log.read_text(encoding="utf-8"))
    lines = ["**Distillation (training v3): held-out nats per base token, and the gap to the control**", ""]
    lines += _gap_table(runs, control)
    lines += _diagnose_lines(diagnose_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / f"{STEM}.md"
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [md, *_plot(logs, control_log, out_dir)]


def _held_out(log: dict[str, Any]) -> dict[Any, float]:
    """Held-out nats per base token by step, and ``"final"`` for the final held-out pass."""
    points: dict[Any, float] = {p["step"]: p["nll_per_base_token"] for p in log.get("validation", [])}
    final = (log.get("summary") or {}).get("final_heldout") or {}
    if "nll_per_base_token" in final:
        points["final"] = final["nll_per_base_token"]
    return points


def _gap_table(runs: dict[str, dict[str, Any]], control: dict[str, Any]) -> list[str]:
    control_nll = _held_out(control)
    plain, distilled = _held_out(runs[PLAIN]), _held_out(runs[DISTILLED])
    steps = [s for s in control_nll if s in plain and s in distilled]
    lines = [
        "| step | control | zip2zip | zip2zip + distillation | gap, zip2zip | gap, + distillation | gap ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for step in steps:
        gap_plain, gap_distilled = plain[step] - control_nll[step], distilled[step] - control_nll[step]
        ratio = gap_distilled / gap_plain if gap_plain > 0 else None
        lines.append(
            f"| {step} | {control_nll[step]:.3f} | {plain[step]:.3f} | {distilled[step]:.3f} | "
            f"{gap_plain:+.3f} | {gap_distilled:+.3f} | {fmt(ratio, 2)} |"
        )
    numbered = [s for s in steps if s != "final"]
    if numbered:
        last = numbered[-1]
        reduction = 1 - (distilled[last] - control_nll[last]) / (plain[last] - control_nll[last])
        verdict = "reached" if reduction >= TARGET_GAP_REDUCTION else "not reached"
        lines += [
            "",
            f"At step {last} the distilled run's gap to the control is {100 * (1 - reduction):.0f}% of the plain "
            f"run's: the target (a gap at least {100 * TARGET_GAP_REDUCTION:.0f}% smaller) is {verdict}.",
        ]
    config = runs[DISTILLED].get("config", {})
    lines += [
        "",
        f"Runs: `{PLAIN}` and `{DISTILLED}` (distillation weights: first-token "
        f"{config.get('distill_first_token_weight')}, split {config.get('distill_split_weight')}), "
        f"same steps, seed and data; control: the committed `{control.get('config', {}).get('preset')}` "
        "control run. Final: the final held-out pass (more chunks than the periodic ones).",
    ]
    return lines


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
        "| checkpoint | corpus | student code = first + rest | teacher = first + rest | KL(teacher ‖ student "
        "first) | hypertoken targets: student vs teacher |",
        "|---|---|---|---|---|---|",
    ]
    for path, result in results:
        name = result.config.get("checkpoint") or path.stem
        for row in result.rows:
            m = {k: v["value"] for k, v in row["metrics"].items()}
            lines.append(
                f"| {name} | {row['corpus']} | {m['student_code_nll']:.3f} = {m['student_first_nll']:.3f} + "
                f"{m['student_rest_nll']:.3f} | {m['teacher_code_nll']:.3f} = {m['teacher_first_nll']:.3f} + "
                f"{m['teacher_rest_nll']:.3f} | {m['first_token_kl']:.3f} | "
                f"{m['student_hypertoken_nll']:.2f} vs {m['teacher_hypertoken_nll']:.2f} |"
            )
    return lines


def _plot(logs: dict[str, Path], control_log: Path, out_dir: Path) -> list[Path]:
    """The three runs' learning curves in one figure (``learning_curves.plot`` over a folder of their logs)."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in [*logs.items(), (control_log.parent.name, control_log)]:
            (Path(tmp) / name).mkdir()
            shutil.copy(path, Path(tmp) / name / learning_curves.LOG_FILE)
        return learning_curves.plot(Path(tmp), out_dir, stem=STEM)
