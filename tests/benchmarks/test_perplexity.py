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
