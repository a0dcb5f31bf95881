"""``python -m benchmarks.codec --smoke`` end to end into tmp_path: every stream, operation and policy row."""

from __future__ import annotations

import pytest

from benchmarks import codec
from zip2zip.data.tokenizers import MissingAssetError, get_tokenizer
from zip2zip.evaluation.results import read_result

pytest.importorskip("zip2zip_compression", reason="the codec benchmark compares with the 'bench' extra")


def test_smoke_writes_every_row(tmp_path) -> None:
    try:
        get_tokenizer("llama3")
    except MissingAssetError as exc:
        pytest.skip(f"smoke needs the llama3 tokenizer: {exc}")
    out = tmp_path / "codec.json"
    codec.main(["--smoke", "--out", str(out)])
    result = read_result(out)
    assert result.status == "smoke" and result.benchmark == "codec" and not result.skipped
    operations = (
        "encode_reference",
        "encode",
        "decode",
        "batch_encode",
        "encode_policies",
        "decode_policies",
    )
    keys = {tuple(row[k] for k in codec.ROW_KEYS) for row in result.rows}
    assert len(keys) == len(result.rows) == 2 * len(operations)
    assert {(row["data"], row["operation"]) for row in result.rows} == {
        (data, op) for data in ("bytes", "llama3") for op in operations
    }
    for row in result.rows:
        for name, value in row["metrics"].items():
            assert value["value"] > 0, (row["data"], row["operation"], name)
    assert result.assets["text"]["num_bytes"] == 20_000
    assert result.assets["tokenizer:llama3"]["sha256"]
