"""Render every table that has a result: ``results/<name>/*.json`` -> ``paper_tables/out/<name>.{md,tex}``
(+ plots). The newest full result of each table is rendered (smoke results are never rendered). Then the
learning curves of the committed training runs, ``models/*/train_log.json`` ->
``paper_tables/out/learning_curves.{png,pdf}`` (``learning_curves.py``), and zip2zip's perplexity under each
codebook policy and size (``perplexity_policies.py``), the per-step cost of each policy
(``decode_step_policies.py``) and the distillation experiment against the control (``distillation.py``).

    python -m paper_tables.build                      # all tables
    python -m paper_tables.build --results results --out paper_tables/out --models models
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Sequence
from pathlib import Path

from zip2zip.evaluation.results import BenchmarkResult, is_partial, read_result

from . import decode_step_policies, distillation, learning_curves, perplexity_policies
from .tables import TABLES

ROOT = Path(__file__).resolve().parent.parent


def latest_result(folder: Path) -> tuple[Path, BenchmarkResult] | None:
    """Newest ``status == "full"`` result in ``folder`` (by ``created_utc``), or None. Progress files of
    interrupted runs (``*.partial.json``, read only by ``--resume``) are not results, and variants of a run
    (``assets.variant``, e.g. perplexity under another codebook) have renderers of their own."""
    paths = [p for p in sorted(folder.glob("*.json")) if not is_partial(p)]
    found = [(p, read_result(p)) for p in paths]
    full = [(p, r) for p, r in found if r.status == "full" and not r.assets.get("variant")]
    return max(full, key=lambda pr: (pr[1].created_utc, pr[0].name)) if full else None


def build(results_dir: Path, out_dir: Path, *, models_dir: Path | None = None) -> list[Path]:
    """Render all tables with results (+ the learning curves of ``models_dir``'s training logs, if given);
    returns the files written. Tables without results and logs without curves are reported."""
    written: list[Path] = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, spec in TABLES.items():
        latest = latest_result(results_dir / spec.results_folder)
        if latest is None:
            warnings.warn(
                f"no full result in {results_dir / spec.results_folder}: table {name!r} not rendered",
                stacklevel=2,
            )
            continue
        path, result = latest
        module = spec.module()
        md = out_dir / f"{name}.md"
        md.write_text(
            f"<!-- rendered from {path.name} by paper_tables/build.py -->\n"
            + module.render_markdown(result, caption=spec.caption),
            encoding="utf-8",
        )
        tex = out_dir / f"{name}.tex"
        tex.write_text(
            f"% rendered from {path.name} by paper_tables/build.py\n"
            + module.render_latex(result, caption=spec.caption, label=spec.label),
            encoding="utf-8",
        )
        written += [md, tex]
        if hasattr(module, "plot"):
            written += module.plot(result, out_dir)
    written += perplexity_policies.render(results_dir / "perplexity", out_dir)
    written += decode_step_policies.render(results_dir / "decode_step", out_dir)
    if models_dir is not None:
        written += learning_curves.plot(models_dir, out_dir)
        written += distillation.render(
            results_dir / "distillation",
            models_dir / "smollm2-cpu-zip2zip" / learning_curves.LOG_FILE,
            models_dir / "smollm2-cpu-control" / learning_curves.LOG_FILE,
            results_dir / "diagnose",
            out_dir,
        )
    return written


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m paper_tables.build",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--results", type=Path, default=ROOT / "results", help="results folder (default results/)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "paper_tables" / "out", help="output folder")
    parser.add_argument(
        "--models", type=Path, default=ROOT / "models", help="training runs to plot (default models/)"
    )
    args = parser.parse_args(argv)
    for path in build(args.results, args.out, models_dir=args.models):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
