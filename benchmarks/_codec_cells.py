"""The codec benchmark's timed comparisons: ``LZWCodec`` against the released ``zip2zip-compression`` package on
one (data, M, C) cell, and against the plain-Python reference once per stream. Both sides get the same ids,
are checked to agree before any clock is read, and alternate within each measurement (``time_interleaved``).
Apart from ``codec.py`` so the script reads as what is measured; this file is how one comparison is made.
"""

from __future__ import annotations

from typing import Any, Protocol

from zip2zip.codec import lzw
from zip2zip.codec.lzw_codec import LZWCodec
from zip2zip.evaluation.results import metric
from zip2zip.evaluation.timing import median, stdev, time_interleaved

from ._codec_streams import Stream


class CodecSettings(Protocol):
    """What the measurements (here and in ``_codec_policies``) read of ``codec.Config``: a Protocol, since
    these modules cannot import the script."""

    @property
    def num_threads(self) -> int: ...

    @property
    def num_repeats(self) -> int: ...

    @property
    def num_warmup(self) -> int: ...

    @property
    def batch_size(self) -> int: ...

    @property
    def batch_seq_len(self) -> int: ...

    @property
    def reference_python_num_ids(self) -> int: ...

    @property
    def policies(self) -> tuple[str, ...]: ...

    @property
    def policy_max_subtokens(self) -> int: ...

    @property
    def policy_max_codebook_size(self) -> int: ...


def rate_metric(num_ids: int, seconds: list[float], label: str) -> dict[str, Any]:
    """Base ids per second: ``num_ids`` over the median time, with every repeat's rate kept."""
    rates = [num_ids / s for s in seconds]
    return metric(
        num_ids / median(seconds), "base_ids/s", num_samples=len(rates), values=rates, stdev=stdev(rates)
    ) | {"label": label}


def _ratio(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    return metric(ours["value"] / theirs["value"], "x (median rate ratio, ours / upstream)", num_samples=1)


def measure_cell(
    stream: Stream, m: int, c: int, config: CodecSettings, upstream: Any
) -> list[dict[str, Any]]:
    """One (data, M, C) cell: both codecs checked equal on the stream, then encode/decode/batch rates."""
    ours = LZWCodec(
        stream.vocab_size,
        pad_token_id=stream.pad_token_id,
        max_subtokens=m,
        max_codebook_size=c,
        disabled_ids=stream.disabled_ids,
        num_threads=config.num_threads,
    )
    theirs = upstream.LZWCompressor(
        stream.vocab_size, c, m, stream.pad_token_id, sorted(ours.config.disabled_ids)
    )
    ids_list = stream.ids.tolist()
    encoded = ours.encode(stream.ids)
    codes_list = encoded.ids.tolist()
    their_codes = theirs.encode(ids_list)[0]
    if their_codes != codes_list or ours.decode(encoded.ids).tolist() != ids_list:
        raise AssertionError(
            f"{stream.name} M={m} C={c}: outputs differ from upstream; run the conformance tests"
        )
    key = {"data": stream.name, "max_subtokens": m, "max_codebook_size": c}  # ROW_KEYS but the operation
    rows = []
    for operation, samples, count in _time_operations(
        stream, config, ours, theirs, encoded, ids_list=ids_list, codes_list=codes_list
    ):
        metrics = {name: rate_metric(count, s, name) for name, s in samples.items()}
        metrics["speedup_numpy_vs_upstream"] = _ratio(metrics["ours_numpy"], metrics["upstream_list"])
        if "ours_list" in metrics:
            metrics["speedup_list_vs_upstream"] = _ratio(metrics["ours_list"], metrics["upstream_list"])
        metrics["compression_ratio"] = metric(
            encoded.compression_ratio, "base_ids/compressed_id", num_samples=1
        )
        rows.append({**key, "operation": operation, "num_base_ids": count, "metrics": metrics})
    return rows


def _time_operations(
    stream: Stream,
    config: CodecSettings,
    ours: LZWCodec,
    theirs: Any,
    encoded: Any,
    *,
    ids_list: list[int],
    codes_list: list[int],
) -> list[tuple[str, dict[str, list[float]], int]]:
    """(operation, timing samples per codec and input type, base ids per call) for encode, decode and a
    batch encode of ``batch_size`` rows; the codecs alternate within each operation (``time_interleaved``)."""
    n = len(stream.ids)
    enc = time_interleaved(
        {
            "ours_numpy": lambda: ours.encode(stream.ids),
            "ours_list": lambda: ours.encode(ids_list),
            "upstream_list": lambda: theirs.encode(ids_list),
        },
        num_repeats=config.num_repeats,
        num_warmup=config.num_warmup,
    )
    dec = time_interleaved(
        {"ours_numpy": lambda: ours.decode(encoded.ids), "upstream_list": lambda: theirs.decode(codes_list)},
        num_repeats=config.num_repeats,
        num_warmup=config.num_warmup,
    )
    batch = [
        stream.ids[i * config.batch_seq_len : (i + 1) * config.batch_seq_len]
        for i in range(config.batch_size)
    ]
    batch_lists = [b.tolist() for b in batch]
    batch_n = sum(len(b) for b in batch)
    bat = time_interleaved(
        {
            "ours_numpy": lambda: ours.batch_encode(batch),
            "ours_list": lambda: ours.batch_encode(batch_lists),
            "upstream_list": lambda: theirs.batch_encode(batch_lists, False, False, None),
        },
        num_repeats=config.num_repeats,
        num_warmup=config.num_warmup,
    )
    return [("encode", enc, n), ("decode", dec, n), ("batch_encode", bat, batch_n)]


def reference_python_row(stream: Stream, config: CodecSettings) -> dict[str, Any]:
    """The plain-Python reference, once: the baseline that justifies a compiled path."""
    codec = LZWCodec(stream.vocab_size, pad_token_id=stream.pad_token_id, disabled_ids=stream.disabled_ids)
    ids = stream.ids[: config.reference_python_num_ids]
    ids_list = ids.tolist()
    samples = time_interleaved(
        {
            "reference_python": lambda: lzw.compress(ids_list, codec.config),
            "ours_numpy": lambda: codec.encode(ids),
        },
        num_repeats=max(1, config.num_repeats // 3),
        num_warmup=1,
    )
    metrics = {name: rate_metric(len(ids), s, name) for name, s in samples.items()}
    metrics["speedup_numpy_vs_reference_python"] = metric(
        metrics["ours_numpy"]["value"] / metrics["reference_python"]["value"], "x", num_samples=1
    )
    return {
        "data": stream.name,
        "max_subtokens": 3,
        "max_codebook_size": 2048,
        "operation": "encode_reference",
        "num_base_ids": len(ids),
        "metrics": metrics,
    }
