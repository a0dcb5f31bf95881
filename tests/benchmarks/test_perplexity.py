"""Byte-level perplexity: lm-eval-equal baseline scoring, corpus totals, bootstrap, held-out stand-ins."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _model_factories import VOCAB, compression, tiny_base, tiny_tokenizer, words

from benchmarks import perplexity
from zip2zip.data.eval_corpora import load_eval_corpus
from zip2zip.data.splits import is_heldout
from zip2zip.evaluation.results import read_result
from zip2zip.modeling.model import Zip2ZipPreTrainedModel


def test_baseline_bits_per_byte_equal_lm_eval_hf_model():
    lm_eval_hf = pytest.importorskip("lm_eval.models.huggingface")
    from lm_eval.api.instance import Instance

    # rows == V here: lm-eval normalises over every head row, zip2zip over the tokenizer's V ids only
    base, tok = tiny_base(vocab_size=VOCAB), tiny_tokenizer()
    documents = [words([3 + (i * 7 + j) % 40 for j in range(n)]) for i, n in enumerate((5, 37, 70))]
    max_length = 16  # several windows per document, as on real text
    hf = lm_eval_hf.HFLM(pretrained=base, tokenizer=tok, max_length=max_length, batch_size=1)
    requests = [
        Instance(request_type="loglikelihood_rolling", doc={}, arguments=(d,), idx=i)
        for i, d in enumerate(documents)
    ]
    expected = hf.loglikelihood_rolling(requests, disable_tqdm=True)

    model = Zip2ZipPreTrainedModel.from_base(base, compression=compression(max_codebook_size=0)).eval()
    config = perplexity.Config(max_length=max_length, batch_size=2)
    ids = [tok(d, add_special_tokens=False)["input_ids"] for d in documents]
    per_doc = perplexity.score_documents(
        model, ids, prefix_token=tok.bos_token_id, config=config, desc="test"
    )
    for ours, theirs, doc_ids in zip(per_doc, expected, ids, strict=True):
        assert ours["logprob"] == pytest.approx(theirs, abs=1e-3)
        assert ours["base_tokens"] == ours["steps"] == len(doc_ids)


def test_windows_cover_every_token_once():
    ids = list(range(3, 40))
    windows = perplexity.document_windows(ids, prefix_token=2, max_length=8)
    assert [t for _, continuation in windows for t in continuation] == ids
    assert windows[0][0] == [2]
    for context, continuation in windows[1:]:  # the context is the text right before the continuation
        start = ids.index(continuation[0])
        assert context == ids[start - len(context) : start]


def test_bootstrap_interval_brackets_the_corpus_value():
    rng = np.random.default_rng(0)
    nll, num_bytes = rng.uniform(50, 150, 30), rng.integers(80, 120, 30).astype(float)
    low, high = perplexity.bootstrap_bits_per_byte(nll, num_bytes, samples=500, seed=0)
    point = nll.sum() / num_bytes.sum() / math.log(2)
    assert low < point < high
    same = perplexity.bootstrap_bits_per_byte(np.full(5, 10.0), np.full(5, 4.0), samples=50, seed=0)
    assert same[0] == pytest.approx(same[1])


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
