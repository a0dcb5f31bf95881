"""Random walks over valid codec streams and their comparison with the plain-Python reference: what
``test_codec_fuzz.py`` runs for each codebook policy, one batch per hypothesis example.

Streams are random walks over what a decoder accepts at each step: any base id, any live hypertoken,
or, where legal, the same-step id. This is what a model may emit, including hypertokens read
"non-greedily" (the pending phrase runs into them), after which a stream can hold more entries than
codes. Configs vary V, M, C (up to 2**20), the pad and disabled ids, the alphabet and the lengths;
batches vary from 1 to ``MAX_BATCH_SIZE`` streams. The reference decodes each stream while it is
drawn; ``decode`` and ``decode_with_codebook`` on each stream, and ``batch_decode`` on its batch,
must then give the same base ids, entries and entry positions (and, under ``reset`` and ``lru``, the
same history of created and removed entries). A mismatch is described by its shortest failing prefix.
Not fuzzed here: encoding and invalid streams (hypothesis properties and worked examples in
``tests/codec/test_lzw*.py`` cover those).
"""

from __future__ import annotations

import bisect
import collections
import itertools
import random
from dataclasses import dataclass

import numpy as np

from zip2zip.codec import lzw
from zip2zip.codec.config import CompressionConfig
from zip2zip.codec.lzw_codec import Decoded, LZWCodec

MAX_LENGTH = 256  # codes per stream; lengths are log-uniform up to a per-batch maximum
MAX_BATCH_SIZE = 4096  # streams per batch; sizes are log-uniform from 1 (mean 4095 / ln 4096 = 492)
NUM_THREADS = 2  # batch_decode threads (a batch above ~64k codes is split across them)
VOCAB_SIZES = (2, 3, 4, 8, 16, 50, 300, 50_000)
MAX_SUBTOKENS = (1, 2, 3, 3, 4, 5, 8, 16)
MAX_CODEBOOK_SIZES = (0, 1, 2, 3, 8, 64, 512, 4096, 2**20)
# Kinds of step; each batch draws its own weights (fuzz_batch).
KINDS = ("base", "hypertoken", "recent", "same-step", "non-greedy")


@dataclass(frozen=True)
class Reference:
    """What ``zip2zip.codec.lzw`` decodes a stream to."""

    base_ids: list[int]
    entries: list[tuple[int, ...]]
    entry_positions: list[int]
    history: list[lzw.EntryRecord]

    @classmethod
    def of(cls, codes: list[int], config: CompressionConfig) -> Reference:
        stream = lzw.LZWStream(config)
        stream.feed_many(codes)
        return cls(stream.base_ids, stream.entries, stream.entry_positions, stream.history)


def draw_config(rng: random.Random, policy: str) -> tuple[CompressionConfig, list[int]]:
    """A codec config and the alphabet of base ids its walks use (it may include disabled ids)."""
    v = rng.choice(VOCAB_SIZES)
    pad = rng.randrange(v)
    disabled = frozenset(rng.randrange(v) for _ in range(rng.choice((0, 0, 1, 3))))
    config = CompressionConfig(
        v,
        pad,
        max_subtokens=rng.choice(MAX_SUBTOKENS),
        max_codebook_size=rng.choice(MAX_CODEBOOK_SIZES),
        disabled_ids=disabled,
        codebook_policy=policy,
    )
    alphabet = rng.sample(range(v), rng.randint(1, min(v, rng.choice((2, 4, 8, 64)))))
    return config, alphabet


def random_walk(
    config: CompressionConfig, alphabet: list[int], length: int, cum_weights: list[float], rng: random.Random
) -> tuple[list[int], Reference]:
    """``length`` ids, each live when read, and the reference decoding (the walk runs the decoder).

    Under ``reset`` and ``lru`` entries are removed and ids reused, so the hypertokens a non-greedy read
    may pick are looked up among the live ones at each step (``freeze`` keeps its incremental index)."""
    v = config.initial_vocab_size
    stream = lzw.LZWStream(config)
    by_first_id: dict[int, list[int]] = {}  # first base id -> hypertoken ids starting with it
    is_frozen = config.codebook_policy == "freeze"
    codes: list[int] = []
    for _ in range(length):
        kind = KINDS[bisect.bisect(cum_weights, rng.random() * cum_weights[-1])]
        if not is_frozen and kind == "non-greedy":
            by_first_id = {}
            for k, entry in enumerate(stream.entries):
                if v + k != stream.next_hyper_id:  # the lru victim's id names the same-step entry
                    by_first_id.setdefault(entry[0], []).append(v + k)
        n = stream.num_entries
        code = -1
        if kind == "hypertoken" and n:
            code = v + rng.randrange(n)
        elif kind == "recent" and n:
            code = v + n - 1 - rng.randrange(min(n, 4))
        elif (
            kind == "same-step" and stream.same_step_entry() is not None and stream.next_hyper_id is not None
        ):
            code = stream.next_hyper_id
        elif kind == "non-greedy" and stream.pending_phrase:
            pending = stream.pending_phrase
            runs_into = [i for i in alphabet if i in by_first_id and stream.hyper_id_of((*pending, i))]
            if runs_into:
                code = rng.choice(by_first_id[rng.choice(runs_into)])
        if code >= v and kind != "same-step" and code == stream.next_hyper_id:
            code = -1  # under lru the victim's id is the same-step code, no longer the live entry
        if code < 0:
            code = rng.choice(alphabet)
        for hyper_id, entry in stream.feed(code):
            if is_frozen:
                by_first_id.setdefault(entry[0], []).append(hyper_id)
        codes.append(code)
    return codes, Reference(stream.base_ids, stream.entries, stream.entry_positions, stream.history)


def _entries_differ(decoded: Decoded, reference: Reference) -> bool:
    table, lengths = decoded.codebook.table, decoded.codebook.lengths
    flat = table[np.arange(table.shape[1]) < lengths[:, None]].tolist()
    return lengths.tolist() != [len(e) for e in reference.entries] or flat != [
        i for e in reference.entries for i in e
    ]


def single_mismatch(codec: LZWCodec, codes: list[int], reference: Reference) -> str | None:
    """How ``decode`` / ``decode_with_codebook`` differ from the reference on one stream, else None."""
    try:
        decoded = codec.decode_with_codebook(codes)
        base_ids = codec.decode(codes)
    except (ValueError, AssertionError) as exc:  # the stream is valid: any error is a mismatch
        return f"raised {type(exc).__name__}: {exc}"
    if decoded.base_ids.tolist() != reference.base_ids:
        return f"decode_with_codebook base ids {decoded.base_ids.tolist()}"
    if _entries_differ(decoded, reference):
        return f"decode_with_codebook entries {[e for _, e in decoded.codebook]}"
    if decoded.entry_positions.tolist() != reference.entry_positions:
        return f"decode_with_codebook entry positions {decoded.entry_positions.tolist()}"
    if codec.config.codebook_policy != "freeze" and decoded.history.records() != reference.history:
        return f"decode_with_codebook history {decoded.history.records()}"
    if base_ids.tolist() != reference.base_ids:
        return f"decode base ids {base_ids.tolist()}"
    return None


def batch_mismatches(codec: LZWCodec, streams: list[list[int]], references: list[Reference]) -> list[int]:
    """Indices of the streams ``batch_decode`` gets wrong (all of them if it raises)."""
    try:
        decoded = codec.batch_decode(streams)
    except (ValueError, AssertionError):
        return list(range(len(streams)))
    return [b for b, (d, r) in enumerate(zip(decoded, references, strict=True)) if d.tolist() != r.base_ids]


def _mismatch_alone(codec: LZWCodec, codes: list[int], check: str) -> str | None:
    reference = Reference.of(codes, codec.config)
    if check == "decode":
        return single_mismatch(codec, codes, reference)
    if batch_mismatches(codec, [codes], [reference]):
        try:
            return f"batch_decode base ids {codec.batch_decode([codes])[0].tolist()}"
        except (ValueError, AssertionError) as exc:
            return f"batch_decode raised {type(exc).__name__}: {exc}"
    return None


def describe_failure(codec: LZWCodec, codes: list[int], check: str) -> str:
    """The shortest prefix of ``codes`` that fails ``check`` on its own (a prefix of a valid stream is
    valid), with the config, the reference decoding and what the codec gave."""
    for n in range(len(codes) + 1):
        got = _mismatch_alone(codec, codes[:n], check)
        if got is not None:
            reference = Reference.of(codes[:n], codec.config)
            return (
                f"{check} mismatch\n  config: {codec.config.to_dict()}\n  codes: {codes[:n]}\n"
                f"  reference: base ids {reference.base_ids}, entries {reference.entries}, "
                f"entry positions {reference.entry_positions}, history {reference.history}\n  got: {got}"
            )
    return f"{check} mismatch only within its batch\n  config: {codec.config.to_dict()}\n  codes: {codes}"


# policy -> streams decoded and compared so far in this process: reported at the end of the run
# (tests/codec/conftest.py), so a run states how many streams it checked, not an estimate.
STREAMS_CHECKED: collections.Counter[str] = collections.Counter()


def fuzz_batch(
    config: CompressionConfig,
    alphabet: list[int],
    rng: random.Random,
    *,
    max_batch_size: int = MAX_BATCH_SIZE,
    num_threads: int = NUM_THREADS,
) -> str | None:
    """Decode one batch of random walks under ``config`` with the compiled codec and the reference; the first
    mismatch described (:func:`describe_failure`), else None. Step-kind weights, the longest stream and the
    batch size (log-uniform from 1) are drawn per batch, so some batches are mostly base ids, others mostly
    hypertokens, same-step ids or non-greedy reads."""
    codec = LZWCodec.from_config(config, num_threads=num_threads)
    cum_weights = list(itertools.accumulate(rng.random() ** 2 for _ in KINDS))
    max_length = rng.choice((4, 16, 64, MAX_LENGTH))
    size = int(max_batch_size ** rng.random())
    streams, references, failed = [], [], []
    for b in range(size):
        length = int((max_length + 1) ** rng.random()) - 1
        codes, reference = random_walk(config, alphabet, length, cum_weights, rng)
        streams.append(codes)
        references.append(reference)
        if single_mismatch(codec, codes, reference) is not None:
            failed.append((b, "decode"))
    failed += [(b, "batch_decode") for b in batch_mismatches(codec, streams, references)]
    STREAMS_CHECKED[config.codebook_policy] += size
    if not failed:
        return None
    b, check = failed[0]
    return describe_failure(codec, streams[b], check)
