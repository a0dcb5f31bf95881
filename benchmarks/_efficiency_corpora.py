"""The efficiency benchmark's domains: each sampled, or skipped with the reason, and what the result records of
it (sizes, hashes of every document). Apart from ``efficiency.py`` so the script reads as what is measured.
"""

from __future__ import annotations

from typing import Any

from zip2zip.data.corpora import Corpus, load_corpus
from zip2zip.data.tokenizers import MissingAssetError


def load_corpora(config: Any, skipped: list[dict[str, str]]) -> tuple[list[Corpus], dict[str, Any]]:
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
