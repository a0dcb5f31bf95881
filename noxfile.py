"""One nox session per job. All sessions share ONE virtual environment, built once.

Why not nox's per-session venvs: each would install torch (~1 GB) again, so
``nox -s efficiency perplexity throughput`` spent minutes installing. Here ``.nox/shared`` is created
once, with ``torch==2.13.0`` in the same pip command as everything else (so no resolver ever pulls a
different torch build), and updated only when ``pyproject.toml`` or the requested extras change.
Sessions run with ``venv_backend="none"`` and call that environment's python explicitly.

    nox -l                        # list sessions
    nox -s tests                  # fast default test suite
    nox -s codec -- --help        # extra arguments go to the benchmark
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import nox

nox.needs_version = ">=2024.3.2"
nox.options.sessions = ["lint", "tests"]

ROOT = Path(__file__).parent
SHARED_ENV = ROOT / ".nox" / "shared"
TORCH = "torch==2.13.0"
# Real offline assets whose packages declare heavy or unneeded dependencies: installed with --no-deps.
ASSETS_NO_DEPS: list[str] = []
# Real offline assets installed normally.
ASSETS: list[str] = []


def _python(env: Path) -> Path:
    return env / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def _shared_python(session: nox.Session, extras: set[str]) -> str:
    """Create or update the shared environment so it has the package with ``extras``; return its python."""
    python = _python(SHARED_ENV)
    marker = SHARED_ENV / "zip2zip-env.json"
    fingerprint = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    state = json.loads(marker.read_text()) if marker.exists() and python.exists() else {}
    wanted = sorted(
        extras | set(state.get("extras", [])) if state.get("fingerprint") == fingerprint else extras
    )
    if state.get("fingerprint") == fingerprint and set(wanted) <= set(state.get("extras", [])):
        return str(python)
    if not python.exists():
        session.run(sys.executable, "-m", "venv", str(SHARED_ENV), external=True)
        session.run(str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip", external=True)
    spec = f".[{','.join(wanted)}]" if wanted else "."
    session.run(str(python), "-m", "pip", "install", "--quiet", TORCH, "-e", spec, *ASSETS, external=True)
    if ASSETS_NO_DEPS:
        session.run(
            str(python), "-m", "pip", "install", "--quiet", "--no-deps", *ASSETS_NO_DEPS, external=True
        )
    marker.write_text(json.dumps({"fingerprint": fingerprint, "extras": wanted}))
    return str(python)


def _print_versions(session: nox.Session, python: str) -> None:
    session.run(
        python,
        "-c",
        "import platform, numpy, numba, torch, transformers; "
        "print('python', platform.python_version(), '| numpy', numpy.__version__, '| numba', numba.__version__, "
        "'| torch', torch.__version__, '| transformers', transformers.__version__)",
        external=True,
    )


def _run_benchmark(session: nox.Session, name: str, extras: set[str]) -> None:
    """Run ``python -m benchmarks.<name> *posargs`` in the shared environment."""
    python = _shared_python(session, {"bench", *extras})
    _print_versions(session, python)
    session.run(python, "-m", f"benchmarks.{name}", *session.posargs, external=True)


@nox.session(venv_backend="none")
def tests(session: nox.Session) -> None:
    """Fast CPU test suite (slow/gpu/network tests are deselected; pass -- -m slow to run those)."""
    python = _shared_python(session, {"test", "bench"})
    _print_versions(session, python)
    # pytest exits 5 when it collected nothing: not a failure of the suite itself
    session.run(python, "-m", "pytest", *session.posargs, external=True, success_codes=[0, 5])


@nox.session(venv_backend="none")
def lint(session: nox.Session) -> None:
    """ruff (lint + format check) and mypy on the package."""
    python = _shared_python(session, {"lint"})
    session.run(python, "-m", "ruff", "check", ".", external=True)
    session.run(python, "-m", "ruff", "format", "--check", ".", external=True)
    session.run(python, "-m", "mypy", external=True)


@nox.session(venv_backend="none")
def codec(session: nox.Session) -> None:
    """Codec throughput vs the zip2zip-compression package -> results/codec/<run-tag>.json."""
    _run_benchmark(session, "codec", set())
