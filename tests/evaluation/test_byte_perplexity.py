"""Byte-level perplexity of documents: the base path equals lm-eval's ``hf`` model, windows cover every id once,
and the bootstrap interval brackets the corpus value."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _model_factories import VOCAB, compression, tiny_base, tiny_tokenizer, words

from zip2zip.evaluation.byte_perplexity import bootstrap_bits_per_byte, document_windows, score_documents
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
    ids = [tok(d, add_special_tokens=False)["input_ids"] for d in documents]
    per_doc = score_documents(
        model, ids, prefix_token=tok.bos_token_id, max_length=max_length, batch_size=2, desc="test"
    )
    for ours, theirs, doc_ids in zip(per_doc, expected, ids, strict=True):
        assert ours["logprob"] == pytest.approx(theirs, abs=1e-3)
        assert ours["base_tokens"] == ours["steps"] == len(doc_ids)


def test_windows_cover_every_token_once():
    ids = list(range(3, 40))
    windows = document_windows(ids, prefix_token=2, max_length=8)
    assert [t for _, continuation in windows for t in continuation] == ids
    assert windows[0][0] == [2]
    for context, continuation in windows[1:]:  # the context is the text right before the continuation
        start = ids.index(continuation[0])
        assert context == ids[start - len(context) : start]


def test_bootstrap_interval_brackets_the_corpus_value():
    rng = np.random.default_rng(0)
    nll, num_bytes = rng.uniform(50, 150, 30), rng.integers(80, 120, 30).astype(float)
    low, high = bootstrap_bits_per_byte(nll, num_bytes, samples=500, seed=0)
    point = nll.sum() / num_bytes.sum() / math.log(2)
    assert low < point < high
    same = bootstrap_bits_per_byte(np.full(5, 10.0), np.full(5, 4.0), samples=50, seed=0)
    assert same[0] == pytest.approx(same[1])
