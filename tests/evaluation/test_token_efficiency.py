"""``measure_token_efficiency``: per-document fresh codebooks across chunk boundaries, and a lossy codec refused."""

from __future__ import annotations

import numpy as np
import pytest

from zip2zip.codec.lzw_codec import LZWCodec
from zip2zip.data.corpora import Corpus
from zip2zip.data.tokenizers import bytes_tokenizer
from zip2zip.evaluation.token_efficiency import measure_token_efficiency


def _corpus(docs: list[str]) -> Corpus:
    return Corpus("tiny", "offline", docs, ["0" * 64] * len(docs), len(docs), len(docs))


def test_counts_equal_one_fresh_codebook_per_document() -> None:
    """40 documents (more than one chunk of 32): the totals are those of encoding each document alone."""
    tok = bytes_tokenizer()
    docs = [f"doc {i}: " + "abcab" * (i % 7 + 1) + "é" for i in range(40)]
    base_ids = tok.encode_batch(docs)
    totals = measure_token_efficiency(tok, _corpus(docs), base_ids, max_subtokens=3, max_codebook_size=16)
    codec = LZWCodec(258, pad_token_id=256, max_subtokens=3, max_codebook_size=16, disabled_ids={256, 257})
    encoded = [codec.encode(ids) for ids in base_ids]
    assert totals.num_docs == 40
    assert totals.num_bytes == sum(len(d.encode("utf-8")) for d in docs)
    assert totals.num_base_tokens == sum(len(ids) for ids in base_ids)
    assert totals.num_zip2zip_ids == sum(len(e.ids) for e in encoded)
    assert totals.num_hypertokens_created == sum(e.codebook.num_entries for e in encoded)


def test_a_lossy_round_trip_is_refused(monkeypatch) -> None:
    tok = bytes_tokenizer()
    docs = ["abababab", "cdcdcdcd"]

    def lossy(self, sequences, attention_mask=None):
        return [np.zeros(3, dtype=np.int64) for _ in sequences]

    monkeypatch.setattr(LZWCodec, "batch_decode", lossy)
    with pytest.raises(AssertionError, match="bytes/tiny doc 0: LZW round trip changed the ids"):
        measure_token_efficiency(
            tok, _corpus(docs), tok.encode_batch(docs), max_subtokens=3, max_codebook_size=8
        )
