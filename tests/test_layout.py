"""The package's layers: each subpackage imports only the layers below it, and the codec stays torch-free;
and no module of ``zip2zip`` or ``benchmarks`` takes part in an import cycle (not even one through a
``TYPE_CHECKING`` or function-level import: a cycle means two modules that cannot be read apart).

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

FOUNDATION = {"registry", "provenance", "remote_code", "config_cli"}
ALLOWED: dict[str, set[str]] = {
    "registry": set(),
    "config_cli": {"registry"},
    "provenance": set(),
    "remote_code": set(),
    "codec": FOUNDATION,
    "data": FOUNDATION | {"codec"},
    "modeling": FOUNDATION | {"codec", "data"},
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
        "import sys, zip2zip, zip2zip.codec.lzw_codec, zip2zip.data.corpora, zip2zip.data.training_chunks, "
        "zip2zip.config_cli; "
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph(packages: list[Path]) -> dict[str, set[str]]:
    """Module -> the modules of ``packages`` it imports anywhere in its file (absolute or relative)."""
    paths = {_module_name(p): p for package in packages for p in package.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                imported |= {base, *(f"{base}.{alias.name}" for alias in node.names)}
            elif isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
        graph[name] = {m for m in imported if m in paths and m != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in sorted(graph[module]):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while (top := stack.pop()) != module:
                component.append(top)
            if component:
                found.append(sorted([module, *component]))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_the_cycle_finder_finds_a_cycle_through_a_type_only_import() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_takes_part_in_an_import_cycle() -> None:
    graph = _import_graph([PACKAGE, PACKAGE.parent / "benchmarks"])
    assert {"zip2zip.modeling.model", "benchmarks.throughput"} <= graph.keys()  # the graph covers both trees
    assert _cycles(graph) == []


TESTS = Path(__file__).resolve().parent
# Top-level test files: the foundation modules', and the checks over the whole tree.
WHOLE_TREE_TESTS = {"test_layout", "test_source_hygiene", "test_lock"}


def test_test_folders_mirror_the_layers() -> None:
    """tests/<layer>/ for each layer of zip2zip, tests/benchmarks and tests/paper_tables for the suite on top;
    a test of a foundation module, or of the whole tree, sits in tests/ itself."""
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}
    assert folders - {"fixtures"} <= (set(ALLOWED) - FOUNDATION) | {"benchmarks", "paper_tables"}
    top_level = {p.stem for p in TESTS.glob("test_*.py")}
    assert top_level <= WHOLE_TREE_TESTS | {f"test_{module}" for module in FOUNDATION}, top_level
