"""Token efficiency of one (tokenizer, corpus) cell: every document LZW-compressed with a fresh codebook.

The counting and the ratios are ``zip2zip.evaluation.metrics.EfficiencyTotals``; this module only runs the
codec over a sample (in chunks, so the padded batch stays small) and refuses a lossy round trip, so a codec
bug can never surface as a better-looking gain. It does not tokenize: the caller passes the base ids.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from zip2zip.codec.lzw_codec import LZWCodec
from zip2zip.data.corpora import Corpus
from zip2zip.data.tokenizers import Tokenizer
from zip2zip.evaluation.metrics import EfficiencyTotals

_CHUNK_DOCS = 32  # documents per batch_encode call: bounds the padded [batch, len] array


def measure_token_efficiency(
    tok: Tokenizer,
    corpus: Corpus,
    base_ids: Sequence[np.ndarray],
    *,
    max_subtokens: int,
    max_codebook_size: int,
    protected_ids: frozenset[int] = frozenset(),
) -> EfficiencyTotals:
    """Compress every document of ``corpus`` (``base_ids``: its ids under ``tok``, one array per document) and
    count; the tokenizer's special ids and ``protected_ids`` (e.g. its digit-bearing ids,
    ``zip2zip.codec.digits``) are never merged. Raises ``AssertionError`` if a round trip changes ids.
    """
    codec = LZWCodec(
        tok.vocab_size,
        pad_token_id=tok.pad_token_id,
        max_subtokens=max_subtokens,
        max_codebook_size=max_codebook_size,
        disabled_ids=tok.special_ids | protected_ids,
    )
    totals = EfficiencyTotals(vocab_size=tok.vocab_size)
    doc_bytes = [len(d.encode("utf-8")) for d in corpus.docs]
    for lo in range(0, len(base_ids), _CHUNK_DOCS):
        chunk = base_ids[lo : lo + _CHUNK_DOCS]
        batch = codec.batch_encode(chunk)
        decoded = codec.batch_decode(batch.ids, batch.attention_mask)
        for b, ids in enumerate(chunk):
            if not np.array_equal(decoded[b], np.asarray(ids, dtype=np.int64)):
                raise AssertionError(f"{tok.name}/{corpus.name} doc {lo + b}: LZW round trip changed the ids")
            codes = batch.ids[b][batch.attention_mask[b].astype(bool)]
            totals.add_document(doc_bytes[lo + b], len(ids), codes, batch.codebooks[b])
    return totals
