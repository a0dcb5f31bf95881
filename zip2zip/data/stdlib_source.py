"""Real text that every Python install has: the interpreter's own standard-library source.

Codec speed is measured on it because it needs no download and no package, and the same interpreter gives the
same bytes (the sha256 is recorded, so a different one is visible). It is not a corpus of the paper's domains.
"""

from __future__ import annotations

import hashlib
import sysconfig
from pathlib import Path
from typing import Any


def stdlib_source(num_bytes: int) -> tuple[bytes, dict[str, Any]]:
    """The first ``num_bytes`` of the interpreter's top-level ``*.py`` standard-library files, sorted by name,
    and what a result records of them (file count, size, sha256). Raises if the library is smaller."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    chunks, total, files = [], 0, 0
    for path in sorted(stdlib.glob("*.py")):
        chunks.append(path.read_bytes())
        total += len(chunks[-1])
        files += 1
        if total >= num_bytes:
            break
    data = b"".join(chunks)[:num_bytes]
    if len(data) < num_bytes:
        raise ValueError(f"only {len(data)} bytes of standard-library source found; lower --num-bytes")
    return data, {
        "source": "CPython standard library *.py",
        "num_files": files,
        "num_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
