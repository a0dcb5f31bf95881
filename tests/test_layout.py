"""The package's layers: each subpackage imports only the layers below it, and the codec stays torch-free.

codec -> data -> modeling -> inference -> evaluation, and training on codec, data and modeling.
``registry`` (name lookups), ``provenance`` (versions, hardware, git commit) and ``remote_code`` (the
trust_remote_code policy) sit under every layer.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "zip2zip"

FOUNDATION = {"registry", "provenance", "remote_code"}
ALLOWED: dict[str, set[str]] = {
    "registry": set(),
    "provenance": set(),
    "remote_code": set(),
    "codec": FOUNDATION,
    "data": FOUNDATION | {"codec"},
    "modeling": FOUNDATION | {"codec"},
    "inference": FOUNDATION | {"codec", "modeling"},
    "training": FOUNDATION | {"codec", "data", "modeling"},
    "evaluation": FOUNDATION | {"codec", "data", "modeling", "inference"},
}


def _layer(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imported_layers(path: Path) -> set[str]:
    """Top-level parts of zip2zip that ``path`` imports (absolute ``zip2zip.X`` or relative, at any depth)."""
    layers = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "zip2zip":
                names = [f"zip2zip.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        layers |= {name.split(".")[1] for name in names if name.startswith("zip2zip.")}
    return layers


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE or p.name != "__init__.py")


def test_every_module_belongs_to_a_layer() -> None:
    assert {_layer(p) for p in _modules()} == set(ALLOWED)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_layers(path: Path) -> None:
    layer = _layer(path)
    foreign = _imported_layers(path) - ALLOWED[layer] - {layer}
    assert not foreign, f"{path.relative_to(PACKAGE)} ({layer}) imports {sorted(foreign)}"


def test_relative_imports_stay_inside_their_subpackage() -> None:
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level > 1:
                raise AssertionError(f"{path.relative_to(PACKAGE)}: use zip2zip.<layer> instead of '..'")


def test_the_codec_and_data_layers_import_no_torch() -> None:
    code = (
        "import sys, zip2zip, zip2zip.codec.lzw_codec, zip2zip.data.corpora, zip2zip.data.training_chunks; "
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
