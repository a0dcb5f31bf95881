"""Does ``paper_tables`` render the committed results into exactly the committed ``paper_tables/out/``?

``python -m paper_tables.build`` renders ``results/`` and ``models/`` into a temporary folder; every file
there and every committed file become one metric each, ``paper_tables/<file>/sha256``, whose "baseline" is
the committed file's hash. A file that differs, is rendered but not committed, or committed but no longer
rendered fails. Byte identity holds for every format: the renderers write no timestamps (PDF CreationDate
off); PNG and PDF do record the matplotlib version, so another matplotlib shows up here.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from .metrics import Metric
from .presets import Outcome, run_logged

NAME = "paper_tables"


def file_hashes(folder: Path) -> dict[str, Metric]:
    """One ``sha256`` metric per file directly in ``folder`` (temporary files of a write are skipped)."""
    out: dict[str, Metric] = {}
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.endswith(".tmp")):
        metric = Metric(NAME, path.name, "sha256", hashlib.sha256(path.read_bytes()).hexdigest())
        out[metric.name] = metric
    return out


def render(repo: Path, folder: Path) -> Outcome:
    """Render ``repo``'s results and models into ``folder/out``; output lines go to ``folder/run.log``."""
    (folder / "out").mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "paper_tables.build", "--out", str(folder / "out")]
    command += ["--results", str(repo / "results"), "--models", str(repo / "models")]
    return run_logged(command, folder / "run.log")
