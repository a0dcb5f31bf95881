"""Timed runs of ``benchmarks/throughput.py``: one cell's inputs, one baseline run, one zip2zip run, and
the rows of one cell. Both runs go through ``zip2zip.evaluation.timing.time_decode`` (device synced before every
clock read) with the decoders of ``zip2zip.evaluation.decoders``, which do the same per-step work on both sides:
argmax over the logits (the one device->host read), feed one id, one forward with the KV cache.
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from zip2zip.codec.config import CompressionConfig
from zip2zip.codec.lzw import LZWStream
from zip2zip.codec.lzw_codec import LZWCodec
from zip2zip.data.tokenizers import Tokenizer
from zip2zip.evaluation.decoders import BaseDecoder, Zip2ZipDecoder
from zip2zip.evaluation.devices import PeakMemory
from zip2zip.evaluation.results import metric
from zip2zip.evaluation.roofline import decode_step_bytes, memory_bandwidth_gb_per_s
from zip2zip.evaluation.timing import median_metric, time_decode
from zip2zip.inference.tokenization import compress_ids

from ._rounds import Rounds, relative_half_width

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


# --------------------------------------------------------------------------------------- one run
def baseline_run(base: Any, inputs: Inputs, mode: str, budget: int, sync: Callable[[], None]) -> Run:
    """Prefill the P base ids, then ``budget`` decode steps (replay: the real continuation)."""
    forced = [inputs.continuation_ids] if mode == "replay" else None
    decoder = BaseDecoder(base, [inputs.prompt_ids], max_steps=budget, forced=forced)
    timing = time_decode(decoder, sync=sync)
    n = timing.num_emitted_ids
    return Run(timing.prefill_s, timing.decode_s, timing.num_steps, n, n, decoder.emitted_ids[0])


def zip2zip_run(
    model: Any, inputs: Inputs, mode: str, budget: int, sync: Callable[[], None], *, profile: bool = False
) -> Run:
    """``prefill`` on the compressed prompt, then steps until ``budget`` base tokens are decoded.

    ``profile`` splits each step into select / codec / encoder / model with a sync between parts
    (used in the warm-up round only, so the timed runs carry no extra syncs)."""
    forced = [inputs.replay_codes] if mode == "replay" else None
    max_steps = len(inputs.replay_codes) if mode == "replay" else budget
    decoder = Zip2ZipDecoder(
        model, [inputs.prompt_codes], max_steps=max_steps, forced=forced, base_token_budget=budget
    )
    timing = time_decode(decoder, sync=sync, profile=profile)
    (produced,) = decoder.decoded_base_ids
    run = Run(
        timing.prefill_s,
        timing.decode_s,
        timing.num_steps,
        min(len(produced), budget),
        len(produced),
        produced[:budget],
        decoder.num_hypertokens_fed,
        decoder.num_entries_created,
    )
    if profile:
        run.profile_s = {
            **{f"decode_{k}": s for k, s in timing.profile_s.items()},
            **_prefill_parts(model, inputs, sync),
        }
    return run


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


# --------------------------------------------------------------------------------------- one cell
def measure_cell(
    config: Any,
    base: Any,
    model: Any,
    tok: Tokenizer,
    inputs: Inputs,
    mode: str,
    device: torch.device,
    sync: Callable[[], None],
    *,
    on_round: Callable[[str], None] = lambda text: None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Warm-up rounds (profile + memory peaks), then interleaved timed rounds, as many as
    ``Rounds.of(config)`` says; returns rows + cell assets. ``on_round(text)`` says which round starts (the
    live view). A warning that an op fell back to the CPU (e.g. MPS "... will fall back to run on the CPU")
    is recorded in the assets: those timings are not pure-device."""
    k = config.new_base_tokens
    runners: dict[str, Callable[[bool], Run]] = {
        "baseline": lambda _profile: baseline_run(base, inputs, mode, k, sync),
        "zip2zip": lambda profile: zip2zip_run(model, inputs, mode, k, sync, profile=profile),
    }
    memory = PeakMemory(device)
    peaks: dict[str, int] = {}
    warm: dict[str, Run] = {}
    runs: dict[str, list[Run]] = {name: [] for name in runners}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for w in range(config.num_warmup):
            on_round(f"warm-up {w + 1}/{config.num_warmup}")
            for name, runner in runners.items():
                memory.reset()
                warm[name] = runner(w == config.num_warmup - 1)
                peaks[name] = memory.read_bytes()
        rounds = Rounds.of(config)
        started = time.perf_counter()
        for i in rounds.run(lambda: _speedups(runs)):
            on_round(_round_text(i, rounds, _speedups(runs)))
            for name in list(runners) if i % 2 == 0 else list(reversed(runners)):
                # alternate the order so drift and cache effects hit both alike
                runs[name].append(runners[name](False))
        elapsed_s = time.perf_counter() - started
    bandwidth, bandwidth_source = memory_bandwidth_gb_per_s(device, config.memory_bandwidth_gb_per_s)
    rows = [
        {
            "method": "host",
            "phase": "host",
            "metrics": {n: median_metric(v, "s") for n, v in inputs.host_s.items()},
        }
    ]
    rows += _method_rows(config, base, tok, inputs, mode, runs, warm, peaks, bandwidth)
    assets: dict[str, Any] = {
        "peak_memory_kind": memory.kind,
        "memory_bandwidth_gb_per_s": bandwidth,
        "memory_bandwidth_source": bandwidth_source,
        "zip2zip_text_sample": tok.decode(runs["zip2zip"][0].generated_ids[:64]),
        "baseline_text_sample": tok.decode(runs["baseline"][0].generated_ids[:64]),
    }
    if reached := rounds.record(_speedups(runs), elapsed_s):
        assets["rounds"] = reached
    if fallback := sorted({str(w.message)[:200] for w in caught if "fall" in str(w.message).lower()}):
        assets["cpu_fallback_warnings"] = fallback
    return rows, assets


def _speedups(runs: dict[str, list[Run]]) -> dict[str, list[float]]:
    """zip2zip's speedups over the baseline, one per timed round (paired: the same round's runs)."""
    pairs = list(zip(runs["baseline"], runs["zip2zip"], strict=True))
    return {
        "prefill_speedup": [b.prefill_s / z.prefill_s for b, z in pairs],
        "decode_base_token_speedup": [
            (z.num_base_tokens / z.decode_s) / (b.num_base_tokens / b.decode_s) for b, z in pairs
        ],
    }


def _round_text(index: int, rounds: Rounds, speedups: dict[str, list[float]]) -> str:
    """``round 3/5`` for a fixed count; adaptive: ``round 7 (min 5), +-4.1%`` (the widest interval so far)."""
    if rounds.num_repeats is not None:
        return f"round {index + 1}/{rounds.num_repeats}"
    text = f"round {index + 1} (min {rounds.min_rounds})"
    if index >= 2:
        widest = max(relative_half_width(v) for v in speedups.values())
        text += f", +-{100 * widest:.1f}% (target {100 * rounds.target_ratio_half_width:g}%)"
    return text


def _method_rows(
    config: Any,
    base: Any,
    tok: Tokenizer,
    inputs: Inputs,
    mode: str,
    runs: dict[str, list[Run]],
    warm: dict[str, Run],
    peaks: dict[str, int],
    bandwidth: float | None,
) -> list[dict[str, Any]]:
    """Per method, a prefill and a decode row; zip2zip's also hold its speedups over the baseline (paired
    by round) and the profile of its last warm-up round."""
    p, n = len(inputs.prompt_ids), len(runs["baseline"])
    r_prompt = p / len(inputs.prompt_codes)
    rows = []
    for name, method_runs in runs.items():
        first = method_runs[0]
        num_prompt_ids = p if name == "baseline" else len(inputs.prompt_codes)
        num_bytes = (
            inputs.continuation_num_bytes
            if mode == "replay"
            else len(tok.decode(first.generated_ids).encode("utf-8"))
        )
        pre = _prefill_metrics(method_runs, p, num_prompt_ids, peaks[name])
        dec = _decode_metrics(method_runs, num_bytes)
        if bandwidth is not None:
            context = num_prompt_ids + first.num_steps // 2
            ideal_s = decode_step_bytes(base, context) / (bandwidth * 1e9)
            step_s = statistics.median([r.decode_s for r in method_runs]) / first.num_steps
            dec["roofline_pct"] = metric(100 * ideal_s / step_s, "%", num_samples=n)
        if name == "zip2zip":
            profile = warm["zip2zip"].profile_s or {}
            pre |= _zip2zip_prefill_metrics(runs["baseline"], method_runs, r_prompt, profile, n)
            dec |= _zip2zip_decode_metrics(runs["baseline"], method_runs, profile, n)
        rows += [
            {"method": name, "phase": "prefill", "metrics": pre},
            {"method": name, "phase": "decode", "metrics": dec},
        ]
    return rows


def _prefill_metrics(runs: list[Run], p: int, num_prompt_ids: int, peak_bytes: int) -> dict[str, Any]:
    prefill_s = [r.prefill_s for r in runs]
    return {
        "prefill_s": median_metric(prefill_s, "s"),
        "prefill_base_tokens_per_s": median_metric([p / t for t in prefill_s], "base_tokens/s"),
        "num_prompt_base_tokens": metric(p, "base_tokens", num_samples=1),
        "num_prompt_ids": metric(num_prompt_ids, "ids", num_samples=1),
        "peak_memory_bytes": metric(peak_bytes, "bytes", num_samples=1),
    }


def _decode_metrics(runs: list[Run], num_bytes: int) -> dict[str, Any]:
    first = runs[0]
    decode_s = [r.decode_s for r in runs]
    return {
        "decode_s": median_metric(decode_s, "s"),
        "decode_steps_per_s": median_metric([r.num_steps / r.decode_s for r in runs], "steps/s"),
        "decode_base_tokens_per_s": median_metric(
            [r.num_base_tokens / r.decode_s for r in runs], "base_tokens/s"
        ),
        "decode_bytes_per_s": median_metric([num_bytes / t for t in decode_s], "bytes/s"),
        "num_decode_steps": metric(first.num_steps, "steps", num_samples=1),
        "num_base_tokens": metric(first.num_base_tokens, "base_tokens", num_samples=1),
        "num_bytes": metric(num_bytes, "bytes", num_samples=1),
    }


def _zip2zip_prefill_metrics(
    base_runs: list[Run], zip_runs: list[Run], r_prompt: float, profile: dict[str, float], n: int
) -> dict[str, Any]:
    prefill_speedup = _speedups({"baseline": base_runs, "zip2zip": zip_runs})["prefill_speedup"]
    return {
        "prompt_compression_ratio": metric(r_prompt, "base_tokens/id", num_samples=1),
        "prefill_speedup": median_metric(prefill_speedup, "x"),
        "prefill_gain_pct": metric(100 * (statistics.median(prefill_speedup) - 1), "%", num_samples=n),
        "prefill_speedup_per_r": metric(
            statistics.median(prefill_speedup) / r_prompt, "fraction of r", num_samples=n
        ),
        **{
            f"profile_{key}_s": metric(profile[key], "s", num_samples=1)
            for key in ("prefill_codec", "prefill_encoder")
        },
    }


def _zip2zip_decode_metrics(
    base_runs: list[Run], zip_runs: list[Run], profile: dict[str, float], n: int
) -> dict[str, Any]:
    first = zip_runs[0]
    decode_speedup = _speedups({"baseline": base_runs, "zip2zip": zip_runs})["decode_base_token_speedup"]
    step_ratio = [
        (z.num_steps / z.decode_s) / (b.num_steps / b.decode_s)
        for b, z in zip(base_runs, zip_runs, strict=True)
    ]
    r_decode = first.num_base_tokens_produced / first.num_steps
    return {
        "compression_ratio": metric(r_decode, "base_tokens/step", num_samples=1),
        "decode_base_token_speedup": median_metric(decode_speedup, "x"),
        "decode_gain_pct": metric(100 * (statistics.median(decode_speedup) - 1), "%", num_samples=n),
        "decode_step_rate_ratio": median_metric(step_ratio, "x"),
        "decode_speedup_per_r": metric(
            statistics.median(decode_speedup) / r_decode, "fraction of r", num_samples=n
        ),
        "num_hypertokens_fed": metric(first.num_hypertokens_fed, "hypertokens", num_samples=1),
        "num_entries_created": metric(first.num_entries_created, "entries", num_samples=1),
        **{
            f"profile_{key}_ms_per_step": metric(
                1e3 * profile[key] / first.num_steps, "ms", num_samples=first.num_steps
            )
            for key in ("decode_select", "decode_codec", "decode_encoder", "decode_model")
        },
    }
