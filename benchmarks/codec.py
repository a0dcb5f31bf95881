"""Codec throughput: ``zip2zip.codec.lzw_codec.LZWCodec`` vs the released ``zip2zip-compression`` package.

Measures encode and decode speed in base ids per second on real text: ~1 MB of CPython standard-library
source as byte-level ids (V=256) and as ids of a real tokenizer shipped offline (Llama-3 by default),
for M in {3, 4, 5} and codebook sizes {1024, 2048, 8192}, plus ``batch_encode`` of 64 x 1024 ids. Both
codecs run on the same ids in the same process, interleaved, and every figure comes with its ratio.
Outputs are also checked identical. Codebook policies (``--policies reset,lru``): each stream is also
one long document encoded and decoded under ``freeze`` and each policy side by side (M = 3, C = 1024 by
default; rows ``encode_policies`` / ``decode_policies``), with each policy's rate relative to ``freeze``
and what it buys (compression ratio, entries created). They are opt-in so that the regression preset
and its committed baseline keep their rows. Not measured: tokenisation time, memory, anything
involving a model.

    python -m benchmarks.codec --out results/codec/x86_64-2cpu.json
    python -m benchmarks.codec --policies reset,lru --max-subtokens 3 --max-codebook-sizes 1024
"""

from __future__ import annotations

import functools
import hashlib
import sysconfig
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from zip2zip.codec import lzw
from zip2zip.codec.config import CODEBOOK_POLICIES
from zip2zip.codec.lzw_codec import LZWCodec
from zip2zip.config_cli import Names, check_names, option
from zip2zip.evaluation.results import BenchmarkResult, metric
from zip2zip.evaluation.timing import median, stdev, time_interleaved

from ._cli import (
    check_hub_tokenizers,
    new_command_line,
    parse_args,
    print_summary,
    recorded_command,
    tokenizer_name,
)
from ._result_file import ResultFile


@dataclass(frozen=True)
class Config:
    """Defaults are the full run; ``smoke()`` is a seconds-long variant for tests."""

    num_bytes: int = option(1_000_000, "bytes of standard-library source")
    tokenizer: str = option(
        "llama3", "tokenizer registry name (or Hugging Face id) for the second stream", parse=tokenizer_name
    )
    max_subtokens: tuple[int, ...] = option((3, 4, 5), "M values")
    max_codebook_sizes: tuple[int, ...] = option((1024, 2048, 8192), "codebook sizes")
    batch_size: int = option(64, "rows of the batch_encode measurement")
    batch_seq_len: int = option(1024, "ids per row of the batch_encode measurement")
    num_repeats: int = option(7, "timed repeats per measurement")
    num_warmup: int = option(1, "untimed runs before each measurement")
    num_threads: int = option(2, "threads for batch_encode")
    reference_python_num_ids: int = option(100_000, "ids encoded by the plain-Python reference")
    policies: tuple[str, ...] = option(
        (),
        "codebook policies measured against freeze on one long document per stream (e.g. reset,lru)",
        parse=Names("codebook policy", tuple(CODEBOOK_POLICIES), allow_empty=True),
    )
    policy_max_subtokens: int = option(3, "M of the codebook-policy rows")
    policy_max_codebook_size: int = option(1024, "C of the codebook-policy rows")

    def __post_init__(self) -> None:
        if not self.max_subtokens or min(self.max_subtokens) < 2:
            raise ValueError(
                f"max_subtokens={self.max_subtokens}: give values >= 2 (a hypertoken merges 2+ ids)"
            )
        if not self.max_codebook_sizes or min(self.max_codebook_sizes) < 1:
            raise ValueError(f"max_codebook_sizes={self.max_codebook_sizes}: give values >= 1")
        for name in ("num_bytes", "batch_size", "batch_seq_len", "num_repeats", "reference_python_num_ids"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be >= 1")
        check_names(self)
        for policy in self.policies:
            if policy == "freeze":
                raise ValueError(
                    f"policies={self.policies}: freeze is what every other policy is measured against"
                )
        if self.policy_max_subtokens < 2 or self.policy_max_codebook_size < 1:
            raise ValueError(
                f"policy_max_subtokens={self.policy_max_subtokens}, policy_max_codebook_size="
                f"{self.policy_max_codebook_size}: give M >= 2 and C >= 1"
            )

    @classmethod
    def smoke(cls) -> Config:
        return cls(
            num_bytes=20_000,
            max_subtokens=(3,),
            max_codebook_sizes=(2048,),
            batch_size=8,
            batch_seq_len=256,
            num_repeats=2,
            reference_python_num_ids=2_000,
            policies=("reset", "lru"),
        )


def stdlib_source(num_bytes: int) -> tuple[bytes, dict[str, Any]]:
    """The first ``num_bytes`` of the interpreter's top-level ``*.py`` standard-library files, sorted by name."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    chunks, total, files = [], 0, 0
    for path in sorted(stdlib.glob("*.py")):
        chunks.append(path.read_bytes())
        total += len(chunks[-1])
        files += 1
        if total >= num_bytes:
            break
    data = b"".join(chunks)[:num_bytes]
    if len(data) < num_bytes:
        raise ValueError(f"only {len(data)} bytes of standard-library source found; lower --num-bytes")
    return data, {
        "source": "CPython standard library *.py",
        "num_files": files,
        "num_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


@dataclass(frozen=True)
class _Stream:
    name: str
    ids: np.ndarray
    vocab_size: int
    pad_token_id: int
    disabled_ids: frozenset[int]


def _streams(config: Config, text: bytes) -> tuple[list[_Stream], dict[str, Any], list[dict[str, str]]]:
    streams = [_Stream("bytes", np.frombuffer(text, np.uint8).astype(np.int64), 256, 0, frozenset())]
    assets: dict[str, Any] = {}
    skipped: list[dict[str, str]] = []
    try:
        from zip2zip.data.tokenizers import get_tokenizer

        tok = get_tokenizer(config.tokenizer)
    except ImportError as exc:  # MissingAssetError names the package to install
        skipped.append({"name": f"tokenizer:{config.tokenizer}", "reason": str(exc)})
    except ValueError as exc:  # a hub id while the hub is unreachable (main checked the name)
        skipped.append({"name": f"tokenizer:{config.tokenizer}", "reason": str(exc)})
    else:
        ids = np.array(tok.encode(text.decode("utf-8", errors="replace")), np.int64)
        streams.append(_Stream(tok.name, ids, tok.vocab_size, tok.pad_token_id, tok.special_ids))
        assets[f"tokenizer:{tok.name}"] = tok.provenance
    return streams, assets, skipped


def _rate(num_ids: int, seconds: list[float], label: str) -> dict[str, Any]:
    rates = [num_ids / s for s in seconds]
    return metric(
        num_ids / median(seconds), "base_ids/s", num_samples=len(rates), values=rates, stdev=stdev(rates)
    ) | {"label": label}


def _ratio(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    return metric(ours["value"] / theirs["value"], "x (median rate ratio, ours / upstream)", num_samples=1)


# What identifies a row (named by in the regression check): the stream, what was timed, and the settings.
ROW_KEYS = ("data", "operation", "max_subtokens", "max_codebook_size")


def _measure_cell(stream: _Stream, m: int, c: int, config: Config, upstream: Any) -> list[dict[str, Any]]:
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
        metrics = {name: _rate(count, s, name) for name, s in samples.items()}
        metrics["speedup_numpy_vs_upstream"] = _ratio(metrics["ours_numpy"], metrics["upstream_list"])
        if "ours_list" in metrics:
            metrics["speedup_list_vs_upstream"] = _ratio(metrics["ours_list"], metrics["upstream_list"])
        metrics["compression_ratio"] = metric(
            encoded.compression_ratio, "base_ids/compressed_id", num_samples=1
        )
        rows.append({**key, "operation": operation, "num_base_ids": count, "metrics": metrics})
    return rows


def _time_operations(
    stream: _Stream,
    config: Config,
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


def _policy_rows(stream: _Stream, config: Config) -> list[dict[str, Any]]:
    """The stream as one long document under freeze and each policy, side by side: encode and decode
    rates, each policy's rate over freeze's (``speedup_<policy>_vs_freeze``, below 1 means slower), and
    its compression ratio and entries created (ever, evicted ones included)."""
    policies = ("freeze", *config.policies)
    codecs = {
        p: LZWCodec(
            stream.vocab_size,
            pad_token_id=stream.pad_token_id,
            max_subtokens=config.policy_max_subtokens,
            max_codebook_size=config.policy_max_codebook_size,
            disabled_ids=stream.disabled_ids,
            codebook_policy=p,
            num_threads=1,
        )
        for p in policies
    }
    encoded = {p: codec.encode(stream.ids) for p, codec in codecs.items()}
    for p, codec in codecs.items():
        if not np.array_equal(codec.decode(encoded[p].ids), stream.ids):
            raise AssertionError(f"{stream.name} {p}: decode(encode(ids)) != ids; run the codec tests")
    timings = {
        "encode_policies": time_interleaved(
            {f"ours_{p}": functools.partial(codec.encode, stream.ids) for p, codec in codecs.items()},
            num_repeats=config.num_repeats,
            num_warmup=config.num_warmup,
        ),
        "decode_policies": time_interleaved(
            {f"ours_{p}": functools.partial(codec.decode, encoded[p].ids) for p, codec in codecs.items()},
            num_repeats=config.num_repeats,
            num_warmup=config.num_warmup,
        ),
    }
    n = len(stream.ids)
    rows = []
    for operation, samples in timings.items():
        metrics = {name: _rate(n, s, name) for name, s in samples.items()}
        for p in policies:
            if p != "freeze":
                metrics[f"speedup_{p}_vs_freeze"] = metric(
                    metrics[f"ours_{p}"]["value"] / metrics["ours_freeze"]["value"],
                    f"x (median rate ratio, {p} / freeze)",
                    num_samples=1,
                )
            metrics[f"{p}_compression_ratio"] = metric(
                encoded[p].compression_ratio, "base_ids/compressed_id", num_samples=1
            )
            metrics[f"num_entries_created_{p}"] = metric(
                len(encoded[p].history.hyper_ids), "entries", num_samples=1
            )
        rows.append(
            {
                "data": stream.name,
                "operation": operation,
                "max_subtokens": config.policy_max_subtokens,
                "max_codebook_size": config.policy_max_codebook_size,
                "num_base_ids": n,
                "metrics": metrics,
            }
        )
    return rows


def _reference_python_row(stream: _Stream, config: Config) -> dict[str, Any]:
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
    metrics = {name: _rate(len(ids), s, name) for name, s in samples.items()}
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


def run(config: Config, *, status: str = "full") -> BenchmarkResult:
    import zip2zip_compression as upstream  # the 'bench' extra; imported here so --help works without it

    start = time.perf_counter()
    text, text_info = stdlib_source(config.num_bytes)
    streams, assets, skipped = _streams(config, text)
    assets["text"] = text_info
    cells = [(s, m, c) for s in streams for m in config.max_subtokens for c in config.max_codebook_sizes]
    rows = [_reference_python_row(s, config) for s in streams]
    for stream, m, c in tqdm(cells, desc="codec cells", unit="cell"):
        rows.extend(_measure_cell(stream, m, c, config, upstream))
    if config.policies:
        for stream in tqdm(streams, desc="codebook policies", unit="stream"):
            rows.extend(_policy_rows(stream, config))
    return BenchmarkResult(
        benchmark="codec",
        status=status,
        config=asdict(config),
        rows=rows,
        duration_s=time.perf_counter() - start,
        assets=assets,
        skipped=skipped,
    )


def _summary_lines(result: BenchmarkResult) -> list[str]:
    lines = [f"{'data':<8} {'op':<16} {'M':>2} {'C':>5}  {'ours M/s':>9} {'upstream M/s':>12}  ratio"]
    for row in result.rows:
        m = row["metrics"]
        if row["operation"].endswith("_policies"):
            lines.append(
                f"{row['data']:<8} {row['operation']:<16} {row['max_subtokens']:>2} {row['max_codebook_size']:>5}  "
                + "  ".join(
                    f"{p} {m[f'ours_{p}']['value'] / 1e6:.1f} M/s"
                    + (f" ({m[f'speedup_{p}_vs_freeze']['value']:.2f}x)" if p != "freeze" else "")
                    + f" ratio {m[f'{p}_compression_ratio']['value']:.3f}"
                    for p in ("freeze", *result.config["policies"])
                )
            )
            continue
        ours = m["ours_numpy"]["value"] / 1e6
        if "upstream_list" in m:
            ratio = m["speedup_numpy_vs_upstream"]["value"]
            lines.append(
                f"{row['data']:<8} {row['operation']:<16} {row['max_subtokens']:>2} {row['max_codebook_size']:>5}"
                f"  {ours:9.1f} {m['upstream_list']['value'] / 1e6:12.1f}  {ratio:5.2f}x"
            )
        else:
            ratio = m["speedup_numpy_vs_reference_python"]["value"]
            lines.append(
                f"{row['data']:<8} {'vs pure Python':<16} {'':>2} {'':>5}  {ours:9.1f} "
                f"{m['reference_python']['value'] / 1e6:12.1f}  {ratio:5.1f}x (reference_python)"
            )
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    command = new_command_line("codec", Config, __doc__)
    parsed = parse_args(command, argv)
    check_hub_tokenizers(command, [parsed.config.tokenizer])
    results = ResultFile.for_args(
        command.parser, parsed.args, benchmark="codec", config=asdict(parsed.config), row_keys=ROW_KEYS
    )
    result = run(parsed.config, status="smoke" if parsed.args.smoke else "full")
    result.command = recorded_command("codec", parsed)
    results.write(result)
    print_summary(result, _summary_lines(result), results.out)


if __name__ == "__main__":
    main()
