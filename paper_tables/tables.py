"""The one place mapping a table name to its LaTeX label, caption and renderer module.

Names are the snake_case names used by the benchmark, the results folder and the nox session
(``efficiency`` -> ``benchmarks/efficiency.py`` -> ``results/efficiency/*.json`` -> here).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class TableSpec:
    """How to render one paper table: ``renderer`` is a module with ``render_markdown``, ``render_latex``
    and optionally ``plot``; ``benchmark``: whose results it renders, when not the benchmark of its name."""

    name: str
    label: str
    caption: str
    renderer: str  # module path
    benchmark: str = ""

    @property
    def results_folder(self) -> str:
        """``results/<this>/``: the folder of the benchmark whose results the table renders."""
        return self.benchmark or self.name

    def module(self) -> ModuleType:
        return importlib.import_module(self.renderer)


TABLES: dict[str, TableSpec] = {
    "efficiency": TableSpec(
        name="efficiency",
        label="tab:token-efficiency",
        caption="Token efficiency (UTF-8 bytes per token) of base tokenizers and with zip2zip (LZW, M = 3), "
        "paper vs this reproduction",
        renderer="paper_tables.efficiency",
    ),
    "efficiency_policies": TableSpec(
        name="efficiency_policies",
        label="tab:codebook-policies",
        caption="Codebook policies beyond the paper (freeze, reset, lru) by codebook size, on the usual and on "
        "long documents",
        renderer="paper_tables.efficiency_policies",
        benchmark="efficiency",
    ),
    "throughput": TableSpec(
        name="throughput",
        label="tab:throughput",
        caption="Inference throughput, zip2zip vs the base model on the same weights: prefill and decode "
        "gains (paper: Phi-3.5-4B on an H100) and ours, with the compression ratio r actually achieved",
        renderer="paper_tables.throughput",
    ),
    "perplexity": TableSpec(
        name="perplexity",
        label="tab:perplexity",
        caption="Byte-level perplexity (lower is better): base model, continual-pretraining control and zip2zip, "
        "paper (Phi-3.5-4B) vs ours, with the models and corpora actually used",
        renderer="paper_tables.perplexity",
    ),
    "downstream": TableSpec(
        name="downstream",
        label="tab:downstream",
        caption="Downstream tasks through lm-evaluation-harness: base model vs zip2zip, paper (Phi-3.5-4B) vs "
        "ours, with the tasks actually run",
        renderer="paper_tables.downstream",
    ),
}
