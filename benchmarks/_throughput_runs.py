"""The runs of ``benchmarks/throughput.py``: a warm-up run of one method (untimed use: it gives the profile and
the memory peak) and a timed round of both methods taking turns (``time_decode_interleaved``).

Both methods go through the decoders of ``zip2zip.evaluation.decoders``, which do the same per-step work on
both sides: argmax over the logits (the one device->host read), feed one id, one forward with the KV cache.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from zip2zip.codec.lzw import LZWStream
from zip2zip.evaluation.decoders import BaseDecoder, Zip2ZipDecoder
from zip2zip.evaluation.timing import DecodeTiming, time_decode, time_decode_interleaved

from ._throughput_inputs import Inputs

# Timed rounds per cell a full run takes at least. Three suffice because a round runs both methods in turns
# of about a second (``timed_round``), so the drift that moved a round's speedup by 5-15% when they ran one
# after the other cancels within the round.
FULL_RUN_ROUNDS = 3
MAX_PREFILL_REPEATS = 8


def prefill_repeats(warm: dict[str, Run], seconds_per_round: float) -> int:
    """How often a timed round repeats the prefills so that each side's take about ``seconds_per_round``:
    a 0.6-second prefill measured once moves its speedup by +-15%; the warm-up runs tell how long one takes.
    """
    longest = max(run.prefill_s for run in warm.values())
    return max(1, min(MAX_PREFILL_REPEATS, math.ceil(seconds_per_round / longest)))


@dataclass
class Run:
    prefill_s: float
    decode_s: float
    num_steps: int
    num_base_tokens: int  # delivered: K (generate mode may produce up to M - 1 more)
    num_base_tokens_produced: int
    generated_ids: list[int]
    num_hypertokens_fed: int = 0
    num_entries_created: int = 0
    profile_s: dict[str, float] | None = None


def _baseline_decoder(base: Any, inputs: Inputs, mode: str, budget: int, max_steps: int) -> BaseDecoder:
    """Prefill the P base ids, then up to ``max_steps`` of the ``budget`` steps (replay: the real text)."""
    forced = [inputs.continuation_ids] if mode == "replay" else None
    return BaseDecoder(base, [inputs.prompt_ids], max_steps=min(budget, max_steps), forced=forced)


def _zip2zip_decoder(model: Any, inputs: Inputs, mode: str, budget: int, max_steps: int) -> Zip2ZipDecoder:
    """``prefill`` on the compressed prompt, then steps until ``budget`` base tokens are decoded (or
    ``max_steps`` steps are taken)."""
    forced = [inputs.replay_codes] if mode == "replay" else None
    limit = len(inputs.replay_codes) if mode == "replay" else budget
    return Zip2ZipDecoder(
        model,
        [inputs.prompt_codes],
        max_steps=min(limit, max_steps),
        forced=forced,
        base_token_budget=budget,
    )


def _baseline_result(decoder: BaseDecoder, timing: DecodeTiming) -> Run:
    n = timing.num_emitted_ids
    return Run(timing.prefill_s, timing.decode_s, timing.num_steps, n, n, decoder.emitted_ids[0])


def _zip2zip_result(decoder: Zip2ZipDecoder, timing: DecodeTiming, budget: int) -> Run:
    (produced,) = decoder.decoded_base_ids
    return Run(
        timing.prefill_s,
        timing.decode_s,
        timing.num_steps,
        min(len(produced), budget),
        len(produced),
        produced[:budget],
        decoder.num_hypertokens_fed,
        decoder.num_entries_created,
    )


def warmup_run(
    method: str,
    base: Any,
    model: Any,
    inputs: Inputs,
    mode: str,
    budget: int,
    sync: Callable[[], None],
    *,
    max_steps: int,
) -> Run:
    """One untimed run of ``method`` ("baseline" or "zip2zip") that stops after ``max_steps`` decode steps.
    zip2zip's is profiled: each step is split into select / codec / encoder / model with a sync between
    parts (so the timed rounds carry no extra syncs); its ``profile_s`` also holds the prefill's codec and
    encoder parts."""
    if method == "baseline":
        decoder = _baseline_decoder(base, inputs, mode, budget, max_steps)
        return _baseline_result(decoder, time_decode(decoder, sync=sync))
    zip_decoder = _zip2zip_decoder(model, inputs, mode, budget, max_steps)
    timing = time_decode(zip_decoder, sync=sync, profile=True)
    run = _zip2zip_result(zip_decoder, timing, budget)
    run.profile_s = {
        **{f"decode_{k}": s for k, s in timing.profile_s.items()},
        **_prefill_parts(model, inputs, sync),
    }
    return run


def timed_round(
    base: Any,
    model: Any,
    inputs: Inputs,
    mode: str,
    budget: int,
    sync: Callable[[], None],
    *,
    block_steps: int,
    prefill_repeats: int,
    zip2zip_first: bool,
) -> dict[str, Run]:
    """Both methods' full runs, taking turns every ``block_steps`` decode steps and at each of the
    ``prefill_repeats`` prefills (``time_decode_interleaved``): their speedups are measured under the same
    conditions. ``zip2zip_first`` alternates who starts."""
    baseline = _baseline_decoder(base, inputs, mode, budget, budget)
    zip2zip = _zip2zip_decoder(model, inputs, mode, budget, budget)
    decoders: dict[str, BaseDecoder | Zip2ZipDecoder] = {"baseline": baseline, "zip2zip": zip2zip}
    if zip2zip_first:
        decoders = dict(reversed(decoders.items()))
    timings = time_decode_interleaved(
        decoders, block_steps=block_steps, prefill_repeats=prefill_repeats, sync=sync
    )
    return {
        "baseline": _baseline_result(baseline, timings["baseline"]),
        "zip2zip": _zip2zip_result(zip2zip, timings["zip2zip"], budget),
    }


@torch.no_grad()
def _prefill_parts(model: Any, inputs: Inputs, sync: Callable[[], None]) -> dict[str, float]:
    """Re-run the two host/encoder parts of ``prefill`` on their own: feeding the prompt to the
    streaming codec, and hyper-encoding every entry the prompt created (one batched call per side)."""
    comp = model.compression
    start = time.perf_counter()
    stream = LZWStream(comp)
    stream.feed_many(inputs.prompt_codes)
    codec_s = time.perf_counter() - start
    entries = stream.entries
    table = np.full((max(1, len(entries)), comp.max_subtokens), comp.pad_token_id, dtype=np.int64)
    for i, entry in enumerate(entries):
        table[i, : len(entry)] = entry
    members = torch.from_numpy(table).to(model.input_embeddings.weight.device)  # [N, M]
    lengths = [len(e) for e in entries] or [1]
    sync()
    start = time.perf_counter()
    vectors = model.encode_output_entries(members, lengths=lengths)
    if not model.config.tie_encoders:
        model.encode_input_entries(members, lengths=lengths)
    del vectors
    sync()
    return {"prefill_codec": codec_s, "prefill_encoder": time.perf_counter() - start}
