"""paper_tables/perplexity_policies.py: zip2zip's perplexity under each codebook, from the main result and its
variants; and the main perplexity table never picks a variant up."""

from __future__ import annotations

from pathlib import Path

from paper_tables import build, perplexity_policies
from zip2zip.evaluation.results import BenchmarkResult, metric, write_result


def _write(
    folder: Path, name: str, codebook: tuple[str, int], ppl: float, *, variant: str, created: str
) -> None:
    policy, size = codebook
    row = {
        "model": "zip2zip",
        "corpus": "wikitext",
        "metrics": {
            "byte_perplexity": metric(ppl, ""),
            "num_bytes": metric(4000, "bytes"),
            "num_steps": metric(1000, "steps"),
        },
    }
    assets: dict = {
        "models": {"zip2zip": {"compression": {"codebook_policy": policy, "max_codebook_size": size}}}
    }
    if variant:
        assets["variant"] = variant
    result = BenchmarkResult(
        benchmark="perplexity", status="full", config={}, rows=[row], duration_s=1.0, assets=assets
    )
    result.created_utc = created
    write_result(folder / name, result, allow_dirty=True)


def test_each_codebook_gets_its_cell_and_the_main_table_keeps_the_default_run(tmp_path: Path) -> None:
    folder = tmp_path / "perplexity"
    _write(folder, "cpu.json", ("freeze", 2048), 1.86, variant="", created="2026-01-01T00:00:00+00:00")
    _write(
        folder,
        "cpu-lru-C256.json",
        ("lru", 256),
        1.95,
        variant="lru-C256",
        created="2026-01-02T00:00:00+00:00",
    )
    found = perplexity_policies.collect(folder)
    assert set(found) == {("freeze", 2048), ("lru", 256)}
    table = perplexity_policies.render_markdown(found)
    assert "| wikitext | 256 | -- / -- | 1.950 / 4.00 |" in table
    assert "| wikitext | 2048 | 1.860 / 4.00 | -- / -- |" in table
    latest = build.latest_result(folder)
    assert latest is not None and latest[0].name == "cpu.json"  # the newer variant is not the main table's
    assert perplexity_policies.render(folder, tmp_path) == [tmp_path / "perplexity_policies.md"]
