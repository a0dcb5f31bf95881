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

import numpy as np

from zip2zip.codec.lzw_codec import LZWCodec
from zip2zip.config_cli import Names, check_names, option
from zip2zip.data.corpora import CORPORA, SOURCES, Corpus, load_corpus
from zip2zip.data.hub_reachability import hub_is_reachable
from zip2zip.data.tokenizers import TOKENIZERS, MissingAssetError, Tokenizer, get_tokenizer
from zip2zip.evaluation.metrics import EfficiencyTotals
from zip2zip.evaluation.results import BenchmarkResult, metric

from ._cli import (
    add_resume_argument,
    check_at_least,
    check_hub_tokenizers,
    new_command_line,
    parse_args,
    run_and_write,
    tokenizer_name,
)

_CHUNK_DOCS = 32  # documents per batch_encode call: bounds the padded [batch, len] array


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


def measure_cell(
    tok: Tokenizer, corpus: Corpus, base_ids: list[list[int]], *, max_subtokens: int, max_codebook_size: int
) -> EfficiencyTotals:
    """Compress every document of one (tokenizer, corpus) cell and count; checks the round trip."""
    codec = LZWCodec(
        tok.vocab_size,
        pad_token_id=tok.pad_token_id,
        max_subtokens=max_subtokens,
        max_codebook_size=max_codebook_size,
        disabled_ids=tok.special_ids,
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


# What identifies a row (resumed by, named by in the regression check): one cell and one setting.
ROW_KEYS = ("tokenizer", "corpus", "setting", "max_subtokens", "max_codebook_size")


def _row(
    tok: Tokenizer, corpus: Corpus, setting: str, m: int, c: int, totals: EfficiencyTotals, top_n: int
) -> dict[str, Any]:
    n = totals.num_docs
    reuse = (
        metric(totals.hypertoken_reuse_fraction, "fraction", num_samples=n)
        if totals.num_hypertokens_created
        else metric(None, "fraction", num_samples=n, reason="no hypertoken was created")
    )
    return {
        "tokenizer": tok.name,
        "tokenizer_label": TOKENIZERS[tok.name].paper_label if tok.name in TOKENIZERS else tok.name,
        "corpus": corpus.name,
        "corpus_source": corpus.source,
        "setting": setting,
        "max_subtokens": m,
        "max_codebook_size": c,
        "num_docs_requested": corpus.num_docs_requested,
        "num_docs_used": n,
        "metrics": {
            "bytes_per_base_token": metric(totals.base_bytes_per_token, "bytes/base_token", num_samples=n),
            "bytes_per_compressed_id": metric(
                totals.zip2zip_bytes_per_token, "bytes/compressed_id", num_samples=n
            ),
            "gain_pct": metric(totals.gain_percent, "%", num_samples=n),
            "num_bytes": metric(totals.num_bytes, "bytes", num_samples=n),
            "num_base_tokens": metric(totals.num_base_tokens, "base_tokens", num_samples=n),
            "num_compressed_ids": metric(totals.num_zip2zip_ids, "compressed_ids", num_samples=n),
            "num_hypertoken_uses": metric(totals.num_hypertoken_uses, "hypertokens", num_samples=n),
            "num_hypertokens_created": metric(totals.num_hypertokens_created, "hypertokens", num_samples=n),
            "num_hypertokens_reused": metric(totals.num_hypertokens_reused, "hypertokens", num_samples=n),
            "hypertoken_reuse_fraction": reuse,
        },
        "top_hypertokens": [
            {"text": tok.decode(ids), "base_ids": list(ids), "num_uses": uses, "num_docs": docs}
            for ids, uses, docs in totals.top_hypertokens(top_n)
        ],
    }


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


def _load_tokenizer(name: str, skipped: list[dict[str, str]]) -> Tokenizer | None:
    """The tokenizer, or None (said in ``skipped``) if its files are missing or it is a hub id while the hub
    is unreachable; any other failure is a bug, so it raises."""
    try:
        return get_tokenizer(name)
    except MissingAssetError as exc:
        skipped.append({"name": f"tokenizer:{name}", "reason": str(exc)})
    except ValueError as exc:
        if name in TOKENIZERS or hub_is_reachable():
            raise
        skipped.append({"name": f"tokenizer:{name}", "reason": str(exc)})
    return None


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
    for tok_name in config.tokenizers:
        tok = _load_tokenizer(tok_name, skipped)
        if tok is None:
            continue
        assets["tokenizers"][tok_name] = {
            **tok.provenance,
            "vocab_size": tok.vocab_size,
            "num_special_ids": len(tok.special_ids),
            "pad_token_id": tok.pad_token_id,
        }
        for corpus in corpora:
            todo = [s for s in _settings(config, tok_name) if (tok_name, corpus.name, *s) not in reusable]
            rows += [
                reusable[k]
                for s in _settings(config, tok_name)
                if (k := (tok_name, corpus.name, *s)) in reusable
            ]
            if not todo:
                continue
            base_ids = tok.encode_batch(corpus.docs)
            for setting, m, c in todo:
                totals = measure_cell(tok, corpus, base_ids, max_subtokens=m, max_codebook_size=c)
                rows.append(_row(tok, corpus, setting, m, c, totals, config.num_top_hypertokens))
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
