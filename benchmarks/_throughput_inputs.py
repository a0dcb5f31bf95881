"""What a run of ``benchmarks/throughput.py`` reads and records of its inputs: the prompt text of each domain
(one real document, long enough for the longest prompt and its continuation), one cell's prompt and
continuation in both representations (base ids, LZW codes), and the record of the model, checkpoint,
tokenizer and device. It exists so that the script holds the measurement and not the bookkeeping; only the
host work (tokenisation, LZW) is timed here, apart from the model runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from zip2zip.codec.config import CompressionConfig
from zip2zip.codec.lzw import LZWStream
from zip2zip.codec.lzw_codec import LZWCodec
from zip2zip.data.corpora import load_corpus
from zip2zip.data.tokenizers import Tokenizer
from zip2zip.inference.tokenization import compress_ids

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


_NUM_HOST_REPEATS = 5


@dataclass
class Inputs:
    """One (domain, prompt length) cell: the same text for both methods, in both representations."""

    prompt_ids: list[int]  # P base ids
    continuation_ids: list[int]  # the next K base ids (replay mode)
    prompt_codes: list[int]  # compress_ids(prompt_ids): what generate() would prefill
    replay_codes: list[int]  # continuation as an ideal model emits it (see replay_codes)
    continuation_num_bytes: int
    host_s: dict[str, list[float]]  # tokenisation / LZW timings, seconds per call


def replay_codes(comp: CompressionConfig, prompt_codes: list[int], continuation: list[int]) -> list[int]:
    """The continuation as a model emitting the longest live hypertoken at each step would write it.

    Matches never cross the end of the continuation and only use entries that exist when the step
    starts (so never the LZW same-step code, which the joint head does not offer). Example (V=10, M=3):
    after prompt [1, 2] (entry 10=(1, 2)), continuation [1, 2, 1] -> [10, 1]."""
    stream = LZWStream(comp)
    lookup = {entry: comp.initial_vocab_size + k for k, entry in enumerate(stream.entries)}
    for hyper_id, entry in stream.feed_many(prompt_codes):
        lookup[entry] = hyper_id
    codes: list[int] = []
    i = 0
    while i < len(continuation):
        code, width = continuation[i], 1
        for m in range(min(comp.max_subtokens, len(continuation) - i), 1, -1):
            match = lookup.get(tuple(continuation[i : i + m]))
            if match is not None:
                code, width = match, m
                break
        for hyper_id, entry in stream.feed(code):
            lookup[entry] = hyper_id
        codes.append(code)
        i += width
    return codes


def _timed(fn: Callable[[], Any], repeats: int) -> list[float]:
    fn()  # warm-up (first call compiles the numba codec)
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def prepare_inputs(model: Any, tok: Tokenizer, prompt_ids: list[int], continuation_ids: list[int]) -> Inputs:
    """Compress the prompt, build the replay stream, check it decodes to the text, time the host work."""
    comp = model.compression
    codec = LZWCodec.from_config(comp, num_threads=1)
    prompt_codes = compress_ids(prompt_ids, comp).ids
    replay = replay_codes(comp, prompt_codes, continuation_ids)
    all_codes = np.asarray(prompt_codes + replay, dtype=np.int64)
    if codec.decode(all_codes).tolist() != prompt_ids + continuation_ids:
        raise AssertionError("prompt + replay codes do not decode to the text: benchmark bug")
    prompt_text, continuation_text = tok.decode(prompt_ids), tok.decode(continuation_ids)
    host_s = {
        "tokenize_prompt_s": _timed(lambda: tok.encode(prompt_text), _NUM_HOST_REPEATS),
        "lzw_encode_prompt_s": _timed(lambda: compress_ids(prompt_ids, comp), _NUM_HOST_REPEATS),
        "lzw_decode_prompt_and_continuation_s": _timed(lambda: codec.decode(all_codes), _NUM_HOST_REPEATS),
        "detokenize_continuation_s": _timed(lambda: tok.decode(continuation_ids), _NUM_HOST_REPEATS),
    }
    return Inputs(
        prompt_ids, continuation_ids, prompt_codes, replay, len(continuation_text.encode("utf-8")), host_s
    )
