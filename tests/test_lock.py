"""The suite's lock: the environment nox builds is exactly it, and it still satisfies pyproject.toml's ranges.

Test-only knob: ZIP2ZIP_EXPECT_LOCKED_ENV=1 (set by ``nox -s tests``) says the running environment was built
from the lock, so it must equal it; elsewhere (``nox -s tests_latest``, a user's own venv) that test skips.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from zip2zip.provenance import LOCK_FILE, lock_differences, lock_record, read_lock

ROOT = Path(__file__).resolve().parents[1]


def test_read_lock_takes_pins_and_skips_comments_options_and_markers(tmp_path: Path) -> None:
    lock = tmp_path / "lock.txt"
    lock.write_text(
        "# header\n--find-links somewhere\nJinja2==3.1.6\ntyping_extensions==4.16.0  # why\n"
        "colorama==0.4.6 ; sys_platform == 'win32'\ntorch==2.13.0\n"
    )
    assert read_lock(lock) == {
        "jinja2": "3.1.6",
        "typing-extensions": "4.16.0",
        "colorama": "0.4.6",
        "torch": "2.13.0",
    }


def test_lock_differences_name_each_package_and_ignore_a_platform_build_label() -> None:
    locked = {"torch": "2.13.0", "numpy": "2.4.6", "peft": "0.21.2"}
    installed = {"torch": "2.13.0+cpu", "numpy": "2.4.7", "pip": "26.0"}
    assert lock_differences(locked, installed) == [
        "numpy: 2.4.7 installed, 2.4.6 in the lock",
        "peft==0.21.2 is in the lock but not installed",
        "pip==26.0 is installed but not in the lock",
    ]
    assert lock_differences(locked, {**locked, "torch": "2.13.0+cu128"}) == []


def test_the_lock_satisfies_every_range_of_pyproject() -> None:
    """A range moved without ``nox -s lock`` fails here, not in a user's fresh clone."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [
        *project["dependencies"],
        *(r for extra in project["optional-dependencies"].values() for r in extra),
    ]
    pins = read_lock(ROOT / LOCK_FILE)
    for requirement in map(Requirement, requirements):
        name = requirement.name.lower().replace("_", "-")
        assert name in pins, f"{requirement} is not in {LOCK_FILE}: run nox -s lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{LOCK_FILE} pins {name}=={pins[name]}, outside pyproject.toml's {requirement}: run nox -s lock"
        )


@pytest.mark.skipif(
    os.environ.get("ZIP2ZIP_EXPECT_LOCKED_ENV") != "1", reason="not the environment nox builds from the lock"
)
def test_the_running_environment_is_exactly_the_lock() -> None:
    record = lock_record()
    assert record is not None and record["file"] == LOCK_FILE
    assert record["differences"] == [], "\n".join(record["differences"])
    assert record["matches_environment"]
