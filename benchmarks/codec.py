"""Codec throughput: ``zip2zip.codec.lzw_codec.LZWCodec`` vs the released ``zip2zip-compression`` package.

Measures encode and decode speed in base ids per second on real text: ~1 MB of CPython standard-library
source as byte-level ids (V=256) and as ids of a real tokenizer shipped offline (Llama-3 by default),
for M in {3, 4, 5} and codebook sizes {1024, 2048, 8192}, plus ``batch_encode`` of 64 x 1024 ids. Both
codecs run on the same ids in the same process, interleaved, and every figure comes with its ratio.
Outputs are also checked identical. Codebook policies (``--policies``, default ``reset,lru``): each stream
is also one long document encoded and decoded under ``freeze`` and each policy side by side (M = 3,
C = 1024 by default; rows ``encode_policies`` / ``decode_policies``), with each policy's rate relative to
``freeze`` and what it buys (compression ratio, entries created). Not measured: tokenisation time,
memory, anything involving a model.

    python -m benchmarks.codec --out results/codec/x86_64-2cpu.json
    python -m benchmarks.codec --policies none --max-subtokens 3 --max-codebook-sizes 1024
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from zip2zip.codec.config import CODEBOOK_POLICIES
from zip2zip.config_cli import Names, check_names, option
from zip2zip.data.stdlib_source import stdlib_source
from zip2zip.evaluation.results import BenchmarkResult

from ._cli import (
    check_hub_tokenizers,
    new_command_line,
    parse_args,
    print_summary,
    recorded_command,
    tokenizer_name,
)
from ._codec_cells import measure_cell, reference_python_row
from ._codec_policies import policy_rows
from ._codec_streams import load_streams
from ._progress import CellProgress
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
        ("reset", "lru"),
        "codebook policies measured against freeze on one long document per stream; none = no policy rows",
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


# What identifies a row (named by in the regression check): the stream, what was timed, and the settings.
ROW_KEYS = ("data", "operation", "max_subtokens", "max_codebook_size")


def run(config: Config, *, status: str = "full") -> BenchmarkResult:
    import zip2zip_compression as upstream  # the 'bench' extra; imported here so --help works without it

    start = time.perf_counter()
    text, text_info = stdlib_source(config.num_bytes)
    streams, assets, skipped = load_streams(config.tokenizer, text)
    assets["text"] = text_info
    cells = [(s, m, c) for s in streams for m in config.max_subtokens for c in config.max_codebook_sizes]
    rows = [reference_python_row(s, config) for s in streams]
    num_policy_cells = len(streams) if config.policies else 0
    with CellProgress("codec", total=len(cells) + num_policy_cells) as progress:
        for stream, m, c in cells:
            progress.start(f"{stream.name} M={m} C={c}")
            cell_rows = measure_cell(stream, m, c, config, upstream)
            rows.extend(cell_rows)
            progress.finish(_cell_line(cell_rows))
        for stream in streams[:num_policy_cells]:
            progress.start(f"{stream.name} policies")
            cell_rows = policy_rows(stream, config)
            rows.extend(cell_rows)
            progress.finish(_policy_line(cell_rows, config.policies))
    return BenchmarkResult(
        benchmark="codec",
        status=status,
        config=asdict(config),
        rows=rows,
        duration_s=time.perf_counter() - start,
        assets=assets,
        skipped=skipped,
    )


def _cell_line(rows: list[dict[str, Any]]) -> str:
    """``code M=3 C=2048: encode x1.52, decode x2.10 (ours / upstream)``: the live view's line of one cell."""
    first = rows[0]
    ratios = ", ".join(
        f"{r['operation']} x{r['metrics']['speedup_numpy_vs_upstream']['value']:.2f}" for r in rows
    )
    return f"{first['data']} M={first['max_subtokens']} C={first['max_codebook_size']}: {ratios} (ours / upstream)"


def _policy_line(rows: list[dict[str, Any]], policies: Sequence[str]) -> str:
    """``code policies: encode lru x0.93, decode lru x0.97 (/ freeze)``: the live view's line of one stream."""
    ratios = ", ".join(
        f"{r['operation'].removesuffix('_policies')} {p} x{r['metrics'][f'speedup_{p}_vs_freeze']['value']:.2f}"
        for r in rows
        for p in policies
    )
    return f"{rows[0]['data']} policies: {ratios} (/ freeze)"


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
