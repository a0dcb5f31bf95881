"""Where a number came from: package versions, hardware and the git commit of the code that ran.

Shared by result files (``evaluation.results``) and training logs (``training.run_log``), so it sits under
every layer. Imports no torch (it reads device facts only when torch is already imported).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

_VERSIONED_PACKAGES = (
    "zip2zip",
    "numpy",
    "numba",
    "torch",
    "transformers",
    "peft",
    "datasets",
    "tokenizers",
    "tiktoken",
    "lm_eval",
    "zip2zip-compression",
)


class MissingAssetError(ImportError):
    """An optional package holding a tokenizer, corpus or model is not installed; the message says which."""


def sha256_file(path: Path | str) -> str:
    """Hex sha256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def packaged_file(
    dist: str, module: str, relpath: str, install: str, *, with_sha256: bool = True
) -> tuple[Path, dict[str, Any]]:
    """Path of a data file shipped inside an installed package, plus its record: package, version, file
    (``module/relpath``) and, unless ``with_sha256=False``, the file's sha256. The package is located
    without importing it (some import heavy dependencies). Raises MissingAssetError naming ``install``."""
    try:
        version = importlib.metadata.version(dist)
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise ModuleNotFoundError(module)
        path = Path(next(iter(spec.submodule_search_locations))) / relpath
    except (importlib.metadata.PackageNotFoundError, ModuleNotFoundError) as exc:
        raise MissingAssetError(f"package {dist!r} is not installed; install it with: {install}") from exc
    if not path.is_file():
        raise MissingAssetError(f"{dist}=={version} has no {module}/{relpath}; reinstall with: {install}")
    record: dict[str, Any] = {"package": dist, "version": version, "file": f"{module}/{relpath}"}
    if with_sha256:
        record["sha256"] = sha256_file(path)
    return path, record


def _package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in _VERSIONED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows of it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _accelerators() -> dict[str, Any]:
    """Device facts; imports torch only if it is already imported (keeps codec benchmarks torch-free)."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        return {"torch_imported": False}
    info: dict[str, Any] = {"cuda_available": torch.cuda.is_available(), "cuda": torch.version.cuda}
    if torch.cuda.is_available():
        info["gpus"] = [
            {
                "name": torch.cuda.get_device_name(i),
                "memory_gib": torch.cuda.get_device_properties(i).total_memory / 2**30,
            }
            for i in range(torch.cuda.device_count())
        ]
    mps = getattr(torch.backends, "mps", None)
    info["mps_available"] = bool(mps and mps.is_available())
    info["num_threads"] = torch.get_num_threads()
    return info


def capture_environment() -> dict[str, Any]:
    """Versions and hardware of this run. No hostnames, user names or paths."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "machine": platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "packages": _package_versions(),
        "accelerators": _accelerators(),
        "lock": lock_record(),
    }


# The suite's environment, every package pinned (``nox -s lock`` writes it; the noxfile installs it).
LOCK_FILE = "requirements/lock-linux-x86_64-py3.11.txt"
_CHECKOUT = Path(__file__).resolve().parents[1]


def _normalized(name: str) -> str:
    """A distribution name as PEP 503 compares them: ``Jinja2``, ``typing_extensions`` -> ``jinja2``, ``typing-extensions``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path | str) -> dict[str, str]:
    """The ``name==version`` pins of a lock file (normalised name -> version); comments and options skipped."""
    pins = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        requirement = line.split("#", 1)[0].strip()
        if "==" in requirement and not requirement.startswith("-"):
            name, version = requirement.split("==", 1)
            pins[_normalized(name.split("[", 1)[0])] = version.split(";", 1)[0].strip()
    return pins


def installed_versions(*, excluding: tuple[str, ...] = ("zip2zip",)) -> dict[str, str]:
    """Every distribution of the running environment (normalised name -> version), as ``pip freeze`` lists them."""
    found = {_normalized(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}
    return {name: version for name, version in found.items() if name not in excluding}


def lock_differences(locked: dict[str, str], installed: dict[str, str]) -> list[str]:
    """How ``installed`` differs from ``locked``, one line a package. A local version label (torch's
    ``+cpu`` or ``+cu128``) is the build for a platform, not another version, so it is not compared."""
    differences = []
    for name in sorted(locked.keys() | installed.keys()):
        want, have = locked.get(name), installed.get(name)
        if want is None:
            differences.append(f"{name}=={have} is installed but not in the lock")
        elif have is None:
            differences.append(f"{name}=={want} is in the lock but not installed")
        elif have.split("+", 1)[0] != want.split("+", 1)[0]:
            differences.append(f"{name}: {have} installed, {want} in the lock")
    return differences


def lock_record(checkout: Path | None = None) -> dict[str, Any] | None:
    """The lock file's path and sha256 and whether the running environment is exactly it; None outside a
    checkout that has the lock (e.g. the library installed by ``pip install``)."""
    path = (checkout or _CHECKOUT) / LOCK_FILE
    if not path.is_file():
        return None
    differences = lock_differences(read_lock(path), installed_versions())
    return {
        "file": LOCK_FILE,
        "sha256": sha256_file(path),
        "matches_environment": not differences,
        "differences": differences,
    }


# What the jobs themselves write: edits there do not change the code a result comes from, so they do
# not make a checkout dirty (else `nox -s efficiency perplexity` could never run from a clean clone).
GENERATED_PATHS = ("results", "paper_tables/out", "checkpoints")


def git_info(repo: Path | None = None) -> dict[str, Any]:
    """Commit and dirty flag (tracked files changed outside ``GENERATED_PATHS``) of the checkout the code
    runs from; ``None`` outside a git checkout."""
    cwd = repo or Path(__file__).resolve().parents[1]
    excluded = [f":(exclude){path}" for path in GENERATED_PATHS]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", *excluded],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(status.strip())}
