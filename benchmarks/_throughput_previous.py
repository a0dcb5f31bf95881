"""What an earlier result at ``--out`` means for a run of ``benchmarks/throughput.py``: ``--resume`` keeps the
rows and cell assets of every cell (corpus, prompt length, mode) this run would measure and the earlier run
finished, and a file that holds another device's result is never overwritten. It exists so that the script's
``run`` only has to skip the cells named here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from zip2zip.config_cli import ConfigCommandLine

from ._result_file import ResultFile

Cell = tuple[str, int, str]  # (corpus, prompt base tokens, mode)


class CellSettings(Protocol):
    """What this module reads of ``throughput.Config`` (a Protocol, so that it need not import the script)."""

    @property
    def corpora(self) -> tuple[str, ...]: ...
    @property
    def prompt_base_tokens(self) -> tuple[int, ...]: ...
    @property
    def modes(self) -> tuple[str, ...]: ...


def _cell_key(row: dict[str, Any]) -> Cell:
    return (row["corpus"], row["prompt_base_tokens"], row["mode"])


def kept_cells(
    config: CellSettings, previous: list[dict[str, Any]], previous_assets: dict[str, Any]
) -> tuple[list[dict[str, Any]], set[Cell], dict[str, Any] | None]:
    """What ``--resume`` keeps of this run's cells: their rows, their keys, and their cell assets (None if
    the earlier run recorded none)."""
    cells = [(c, p, m) for c in config.corpora for p in config.prompt_base_tokens for m in config.modes]
    kept = [r for r in previous if _cell_key(r) in set(cells)]
    done = {_cell_key(r) for r in kept}
    kept_cells = previous_assets.get("cells", {})  # "corpus/prompt/mode" -> what the cell used
    if not kept_cells:
        return list(kept), done, None
    cell_assets = {
        f"{c}/{p}/{m}": kept_cells[f"{c}/{p}/{m}"]
        for c, p, m in cells
        if (c, p, m) in done and f"{c}/{p}/{m}" in kept_cells
    }
    return list(kept), done, cell_assets


def same_device_check(command: ConfigCommandLine[Any], tag: str) -> Callable[[ResultFile], None]:
    """``run_and_write``'s ``check_existing``: an ``--out`` holding a result of another device than ``tag`` is
    a usage error."""

    def same_device(results: ResultFile) -> None:
        old_tag = results.read(results.out).get("assets", {}).get("device_tag")
        if old_tag != tag:
            command.error(f"{results.out} holds a {old_tag} result; this run is on {tag}: pass another --out")

    return same_device
