"""Codec fuzz: the compiled ``LZWCodec`` decoder against the plain-Python reference ``zip2zip.codec.lzw``,
for each codebook policy in turn (``--policies``, default all: ``--streams`` streams per policy).

Streams are random walks over what a decoder accepts at each step: any base id, any live hypertoken,
or, where legal, the same-step id. This is what a model may emit, including hypertokens read
"non-greedily" (the pending phrase runs into them), after which a stream can hold more entries than
codes. Configs vary V, M, C (up to 2**20), the pad and disabled ids, the alphabet and the lengths;
batches vary from 1 to ``--max-batch-size`` streams. The reference decodes each stream while it is
drawn; ``decode`` and ``decode_with_codebook`` on each stream, and ``batch_decode`` on its batch,
must then give the same base ids, entries and entry positions (and, under ``reset`` and ``lru``, the
same history of created and removed entries). Any mismatch is counted, the first one is printed
(shortest failing prefix), and the exit status is 1. Not fuzzed here: encoding and invalid streams
(hypothesis properties and worked examples in ``tests/test_lzw*.py`` cover those). ``freeze`` draws
exactly the streams it drew before policies existed (same seed, same streams).

    python -m benchmarks.codec_fuzz --streams 1000000 --seed 0
    python -m benchmarks.codec_fuzz --streams 100000 --policies lru,reset
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from zip2zip.codec import lzw
from zip2zip.codec.config import CODEBOOK_POLICIES, CompressionConfig
from zip2zip.codec.lzw_codec import Decoded, LZWCodec

from ._cli import comma_list_of

VOCAB_SIZES = (2, 3, 4, 8, 16, 50, 300, 50_000)
MAX_SUBTOKENS = (1, 2, 3, 3, 4, 5, 8, 16)
MAX_CODEBOOK_SIZES = (0, 1, 2, 3, 8, 64, 512, 4096, 2**20)
# Kinds of step; each batch draws its own weights, so some walks are mostly base ids, others mostly
# hypertokens, same-step ids or non-greedy reads.
KINDS = ("base", "hypertoken", "recent", "same-step", "non-greedy")


@dataclass(frozen=True)
class Config:
    """Per policy, one config and one batch after another until ``num_streams``; every choice comes from
    ``seed`` (and the policy's name)."""

    num_streams: int = 1_000_000  # per policy
    seed: int = 0
    max_length: int = 256  # codes per stream; lengths are log-uniform up to a per-batch maximum
    max_batch_size: int = 4096  # batch sizes are log-uniform from 1
    num_threads: int = 2  # batch_decode threads (a batch above ~64k codes is split across them)
    policies: tuple[str, ...] = CODEBOOK_POLICIES

    def __post_init__(self) -> None:
        # 0 streams checks nothing; batches of 0 streams never end
        for name, flag in (("num_streams", "--streams"), ("max_batch_size", "--max-batch-size")):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} ({flag}) must be >= 1")


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


@dataclass
class Report:
    """Counts of one policy's run and the first failing case, as printed."""

    policy: str
    num_streams: int = 0
    num_codes: int = 0
    num_configs: int = 0  # one batch per config
    num_mismatches: int = 0  # streams with at least one wrong result
    first_failure: str | None = None
    duration_s: float = 0.0


def draw_config(rng: random.Random, policy: str = "freeze") -> tuple[CompressionConfig, list[int]]:
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


def run(config: Config, *, progress: bool = True) -> list[Report]:
    """One report per policy, in ``config.policies`` order."""
    return [run_policy(config, policy, progress=progress) for policy in config.policies]


def run_policy(config: Config, policy: str, *, progress: bool = True) -> Report:
    """``config.num_streams`` streams under one policy. ``freeze`` draws from ``seed`` alone, as before
    policies existed; the others from the seed and their name."""
    start = time.perf_counter()
    rng = random.Random(config.seed if policy == "freeze" else f"{config.seed}-{policy}")
    report = Report(policy)
    with tqdm(total=config.num_streams, unit="stream", desc=policy, disable=not progress) as bar:
        while report.num_streams < config.num_streams:
            codec_config, alphabet = draw_config(rng, policy)
            codec = LZWCodec.from_config(codec_config, num_threads=config.num_threads)
            cum_weights = list(itertools.accumulate(rng.random() ** 2 for _ in KINDS))
            max_length = rng.choice((4, 16, 64, config.max_length))
            size = min(int(config.max_batch_size ** rng.random()), config.num_streams - report.num_streams)
            streams, references, failed = [], [], []
            for b in range(size):
                length = int((max_length + 1) ** rng.random()) - 1
                codes, reference = random_walk(codec_config, alphabet, length, cum_weights, rng)
                streams.append(codes)
                references.append(reference)
                if single_mismatch(codec, codes, reference) is not None:
                    failed.append((b, "decode"))
            failed += [(b, "batch_decode") for b in batch_mismatches(codec, streams, references)]
            if failed and report.first_failure is None:
                b, check = failed[0]
                report.first_failure = describe_failure(codec, streams[b], check)
                tqdm.write(report.first_failure)
            report.num_streams += size
            report.num_codes += sum(len(s) for s in streams)
            report.num_configs += 1
            report.num_mismatches += len({b for b, _ in failed})
            bar.update(size)
            bar.set_postfix(mismatches=report.num_mismatches, refresh=False)
    report.duration_s = time.perf_counter() - start
    return report


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.codec_fuzz",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    defaults = Config()
    parser.add_argument(
        "--streams",
        type=int,
        default=defaults.num_streams,
        help="streams to check per policy (default 1,000,000)",
    )
    parser.add_argument(
        "--policies",
        type=comma_list_of(CODEBOOK_POLICIES, kind="codebook policy"),
        default=defaults.policies,
        help=f"comma list of codebook policies to fuzz, one after the other (default {','.join(CODEBOOK_POLICIES)})",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of every random choice (0)")
    parser.add_argument(
        "--max-length", type=int, default=defaults.max_length, help="longest stream, in codes (default 256)"
    )
    parser.add_argument(
        "--max-batch-size", type=int, default=defaults.max_batch_size, help="most streams per batch (4096)"
    )
    parser.add_argument("--threads", type=int, default=defaults.num_threads, help="batch_decode threads (2)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        config = Config(
            args.streams, args.seed, args.max_length, args.max_batch_size, args.threads, args.policies
        )
    except ValueError as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    reports = run(config, progress=not args.no_progress)
    for report in reports:
        print(
            f"{report.policy}: checked {report.num_streams:,} streams ({report.num_codes:,} codes, "
            f"{report.num_configs:,} configs) against zip2zip.codec.lzw: {report.num_mismatches:,} mismatches "
            f"[seed {config.seed}, {report.duration_s:.1f} s]"
        )
    if any(report.num_mismatches for report in reports):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
