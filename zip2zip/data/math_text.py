"""School-math text from DeepMind's ``mathematics-dataset`` generator, seeded, for the offline math domain.

The package predates sympy 1.7 / numpy 2: a one-line shim re-exports ``base_solution_linear`` where it
used to live, and the generator modules that still fail (calculus and several polynomial modules use
removed numpy APIs) are skipped and listed in the provenance. Each document is a worksheet of
``Question: ...`` / ``Answer: ...`` pairs from randomly chosen modules. The ``*_composed`` modules are
left out: they iterate sets ordered by memory address, so their text is not reproducible across runs.
Not a re-implementation of the package's own train/test splits. At the efficiency benchmark's settings the
documents are read from a shipped snapshot instead (``zip2zip.data.math_text_snapshot``).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import importlib.util
import json
import os
import random
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from zip2zip.data.tokenizers import MissingAssetError

_INSTALL = "pip install mathematics-dataset"
# The package's own limits (generate_settings.MAX_QUESTION_LENGTH / MAX_ANSWER_LENGTH).
_MAX_QUESTION_CHARS = 160
_MAX_ANSWER_CHARS = 30


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed ``random``, ``numpy.random`` and sympy's private RNG (the generator draws from all three) and
    restore them after."""
    import numpy as np
    from sympy.core import random as sympy_random

    states = random.getstate(), np.random.get_state(), sympy_random.rng.getstate()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    sympy_random.rng.seed(seed)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        sympy_random.rng.setstate(states[2])


def _modules() -> dict[str, Callable[[], Any]]:
    """Flat name -> problem generator of the 'train' regime (full entropy range), shim applied."""
    try:
        importlib.metadata.version("mathematics-dataset")
    except importlib.metadata.PackageNotFoundError as exc:
        raise MissingAssetError(f"the offline math corpus needs mathematics-dataset: {_INSTALL}") from exc
    importlib.import_module("sympy.solvers.diophantine")
    dio = sys.modules["sympy.solvers.diophantine"]
    if not hasattr(dio, "base_solution_linear"):  # moved in sympy 1.7
        from sympy.solvers.diophantine.diophantine import base_solution_linear

        dio.base_solution_linear = base_solution_linear  # type: ignore[attr-defined]
    from mathematics_dataset.modules import modules

    flat: dict[str, Callable[[], Any]] = {}

    def add(tree: dict[str, Any], prefix: str) -> None:
        for key, value in tree.items():
            name = f"{prefix}__{key}" if prefix else key
            if isinstance(value, dict):
                add(value, name)
            else:
                flat[name] = value

    add(modules.train(lambda entropy_range: entropy_range), "")
    # "_composed" modules iterate sets of objects hashed by memory address: their text changes from run
    # to run whatever the seed, so they are left out to keep the sample reproducible.
    return {name: fn for name, fn in sorted(flat.items()) if not name.endswith("_composed")}


def _problem(module: Callable[[], Any]) -> tuple[str, str]:
    """One (question, answer) within the package's length limits."""
    while True:
        problem = module()
        question, answer = str(problem.question), str(problem.answer)
        if len(question) <= _MAX_QUESTION_CHARS and len(answer) <= _MAX_ANSWER_CHARS:
            return question, answer


def generate_documents(*, seed: int, num_docs: int, min_doc_bytes: int) -> tuple[list[str], dict[str, Any]]:
    """``num_docs`` worksheets of at least ``min_doc_bytes`` each; same seed -> same text, in any process.

    The package picks variable names with ``random.choice(list(a_set_of_str))``, whose order depends on
    Python's per-process string hash seed, so generation runs in a child process with PYTHONHASHSEED=0.
    """
    if importlib.util.find_spec("mathematics_dataset") is None:
        raise MissingAssetError(f"the offline math corpus needs mathematics-dataset: {_INSTALL}")
    package_root = str(Path(__file__).resolve().parents[2])
    env = {
        **os.environ,
        "PYTHONHASHSEED": "0",
        "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])),
    }
    args = json.dumps({"seed": seed, "num_docs": num_docs, "min_doc_bytes": min_doc_bytes})
    proc = subprocess.run(
        [sys.executable, "-m", "zip2zip.data.math_text", args],
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"math text generation failed:\n{proc.stderr[-2000:]}")
    out = json.loads(proc.stdout)
    return out["docs"], out["provenance"]


def _generate_here(*, seed: int, num_docs: int, min_doc_bytes: int) -> tuple[list[str], dict[str, Any]]:
    """Generation proper; deterministic only under a fixed PYTHONHASHSEED (see ``generate_documents``)."""
    generators = _modules()
    working, failing = [], []
    with _seeded(seed):
        for name, module in generators.items():
            try:
                _problem(module)
                working.append(name)
            except Exception:  # numpy-2 / sympy incompatibilities inside the package
                failing.append(name)
    if not working:
        raise MissingAssetError(f"no mathematics-dataset module runs here; reinstall: {_INSTALL}")
    docs = []
    with _seeded(seed + 1):
        rng = random.Random(seed)
        for _ in range(num_docs):
            pairs, size = [], 0
            while size < min_doc_bytes:
                name = rng.choice(working)
                try:
                    question, answer = _problem(generators[name])
                except Exception:  # some composed problems reach the same broken numpy code paths
                    working.remove(name)
                    failing.append(name)
                    if not working:
                        raise MissingAssetError(
                            f"no mathematics-dataset module runs here; reinstall: {_INSTALL}"
                        ) from None
                    continue
                pairs.append(f"Question: {question}\nAnswer: {answer}")
                size += len(pairs[-1].encode("utf-8")) + 2
            docs.append("\n\n".join(pairs))
    prov = {
        "package": "mathematics-dataset",
        "version": importlib.metadata.version("mathematics-dataset"),
        "license": "Apache-2.0",
        "modules_used": working,
        "modules_skipped": sorted(failing),
    }
    return docs, prov


if __name__ == "__main__":  # child process of generate_documents
    _docs, _prov = _generate_here(**json.loads(sys.argv[1]))
    sys.stdout.write(json.dumps({"docs": _docs, "provenance": _prov}))
