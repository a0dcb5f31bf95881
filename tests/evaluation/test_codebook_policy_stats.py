"""``codebook_policy_stats``: uses per entry lifetime against a brute force over the reference codec's history,
``freeze`` counted as the efficiency table counts it, and long documents joined as documented."""

from __future__ import annotations

import numpy as np
import pytest

from zip2zip.codec import lzw
from zip2zip.codec.config import CompressionConfig
from zip2zip.codec.history import NO_POSITION, EntryHistory
from zip2zip.codec.lzw_codec import LZWCodec
from zip2zip.data.corpora import Corpus
from zip2zip.data.tokenizers import bytes_tokenizer
from zip2zip.evaluation import codebook_policy_stats
from zip2zip.evaluation.codebook_policy_stats import (
    PolicyTotals,
    entries_used,
    entries_used_per_document,
    join_documents,
    measure_policy_efficiency,
)
from zip2zip.evaluation.token_efficiency import measure_token_efficiency


def _history(rows: list[tuple[int, int, int | None]]) -> EntryHistory:
    """(hyper id, created at, removed at) rows of entries with V = 10, M = 2."""
    config = CompressionConfig(initial_vocab_size=10, pad_token_id=0, max_subtokens=2, max_codebook_size=4)
    return EntryHistory.of_records(config, [lzw.EntryRecord(i, (1, 2), c, r) for i, c, r in rows])


def test_worked_example_one_id_two_entries() -> None:
    """Id 10 names one entry at codes 1..2 and another from code 3 on: each is used once."""
    history = _history([(10, 1, 3), (10, 3, None)])
    assert entries_used(np.array([1, 10, 2, 10]), history).tolist() == [1, 1]


def test_an_entry_named_after_its_removal_is_a_bug() -> None:
    with pytest.raises(AssertionError, match="after its removal"):
        entries_used(np.array([1, 2, 3, 11]), _history([(10, 0, None), (11, 1, 3)]))


def _brute_force_uses(codes: list[int], records: list[lzw.EntryRecord]) -> list[int]:
    uses = [0] * len(records)
    for t, code in enumerate(codes):
        live = [
            r
            for r, rec in enumerate(records)
            if rec.hyper_id == code and rec.created_at <= t and (rec.removed_at is None or t < rec.removed_at)
        ]
        assert len(live) <= 1
        for r in live:
            uses[r] += 1
    return uses


@pytest.mark.parametrize("policy", ["freeze", "reset", "lru"])
def test_uses_equal_a_brute_force_over_the_reference_history(policy: str) -> None:
    config = CompressionConfig(
        initial_vocab_size=6, pad_token_id=5, max_subtokens=3, max_codebook_size=5, codebook_policy=policy
    )
    rng = np.random.default_rng(0)
    num_evicted = 0
    for _ in range(60):
        ids = rng.integers(0, 5, size=int(rng.integers(0, 80))).tolist()
        codes, records = lzw.compress_with_history(ids, config)
        history = EntryHistory.of_records(config, records)
        assert entries_used(np.array(codes, np.int64), history).tolist() == _brute_force_uses(codes, records)
        num_evicted += int(np.count_nonzero(history.removed_at != NO_POSITION))
    assert (num_evicted == 0) == (policy == "freeze")


def _corpus(docs: list[str]) -> Corpus:
    return Corpus("tiny", "offline", docs, ["0" * 64] * len(docs), len(docs), len(docs))


def test_freeze_counts_as_the_efficiency_table() -> None:
    tok = bytes_tokenizer()
    docs = [f"doc {i}: " + "abcab" * (i % 7 + 1) + "xyzzy" * (i % 3) for i in range(12)]
    base_ids = tok.encode_batch(docs)
    table = measure_token_efficiency(tok, _corpus(docs), base_ids, max_subtokens=3, max_codebook_size=8)
    policy = measure_policy_efficiency(
        tok,
        [len(d.encode("utf-8")) for d in docs],
        base_ids,
        max_subtokens=3,
        max_codebook_size=8,
        codebook_policy="freeze",
    )
    assert policy.num_compressed_ids == table.num_zip2zip_ids
    assert policy.num_entries_created == table.num_hypertokens_created
    assert policy.num_entries_reused == table.num_hypertokens_reused
    assert policy.num_entries_evicted == 0
    assert policy.gain_percent == table.gain_percent


def test_lru_keeps_learning_where_freeze_stops() -> None:
    """One long repetitive document and a codebook of 4: freeze fills it early; lru evicts and keeps going."""
    tok = bytes_tokenizer()
    text = "".join(f"{w} " for w in ["alpha", "beta", "gamma", "delta"] * 40)
    totals = {
        policy: measure_policy_efficiency(
            tok, [len(text)], [tok.encode(text)], max_subtokens=3, max_codebook_size=4, codebook_policy=policy
        )
        for policy in ("freeze", "lru")
    }
    assert totals["freeze"].num_entries_created == 4 and totals["freeze"].num_entries_evicted == 0
    assert totals["lru"].num_entries_evicted == totals["lru"].num_entries_created - 4 > 0


def test_a_lossy_round_trip_is_refused(monkeypatch) -> None:
    monkeypatch.setattr(LZWCodec, "batch_decode", lambda self, codes: [np.zeros(3, dtype=np.int64)])
    tok = bytes_tokenizer()
    with pytest.raises(AssertionError, match="doc 0 \\(lru\\): LZW round trip changed the ids"):
        measure_policy_efficiency(
            tok, [8], [tok.encode("abababab")], max_subtokens=3, max_codebook_size=8, codebook_policy="lru"
        )


def test_no_entry_means_no_reuse_fraction() -> None:
    with pytest.raises(ValueError, match="no entry was created"):
        _ = PolicyTotals().entry_reuse_fraction


def test_join_documents_worked_example() -> None:
    """Lengths [3, 2, 4, 1], at least 4 -> [5, 5]: the tail of 1 joins the last document."""
    ids = [[1] * 3, [2] * 2, [3] * 4, [4]]
    joined_bytes, joined_ids = join_documents([30, 20, 40, 10], ids, min_base_tokens=4)
    assert joined_bytes == [50, 50]
    assert joined_ids == [[1, 1, 1, 2, 2], [3, 3, 3, 3, 4]]
    assert join_documents([30], [[1] * 3], min_base_tokens=4) == ([], [])


@pytest.mark.parametrize("max_key", [2**62, 1], ids=["one-pass", "one-document-at-a-time"])
@pytest.mark.parametrize("policy", ["freeze", "reset", "lru"])
def test_uses_per_document_equal_a_brute_force_per_document(
    policy: str, max_key: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many documents at once (same ids in each, so documents must be told apart) as one by one."""
    monkeypatch.setattr(codebook_policy_stats, "_MAX_KEY", max_key)
    config = CompressionConfig(
        initial_vocab_size=6, pad_token_id=5, max_subtokens=3, max_codebook_size=5, codebook_policy=policy
    )
    rng = np.random.default_rng(1)
    codes, histories, expected = [], [], []
    for _ in range(40):
        ids = rng.integers(0, 5, size=int(rng.integers(0, 80))).tolist()
        doc_codes, records = lzw.compress_with_history(ids, config)
        codes.append(np.array(doc_codes, np.int64))
        histories.append(EntryHistory.of_records(config, records))
        expected.append(_brute_force_uses(doc_codes, records))
    assert [u.tolist() for u in entries_used_per_document(codes, histories)] == expected
    assert entries_used_per_document([], []) == []
