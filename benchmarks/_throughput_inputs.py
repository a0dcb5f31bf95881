"""What a run of ``benchmarks/throughput.py`` reads and records of its inputs: the prompt text of each domain
(one real document, long enough for the longest prompt and its continuation) and the record of the model,
checkpoint, tokenizer and device. It exists so that the script holds the measurement and not the bookkeeping;
nothing here is timed."""

from __future__ import annotations

from typing import Any

import torch

from zip2zip.data.corpora import load_corpus
from zip2zip.data.tokenizers import Tokenizer

from ._checkpoints import find_checkpoint
from ._devices import device_name, device_tag, mps_fallback_enabled


def document_ids(
    corpus_name: str, tok: Tokenizer, needed: int, *, seed: int, source: str
) -> tuple[list[int], dict[str, Any]]:
    """Base ids of one real document of the domain with >= ``needed`` ids (else documents joined), and its
    record."""
    corpus = load_corpus(
        corpus_name,
        num_docs=16,
        max_total_bytes=1_000_000,
        min_doc_bytes=16384,
        max_doc_bytes=65536,
        seed=seed,
        source=source,
    )
    encoded = tok.encode_batch(corpus.docs)
    index = next((i for i, ids in enumerate(encoded) if len(ids) >= needed), None)
    ids = encoded[index] if index is not None else [i for ids in encoded for i in ids]
    if len(ids) < needed:
        raise ValueError(f"corpus {corpus_name!r} has only {len(ids)} base tokens; this run needs {needed}")
    asset = {
        "source": corpus.source,
        "document": "joined" if index is None else index,
        "doc_sha256_prefix": corpus.doc_sha256[index or 0][:16],
        "num_base_tokens": len(ids),
    }
    return ids, asset


def run_assets(
    checkpoint: str | None, tok: Tokenizer, device: torch.device, model_asset: dict[str, Any]
) -> dict[str, Any]:
    """What the result records of the model, checkpoint, tokenizer and device (``corpora`` and ``cells``
    follow)."""
    assets: dict[str, Any] = {
        "model": model_asset,
        "checkpoint": find_checkpoint(checkpoint).record() if checkpoint else None,
        "tokenizer": tok.provenance,
        "tokenizer_name": tok.name,
        "device_tag": device_tag(device),
        "device_name": device_name(device),
        "corpora": {},
    }
    if device.type == "mps":  # unsupported ops run on the CPU only when this is set; say so in the result
        assets["mps_cpu_fallback_enabled"] = mps_fallback_enabled()
    return assets


def cell_key(
    model: str, corpus: str, prompt_base_tokens: int, new_base_tokens: int, mode: str
) -> dict[str, Any]:
    """What names a cell in its rows: ``setting`` is ``"256+256"`` for 256 prompt + 256 generated base tokens."""
    return {
        "model": model,
        "corpus": corpus,
        "prompt_base_tokens": prompt_base_tokens,
        "new_base_tokens": new_base_tokens,
        "setting": f"{prompt_base_tokens}+{new_base_tokens}",
        "mode": mode,
    }
