"""Token efficiency (the paper's first table): UTF-8 bytes per token, base tokenizer vs zip2zip.

For each tokenizer (Llama-3 128K, Qwen-2 150K, Phi-4 200K = o200k, Gemma-3 256K) and domain (code, math,
chat, multilingual, web), the same sampled documents are tokenized, then LZW-compressed per document with a
fresh codebook (M = ``max_subtokens``, ``max_codebook_size`` entries, the tokenizer's special ids disabled).
Reported per cell, as ratios of totals over the domain: bytes per base token, bytes per compressed id
(base ids + hypertokens), the gain in %, how many hypertokens were created and which fraction was used
again after creation (the paper: ~25%), and the most used hypertokens decoded to text. With ``--sweep``
(on by default in the full run) gains are also measured over M and over the codebook size for one tokenizer.

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

from zip2zip.config_cli import Names, check_names, option
from zip2zip.data.corpora import CORPORA, SOURCES, Corpus, load_corpus
from zip2zip.data.tokenizers import TOKENIZERS, MissingAssetError
from zip2zip.evaluation.results import BenchmarkResult
from zip2zip.evaluation.token_efficiency import measure_token_efficiency

from ._cli import (
    add_resume_argument,
    check_at_least,
    check_hub_tokenizers,
    new_command_line,
    parse_args,
    run_and_write,
    tokenizer_name,
)
from ._efficiency_row import efficiency_row
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
    num_top_hypertokens: int = option(10, "most used hypertokens listed per cell, decoded to text")

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
        )


def _settings(config: Config, tokenizer: str) -> list[tuple[str, int, int]]:
    """(setting, M, codebook size): the main cell, plus the sweeps for the sweep tokenizer."""
    out = [("main", config.max_subtokens, config.max_codebook_size)]
    if tokenizer == config.sweep_tokenizer:
        out += [("sweep_max_subtokens", m, config.max_codebook_size) for m in config.sweep_max_subtokens]
        out += [("sweep_codebook_size", config.max_subtokens, c) for c in config.sweep_max_codebook_sizes]
    return out


# What identifies a row (resumed by, named by in the regression check): one cell and one setting.
ROW_KEYS = ("tokenizer", "corpus", "setting", "max_subtokens", "max_codebook_size")


def _key(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[k] for k in ROW_KEYS)


def _load_corpora(config: Config, skipped: list[dict[str, str]]) -> tuple[list[Corpus], dict[str, Any]]:
    """The sampled domains and what the result records of each; one whose data is missing goes to ``skipped``."""
    corpora: list[Corpus] = []
    assets: dict[str, Any] = {}
    for name in config.corpora:
        try:
            corpus = load_corpus(
                name,
                num_docs=config.num_docs,
                max_total_bytes=config.max_total_bytes,
                min_doc_bytes=config.min_doc_bytes,
                max_doc_bytes=config.max_doc_bytes,
                seed=config.seed,
                source=config.corpus_source,
            )
        except MissingAssetError as exc:
            skipped.append({"name": f"corpus:{name}", "reason": str(exc)})
            continue
        corpora.append(corpus)
        assets[name] = {
            **corpus.assets,
            "num_docs": len(corpus.docs),
            "num_bytes": corpus.num_bytes,
            "num_docs_available": corpus.num_docs_available,
            "sha256": corpus.sha256,
            "doc_sha256_prefixes": [h[:16] for h in corpus.doc_sha256],
        }
    return corpora, assets


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
    corpora, corpus_assets = _load_corpora(config, skipped)
    assets: dict[str, Any] = {"tokenizers": {}, "corpora": corpus_assets}
    with CellProgress("efficiency", total=len(config.tokenizers) * len(corpora)) as progress:
        for tok_name in config.tokenizers:
            tok = load_tokenizer(tok_name, skipped)
            if tok is None:
                for corpus in corpora:
                    progress.skip(f"{tok_name} {corpus.name}: skipped (see the result's skipped)")
                continue
            assets["tokenizers"][tok_name] = tokenizer_assets(tok)
            for corpus in corpora:
                progress.start(f"{tok_name} {corpus.name}")
                todo = [s for s in _settings(config, tok_name) if (tok_name, corpus.name, *s) not in reusable]
                rows += [
                    reusable[k]
                    for s in _settings(config, tok_name)
                    if (k := (tok_name, corpus.name, *s)) in reusable
                ]
                if not todo:
                    progress.skip(f"{tok_name} {corpus.name}: kept from the previous run")
                    continue
                base_ids = tok.encode_batch(corpus.docs)
                for setting, m, c in todo:
                    progress.note(setting)
                    totals = measure_token_efficiency(
                        tok, corpus, base_ids, max_subtokens=m, max_codebook_size=c
                    )
                    rows.append(
                        efficiency_row(tok, corpus, setting, m, c, totals, config.num_top_hypertokens)
                    )
                progress.finish(_cell_line(rows[-len(todo) :]))
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


def _cell_line(rows: list[dict[str, Any]]) -> str:
    """``smollm2 wikitext: gain 21.3% (main), 4 settings``: the live view's line of one finished cell."""
    shown = next((r for r in rows if r["setting"] == "main"), rows[0])
    gain = shown["metrics"]["gain_pct"]["value"]
    return (
        f"{shown['tokenizer']} {shown['corpus']}: gain {gain:.1f}% ({shown['setting']}), {len(rows)} settings"
    )


def summary_lines(result: BenchmarkResult) -> list[str]:
    lines = [
        f"{'tokenizer':10s} {'corpus':13s} {'base B/tok':>10s} {'zip2zip B/id':>12s} {'gain %':>7s} {'reuse':>6s}"
    ]
    for r in result.rows:
        if r["setting"] != "main":
            continue
        m = r["metrics"]
        reuse = m["hypertoken_reuse_fraction"]["value"]
        lines.append(
            f"{r['tokenizer']:10s} {r['corpus']:13s} {m['bytes_per_base_token']['value']:10.2f} "
            f"{m['bytes_per_compressed_id']['value']:12.2f} {m['gain_pct']['value']:7.1f} "
            f"{'--' if reuse is None else f'{reuse:.2f}':>6s}"
        )
    return lines


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
        row_keys=ROW_KEYS,
    )


if __name__ == "__main__":
    main()
