"""paper_tables/decode_step_policies.py: the policy rows of the newest decode_step result, one table line each."""

from __future__ import annotations

from pathlib import Path

from paper_tables import decode_step_policies
from zip2zip.evaluation.results import BenchmarkResult, metric, write_result


def _row(policy: str | None, size: int, ratio: float, **counts: float) -> dict:
    row: dict = {
        "model": "smollm2",
        "method": "zip2zip",
        "phase": "decode",
        "batch_size": 1,
        "decode_mode": "forced",
        "max_codebook_size": size,
        "metrics": {"decode_step_time_ratio_vs_base": metric(ratio, "")}
        | {name: metric(value, "") for name, value in counts.items()},
    }
    if policy is not None:
        row["codebook_policy"] = policy
    return row


def _write(folder: Path, name: str, rows: list[dict], *, created: str) -> None:
    result = BenchmarkResult(benchmark="decode_step", status="full", config={}, rows=rows, duration_s=1.0)
    result.created_utc = created
    write_result(folder / name, result, allow_dirty=True)


def test_policy_rows_are_rendered_and_main_rows_left_out(tmp_path: Path) -> None:
    folder = tmp_path / "decode_step"
    rows = [
        _row(None, 2048, 1.08),  # a main variant: no policy key, not in this table
        _row(
            "lru",
            256,
            1.03,
            num_entries_in_head_per_step=256,
            num_entries_removed=120,
            decoded_compression_ratio=1.21,
            profile_encoder_ms_per_step=2.5,
        ),
        _row(
            "freeze",
            2048,
            1.07,
            num_entries_in_head_per_step=530,
            num_entries_removed=0,
            decoded_compression_ratio=1.23,
            profile_encoder_ms_per_step=2.4,
        ),
    ]
    _write(folder, "cpu.json", rows, created="2026-01-02T00:00:00+00:00")
    _write(folder, "old.json", [_row("lru", 64, 9.0)], created="2026-01-01T00:00:00+00:00")
    assert decode_step_policies.render(folder, tmp_path) == [tmp_path / "decode_step_policies.md"]
    table = (tmp_path / "decode_step_policies.md").read_text(encoding="utf-8")
    assert "| smollm2 | 1 | forced | lru | 256 | 1.030 | 256 | 120 | 1.210 | 2.50 |" in table
    assert "| smollm2 | 1 | forced | freeze | 2048 | 1.070 | 530 | 0 | 1.230 | 2.40 |" in table
    assert "1.080" not in table and "9.000" not in table  # main rows and older results stay out
    assert table.index("| lru | 256 |") < table.index("| freeze | 2048 |")


def test_no_policy_rows_renders_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "decode_step"
    _write(folder, "cpu.json", [_row(None, 2048, 1.08)], created="2026-01-02T00:00:00+00:00")
    assert decode_step_policies.render(folder, tmp_path) == []
