"""Token efficiency (the paper's first table): UTF-8 bytes per token, base tokenizer vs zip2zip.

For each tokenizer (Llama-3 128K, Qwen-2 150K, Phi-4 200K = o200k, Gemma-3 256K) and domain (code, math,
chat, multilingual, web), the same sampled documents are tokenized, then LZW-compressed per document with a
fresh codebook (M = ``max_subtokens``, ``max_codebook_size`` entries, the tokenizer's special ids disabled).
Reported per cell, as ratios of totals over the domain: bytes per base token, bytes per compressed id
(base ids + hypertokens), the gain in %, how many hypertokens were created and which fraction was used
again after creation (the paper: ~25%), and the most used hypertokens decoded to text. With ``--sweep``
(on by default in the full run) gains are also measured over M and over the codebook size for one tokenizer,
and over the codebook policy (freeze, reset, lru) x codebook size, on the usual documents and on long ones
(each domain's documents joined), with entries created, reused while live and evicted
(``_efficiency_policies.py``). ``--protect-digits-variant`` (on in ``nox -s efficiency``) measures each main cell
again with the tokenizer's digit ids never merged (zip2zip++'s digit protection, ``_efficiency_digits.py``).

Real tokenizers and real text only, offline (see ``zip2zip.data.tokenizers`` / ``zip2zip.data.corpora``); the hub
datasets are used when reachable. Not measured: any model, speed, or perplexity. Every compressed stream is
decompressed and checked equal to its input.

    python -m benchmarks.efficiency --out results/efficiency/cpu-x86_64-2cores.json
    python -m benchmarks.efficiency --smoke --out /tmp/efficiency.json
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from zip2zip.codec.config import CODEBOOK_POLICIES
from zip2zip.codec.digits import digit_bearing_ids
from zip2zip.codec.kernel_warmup import compiling_policy_kernels
from zip2zip.config_cli import Names, check_names, option
from zip2zip.data.corpora import CORPORA, SOURCES
from zip2zip.data.tokenizers import TOKENIZERS
from zip2zip.evaluation.results import BenchmarkResult

from ._cli import (
    add_resume_argument,
    check_at_least,
    check_hub_tokenizers,
    new_command_line,
    parse_args,
    run_and_write,
    tokenizer_name,
)
from ._efficiency_cells import cell_rows
from ._efficiency_corpora import load_corpora
from ._efficiency_digits import PROTECT_DIGITS
from ._efficiency_policies import policy_cells, policy_rows
from ._efficiency_summary import cell_line, summary_lines
from ._efficiency_tokenizers import load_tokenizer, tokenizer_assets
from ._progress import CellProgress


@dataclass(frozen=True)
class Config:
    """Defaults are the paper's settings (M = 3) plus our offline sampling; ``smoke()`` runs in seconds."""

    tokenizers: tuple[str, ...] = option(
        ("llama3", "qwen2", "phi4", "gemma3"),
        f"tokenizers compared (known: {','.join(TOKENIZERS)}, or Hugging Face ids)",
        parse=tokenizer_name,
    )
    corpora: tuple[str, ...] = option(
        ("code", "math", "chat", "multilingual", "web"), "text domains", parse=Names("corpus", tuple(CORPORA))
    )
    max_subtokens: int = option(3, "M, base ids per hypertoken at most")
    max_codebook_size: int = option(2048, "hypertokens per document at most")
    num_docs: int = option(400, "documents per domain")
    max_total_bytes: int = option(2_000_000, "byte budget per domain")
    min_doc_bytes: int = option(2048, "short items are grouped up to this size")
    max_doc_bytes: int = option(16384, "longer documents are cut to this size")
    seed: int = option(0, "sampling seed")
    corpus_source: str = option(
        "auto", "auto (hub if reachable, else offline), hub or offline", parse=Names("corpus source", SOURCES)
    )
    sweep_tokenizer: str = option(
        "llama3", "one of --tokenizers, for the M / codebook-size sweep", parse=tokenizer_name
    )
    sweep_max_subtokens: tuple[int, ...] = option(
        (2, 3, 4, 5, 6), "M values of the sweep, at --max-codebook-size ('' = none)"
    )
    sweep_max_codebook_sizes: tuple[int, ...] = option(
        (256, 512, 1024, 2048, 4096, 8192, 16384),
        "codebook sizes of the sweep, at --max-subtokens ('' = none)",
    )
    policy_sweep_policies: tuple[str, ...] = option(
        CODEBOOK_POLICIES,
        "codebook policies of the policy sweep (--sweep-tokenizer, M = --max-subtokens)",
        parse=Names("codebook policy", CODEBOOK_POLICIES, allow_empty=True),
    )
    policy_sweep_max_codebook_sizes: tuple[int, ...] = option(
        (64, 128, 256, 512, 1024, 2048, 4096), "codebook sizes of the policy sweep ('' = no policy sweep)"
    )
    long_doc_min_base_tokens: int = option(
        16384, "the policy sweep's long documents: a domain's documents joined to at least this many base ids"
    )
    num_top_hypertokens: int = option(10, "most used hypertokens listed per cell, decoded to text")
    protect_digits_variant: bool = option(False, "also measure main cells with digit ids never merged")

    def __post_init__(self) -> None:
        if self.max_subtokens < 2:
            raise ValueError(f"max_subtokens={self.max_subtokens}: a hypertoken merges at least 2 base ids")
        check_names(self)
        if not self.tokenizers:
            raise ValueError("tokenizers=() (--tokenizers): give at least one tokenizer")
        check_at_least(self, 2, "sweep_max_subtokens", hint=": a hypertoken merges at least 2 base ids")
        check_at_least(
            self,
            1,
            "max_codebook_size",
            "sweep_max_codebook_sizes",
            "policy_sweep_max_codebook_sizes",
            "long_doc_min_base_tokens",
            "num_docs",
            "max_total_bytes",
            "max_doc_bytes",
        )
        check_at_least(self, 0, "min_doc_bytes", "num_top_hypertokens")
        if self.max_doc_bytes < self.min_doc_bytes:
            raise ValueError(
                f"max_doc_bytes={self.max_doc_bytes} is below min_doc_bytes={self.min_doc_bytes}: every "
                "document would be cut shorter than the shortest allowed; raise --max-doc-bytes"
            )

    @classmethod
    def smoke(cls) -> Config:
        return cls(
            tokenizers=("llama3",),
            corpora=("code", "web"),
            num_docs=2,
            max_total_bytes=20_000,
            min_doc_bytes=1024,
            max_doc_bytes=4096,
            corpus_source="offline",
            sweep_max_subtokens=(2, 3),
            sweep_max_codebook_sizes=(256,),
            policy_sweep_max_codebook_sizes=(64,),
            long_doc_min_base_tokens=600,
        )


Cell = tuple[str, int, int]  # (setting, M, codebook size) of the efficiency table and its M / size sweep
PolicyCell = tuple[str, int, int, str, str]  # ... plus (policy, doc length) of the policy sweep


def _settings(config: Config, tokenizer: str) -> list[Cell]:
    """The main cell (and its digit-protection variant), plus the sweeps for the sweep tokenizer."""
    out = [("main", config.max_subtokens, config.max_codebook_size)]
    if config.protect_digits_variant:
        out.append((PROTECT_DIGITS, config.max_subtokens, config.max_codebook_size))
    if tokenizer == config.sweep_tokenizer:
        out += [("sweep_max_subtokens", m, config.max_codebook_size) for m in config.sweep_max_subtokens]
        out += [("sweep_codebook_size", config.max_subtokens, c) for c in config.sweep_max_codebook_sizes]
    return out


def _policy_settings(config: Config, tokenizer: str) -> list[PolicyCell]:
    """The policy sweep's cells, for the sweep tokenizer only."""
    if tokenizer != config.sweep_tokenizer:
        return []
    return policy_cells(
        config.policy_sweep_policies, config.policy_sweep_max_codebook_sizes, config.max_subtokens
    )


# What identifies a row (resumed by, named by in the regression check): one cell and one setting; ``policy``
# and ``doc_length`` only in the policy sweep's rows (the other rows are ``freeze`` on the usual documents).
ROW_KEYS = ("tokenizer", "corpus", "setting", "max_subtokens", "max_codebook_size", "policy", "doc_length")
_KEYS_OF_EVERY_ROW = ROW_KEYS[:5]


def _key(row: dict[str, Any]) -> tuple[Any, ...]:
    """The row's ROW_KEYS, None where it has none (so a ``Cell`` key is as long as a ``PolicyCell`` one)."""
    return tuple(row.get(k) for k in ROW_KEYS)


def _padded(tokenizer: str, corpus: str, cell: Cell | PolicyCell) -> tuple[Any, ...]:
    return (tokenizer, corpus, *cell, *(None,) * (len(ROW_KEYS) - 2 - len(cell)))


def run(
    config: Config,
    *,
    status: str = "full",
    previous: Sequence[dict[str, Any]] = (),
    previous_assets: dict[str, Any] | None = None,
    on_progress: Callable[[list[dict[str, Any]], dict[str, Any]], None] | None = None,
) -> BenchmarkResult:
    """Measure every (tokenizer, corpus, setting) cell. ``previous``: rows of an earlier run with the same
    sampling config are reused (``--resume``), so an interrupted full run only computes what is missing.
    ``previous_assets`` is not needed (taken for the shared ``run`` signature): every tokenizer and corpus
    is loaded again, so their assets are recorded afresh. After each new (tokenizer, corpus),
    ``on_progress(rows so far, assets)``."""
    start = time.perf_counter()
    reusable = {_key(r): r for r in previous}
    rows: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    corpora, corpus_assets = load_corpora(config, skipped)
    assets: dict[str, Any] = {"tokenizers": {}, "corpora": corpus_assets}
    with (
        CellProgress("efficiency", total=len(config.tokenizers) * len(corpora)) as progress,
        compiling_policy_kernels() as kernels,  # on the other core: a clone's first run compiles them
    ):
        for tok_name in config.tokenizers:
            tok = load_tokenizer(tok_name, skipped)
            if tok is None:
                for corpus in corpora:
                    progress.skip(f"{tok_name} {corpus.name}: skipped (see the result's skipped)")
                continue
            assets["tokenizers"][tok_name] = tokenizer_assets(tok)
            digits = digit_bearing_ids(tok, tok.vocab_size) if config.protect_digits_variant else frozenset()
            for corpus in corpora:
                progress.start(f"{tok_name} {corpus.name}")
                cells = _settings(config, tok_name)
                sweep_cells = _policy_settings(config, tok_name)
                keys = [_padded(tok_name, corpus.name, cell) for cell in cells]
                keys += [_padded(tok_name, corpus.name, cell) for cell in sweep_cells]
                rows += [reusable[k] for k in keys if k in reusable]
                todo = [s for s in cells if _padded(tok_name, corpus.name, s) not in reusable]
                policy_todo = [s for s in sweep_cells if _padded(tok_name, corpus.name, s) not in reusable]
                if not todo and not policy_todo:
                    progress.skip(f"{tok_name} {corpus.name}: kept from the previous run")
                    continue
                # arrays once for all the cells (the codec would convert each list in every cell)
                base_ids = [np.array(ids, dtype=np.int64) for ids in tok.encode_batch(corpus.docs)]
                top_n = config.num_top_hypertokens
                measured = cell_rows(
                    tok, corpus, base_ids, todo, digit_ids=digits, top_n=top_n, note=progress.note
                )
                rows += measured
                if policy_todo:
                    progress.note("policy sweep")
                    kernels.wait()
                    rows += policy_rows(
                        tok,
                        corpus,
                        base_ids,
                        policy_todo,
                        long_doc_min_base_tokens=config.long_doc_min_base_tokens,
                        skipped=skipped,
                    )
                progress.finish(
                    cell_line(measured) if measured else f"{tok_name} {corpus.name}: policy sweep"
                )
                if on_progress is not None:
                    on_progress(rows, assets)
    return BenchmarkResult(
        benchmark="efficiency",
        status=status,
        config=asdict(config),
        rows=rows,
        duration_s=time.perf_counter() - start,
        assets=assets,
        skipped=skipped,
    )


def main(argv: Sequence[str] | None = None) -> None:
    command = new_command_line("efficiency", Config, __doc__)
    add_resume_argument(command, kept="reuse rows", same="sampling config")
    parsed = parse_args(command, argv)
    config = parsed.config
    if "sweep_tokenizer" in parsed.given and config.sweep_tokenizer not in config.tokenizers:
        command.error(
            f"--sweep-tokenizer {config.sweep_tokenizer!r} is not one of --tokenizers "
            f"({','.join(config.tokenizers)}), so no sweep would run"
        )
    check_hub_tokenizers(command, config.tokenizers)
    sampling = (
        "corpora",
        "num_docs",
        "max_total_bytes",
        "min_doc_bytes",
        "max_doc_bytes",
        "seed",
        "corpus_source",
    )
    run_and_write(
        command,
        parsed,
        benchmark="efficiency",
        run=run,
        summary_lines=summary_lines,
        config_dict=asdict(config),
        must_match=sampling,
        row_keys=_KEYS_OF_EVERY_ROW,
    )


if __name__ == "__main__":
    main()
