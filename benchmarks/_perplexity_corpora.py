"""The perplexity benchmark's text: each evaluation corpus that loads, with its documents' base ids, and what a
result records of it. A corpus that does not load is skipped with the reason, not an error, so a run
without the hub still measures the rest."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from zip2zip.data.corpora import Corpus
from zip2zip.data.eval_corpora import load_eval_corpus
from zip2zip.data.tokenizers import Tokenizer


def load_corpora(
    names: Sequence[str],
    tokenizer: Tokenizer,
    *,
    max_total_bytes: int,
    source: str,
    seed: int,
    assets: dict[str, Any],
    skipped: list[dict[str, str]],
) -> dict[str, tuple[Corpus, list[list[int]]]]:
    """Every corpus that loads, with its documents' base ids; facts go to ``assets``, failures to ``skipped``."""
    corpora: dict[str, tuple[Corpus, list[list[int]]]] = {}
    for name in names:
        try:
            corpus = load_eval_corpus(name, max_total_bytes=max_total_bytes, source=source, seed=seed)
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
