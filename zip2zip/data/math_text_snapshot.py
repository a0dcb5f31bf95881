"""The offline math domain's documents at the efficiency benchmark's settings, shipped instead of regenerated.

Generating them (``zip2zip.data.math_text``: sympy, in a child process) takes about 30 s of the efficiency
run, yet the text is a fixed function of (seed, number of documents, minimum size) and the generator's
versions. So the documents for the settings the paper's run uses are package data
(``math_text_documents.json.gz``), with the provenance of their generation and the versions that made them;
any other settings generate live, as before. ``--check`` regenerates and compares (also a ``slow`` test).
This module does not sample or cut documents (``zip2zip.data.corpora`` does).

    python -m zip2zip.data.math_text_snapshot            # (re)write the snapshot
    python -m zip2zip.data.math_text_snapshot --check    # exit 1 if a fresh generation differs
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.metadata
import json
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zip2zip.data import math_text

SNAPSHOT_PATH = Path(__file__).with_name("math_text_documents.json.gz")
# The efficiency benchmark's defaults (``benchmarks.efficiency.Config``; a test keeps them equal).
SNAPSHOT_SETTINGS = {"seed": 0, "num_docs": 400, "min_doc_bytes": 2048}
_GENERATOR_PACKAGES = ("mathematics-dataset", "sympy", "numpy")


def math_documents(*, seed: int, num_docs: int, min_doc_bytes: int) -> tuple[list[str], dict[str, Any]]:
    """``math_text.generate_documents(...)``'s documents and provenance: read from the snapshot when it holds
    these settings (the provenance then also names the snapshot and the versions that made it), else
    generated live."""
    settings = {"seed": seed, "num_docs": num_docs, "min_doc_bytes": min_doc_bytes}
    if settings != SNAPSHOT_SETTINGS or not SNAPSHOT_PATH.is_file():
        return math_text.generate_documents(**settings)
    snapshot = read_snapshot()
    provenance = {
        **snapshot["provenance"],
        "snapshot": SNAPSHOT_PATH.name,
        "generated_with": snapshot["generated_with"],
    }
    return snapshot["docs"], provenance


def read_snapshot(path: Path = SNAPSHOT_PATH) -> dict[str, Any]:
    """The snapshot's content; a file whose documents do not match their recorded hash raises ValueError."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        snapshot: dict[str, Any] = json.load(f)
    if snapshot.get("settings") != SNAPSHOT_SETTINGS:
        raise ValueError(
            f"{path} holds settings {snapshot.get('settings')}, not {SNAPSHOT_SETTINGS}: "
            "regenerate it with python -m zip2zip.data.math_text_snapshot"
        )
    if snapshot["docs_sha256"] != _docs_sha256(snapshot["docs"]):
        raise ValueError(
            f"{path}: its documents do not match their sha256 (damaged or edited); "
            "regenerate it with python -m zip2zip.data.math_text_snapshot"
        )
    return snapshot


def generate_snapshot() -> dict[str, Any]:
    """A fresh generation at ``SNAPSHOT_SETTINGS``, as the snapshot file holds it."""
    docs, provenance = math_text.generate_documents(**SNAPSHOT_SETTINGS)
    return {
        "settings": SNAPSHOT_SETTINGS,
        "generated_with": {
            "python": platform.python_version(),
            **{name: importlib.metadata.version(name) for name in _GENERATOR_PACKAGES},
        },
        "provenance": provenance,
        "docs_sha256": _docs_sha256(docs),
        "docs": docs,
    }


def write_snapshot(snapshot: dict[str, Any], path: Path = SNAPSHOT_PATH) -> None:
    """Sorted, indented JSON, gzipped without a timestamp: the same snapshot gives the same bytes."""
    text = json.dumps(snapshot, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
        f.write(text.encode("utf-8"))


def _docs_sha256(docs: Sequence[str]) -> str:
    return hashlib.sha256(json.dumps(list(docs), ensure_ascii=False).encode("utf-8")).hexdigest()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m zip2zip.data.math_text_snapshot",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--check", action="store_true", help="compare a fresh generation with the snapshot")
    args = parser.parse_args(argv)
    fresh = generate_snapshot()
    if args.check:
        shipped = read_snapshot()
        if (shipped["docs"], shipped["provenance"]) != (fresh["docs"], fresh["provenance"]):
            sys.exit(
                f"a fresh generation ({fresh['generated_with']}) differs from {SNAPSHOT_PATH} (made with "
                f"{shipped['generated_with']}): regenerate it and commit it"
            )
        print(f"{SNAPSHOT_PATH} matches a fresh generation")
        return
    write_snapshot(fresh)
    print(f"wrote {SNAPSHOT_PATH} ({len(fresh['docs'])} documents)")


if __name__ == "__main__":
    main()
