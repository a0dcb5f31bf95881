"""The perplexity benchmark: held-out stand-ins, and a smoke run whose rows are ratios of corpus totals (the
scoring itself: ``tests/evaluation/test_byte_perplexity.py``)."""

from __future__ import annotations

import math

import pytest

from benchmarks import perplexity
from zip2zip.data.eval_corpora import load_eval_corpus
from zip2zip.data.splits import is_heldout
from zip2zip.evaluation.results import read_result


def test_offline_stand_ins_are_documents_training_held_out():
    corpus = load_eval_corpus("wikitext", max_total_bytes=20_000, source="offline")
    assert corpus.source == "offline" and corpus.docs
    assert all(is_heldout(h, corpus.assets["heldout_fraction"]) for h in corpus.doc_sha256)
    with pytest.raises(ValueError, match="unknown perplexity corpus"):
        load_eval_corpus("wikitxt", max_total_bytes=1000)


def test_smoke_run_reports_ratios_of_corpus_totals(tmp_path):
    out = tmp_path / "ppl.json"
    perplexity.main(["--smoke", "--corpora", "wikitext", "--out", str(out)])
    result = read_result(out)
    assert result.status == "smoke" and not (tmp_path / "ppl.partial.json").exists()
    rows = {(r["model"], r.get("versus")): r for r in result.rows}
    for model in ("base", "zip2zip"):
        row = rows[(model, None)]
        nll, num_bytes = sum(row["per_doc_nll_nats"]), sum(row["per_doc_bytes"])
        bpb = row["metrics"]["bits_per_byte"]
        assert bpb["value"] == pytest.approx(nll / num_bytes / math.log(2))
        assert bpb["ci95"][0] <= bpb["value"] <= bpb["ci95"][1]
    assert rows[("base", None)]["metrics"]["num_bytes"] == rows[("zip2zip", None)]["metrics"]["num_bytes"]
    assert rows[("zip2zip", None)]["metrics"]["compression_ratio"]["value"] > 1
    assert "byte_perplexity_increase_pct" in rows[("zip2zip", "base")]["metrics"]
    zip2zip = rows[("zip2zip", None)]
    canonical = zip2zip["metrics"]["canonical_bits_per_byte"]["value"]
    assert canonical == pytest.approx(sum(zip2zip["per_doc_canonical_nll_nats"]) / num_bytes / math.log(2))
    assert canonical < zip2zip["metrics"]["bits_per_byte"]["value"]  # renormalising only adds mass
    assert 0 < zip2zip["metrics"]["impossible_code_mass"]["value"] < 1
    assert "canonical_bits_per_byte" not in rows[("base", None)]["metrics"]  # nothing to mask without codes
    bits = {
        name: zip2zip["metrics"][f"{name}bits_per_byte"]["value"]
        for name in ("", "multiview_", "first_token_")
    }
    assert bits["first_token_"] <= bits["multiview_"] <= bits[""] + 1e-6  # bounds, in bits (lower = likelier)
    assert bits["multiview_"] == pytest.approx(
        sum(zip2zip["per_doc_multiview_nll_nats"]) / num_bytes / math.log(2)
    )
    assert all(
        zip2zip["metrics"][f"{n}_s"]["value"] > 0 for n in ("strict", "canonical", "first_token", "multiview")
    )
    assert "multiview_bits_per_byte" not in rows[("base", None)]["metrics"]


def test_no_multiview_leaves_the_scores_and_their_costs_out(tmp_path):
    out = tmp_path / "ppl.json"
    perplexity.main(
        ["--smoke", "--corpora", "mc4", "--models", "zip2zip", "--no-multiview", "--out", str(out)]
    )
    (row,) = read_result(out).rows
    assert "multiview_bits_per_byte" not in row["metrics"] and "multiview_s" not in row["metrics"]
    assert "canonical_bits_per_byte" in row["metrics"] and "strict_s" in row["metrics"]


def test_a_run_narrowed_to_some_corpora_never_takes_the_default_runs_file(tmp_path, monkeypatch):
    """``--corpora mc4``: a full run of less than the default covers is tagged ``only-mc4`` (the tables render the
    default run's file, and a narrowed run must not replace it); options left at their defaults tag nothing."""
    monkeypatch.chdir(tmp_path)
    perplexity.main(["--smoke", "--corpora", "mc4", "--models", "zip2zip", "--no-multiview"])
    (out,) = (tmp_path / "results" / "perplexity").glob("*.json")
    assert out.name.startswith("smoke-") and out.name.endswith("-only-zip2zip-mc4.json")
    assert read_result(out).assets["variant"] == "only-zip2zip-mc4"


def test_a_codebook_other_than_the_checkpoints_is_scored_and_kept_in_its_own_file(tmp_path, monkeypatch):
    """``--codebook-policy lru --max-codebook-size 16``: zip2zip's codebook is that one (it fills and evicts on
    these documents), the base's stays empty, and the default file is tagged so it never replaces the main one."""
    monkeypatch.chdir(tmp_path)
    perplexity.main(["--smoke", "--corpora", "mc4", "--codebook-policy", "lru", "--max-codebook-size", "16"])
    (out,) = (tmp_path / "results" / "perplexity").glob("*.json")
    assert out.name.endswith("-lru-C16.json") and out.name.startswith("smoke-")
    result = read_result(out)
    assert result.config["codebook_policy"] == "lru" and result.config["max_codebook_size"] == 16
    compression = result.assets["models"]["zip2zip"]["compression"]
    assert (compression["codebook_policy"], compression["max_codebook_size"]) == ("lru", 16)
    assert result.assets["models"]["base"]["compression"]["max_codebook_size"] == 0
    zip2zip = next(r for r in result.rows if r["model"] == "zip2zip" and not r.get("versus"))
    assert zip2zip["metrics"]["compression_ratio"]["value"] > 1


def test_an_unknown_codebook_policy_or_an_empty_codebook_is_refused():
    with pytest.raises(ValueError, match="codebook policy"):
        perplexity.Config(codebook_policy="fifo")
    with pytest.raises(ValueError, match="max_codebook_size"):
        perplexity.Config(max_codebook_size=0)


def test_digit_protection_reaches_zip2zip_and_the_result(tmp_path, monkeypatch):
    """``--protect-digits``: zip2zip's codec disables the tokenizer's digit ids (bytes: 48..57), the base's
    codebook stays empty, the result's config says so, and the default file is tagged ``-digits``."""
    monkeypatch.chdir(tmp_path)
    perplexity.main(["--smoke", "--corpora", "mc4", "--protect-digits"])
    (out,) = (tmp_path / "results" / "perplexity").glob("*.json")
    assert out.name.endswith("-digits.json")
    result = read_result(out)
    assert result.config["protect_digits"] is True
    compression = result.assets["models"]["zip2zip"]["compression"]
    assert compression["protect_digits"] is True and set(range(48, 58)) <= set(compression["disabled_ids"])
    assert "protect_digits" not in result.assets["models"]["base"]["compression"]
