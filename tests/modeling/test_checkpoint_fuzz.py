"""The crafted-checkpoint fuzz (``_checkpoint_fuzz.py``): every mutated checkpoint, ours or the
authors' (format 1 with and without LoRA, format 2), loads with the original's logits or is refused in one
line naming a file of it; no other exception, no different logits, nothing above a 4 GiB address-space limit.

The default suite runs a few hundred cases; ``-m slow`` runs 5,000.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).with_name("_checkpoint_fuzz.py")
MEMORY_LIMIT_BYTES = 4 << 30


def _fuzz(work: Path, num_cases: int, seed: int) -> dict:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
    }
    run = subprocess.run(
        [sys.executable, str(FUZZ), str(work), str(num_cases), str(seed), str(MEMORY_LIMIT_BYTES)],
        capture_output=True,
        text=True,
        env=env,
        timeout=3600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.splitlines()[-1])


def _check(summary: dict, num_cases: int) -> None:
    assert summary["num_failures"] == 0, json.dumps(summary["failures"][:10], indent=1)
    assert sum(summary["outcomes"].values()) == num_cases
    assert summary["outcomes"].get("refused", 0) > num_cases / 2  # the mutations do break checkpoints
    assert summary["outcomes"].get("same", 0) > 0  # and the equivalent ones load


def test_crafted_checkpoints_load_as_saved_or_are_refused_in_one_line(tmp_path):
    _check(_fuzz(tmp_path, 200, seed=0), 200)


@pytest.mark.slow
def test_crafted_checkpoints_fuzz_thoroughly(tmp_path):
    _check(_fuzz(tmp_path, 5000, seed=1), 5000)
