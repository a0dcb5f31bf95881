"""One cell of ``benchmarks/throughput.py`` (a domain, a prompt length, a decode mode): its warm-up runs
and as many timed rounds as ``Rounds`` asks for (``_throughput_runs.py``), then its rows.
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import torch

from zip2zip.data.tokenizers import Tokenizer
from zip2zip.evaluation.devices import PeakMemory
from zip2zip.evaluation.results import metric
from zip2zip.evaluation.roofline import decode_step_bytes, memory_bandwidth_gb_per_s
from zip2zip.evaluation.timing import median_metric

from ._rounds import Rounds, relative_half_width
from ._throughput_inputs import Inputs
from ._throughput_runs import Run, prefill_repeats, timed_round, warmup_run


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
    """Warm-up runs (the profile and memory peaks), then timed rounds, as many as ``Rounds.of(config)``
    says, each running both methods in turns of ``config.decode_block_steps`` steps; returns rows + cell
    assets. ``on_round(text)`` says which round starts (the live view). A warning that an op fell back to
    the CPU (e.g. MPS "... will fall back to run on the CPU") is recorded in the assets: those timings are
    not pure-device."""
    k = config.new_base_tokens
    warmup_steps = k if config.warmup_decode_steps is None else config.warmup_decode_steps
    memory = PeakMemory(device)
    peaks: dict[str, int] = {}
    warm: dict[str, Run] = {}
    runs: dict[str, list[Run]] = {"baseline": [], "zip2zip": []}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for w in range(config.num_warmup):
            on_round(f"warm-up {w + 1}/{config.num_warmup}")
            for name in runs:
                memory.reset()
                warm[name] = warmup_run(name, base, model, inputs, mode, k, sync, max_steps=warmup_steps)
                peaks[name] = memory.read_bytes()
        repeats = prefill_repeats(warm, config.prefill_seconds_per_round)
        rounds = Rounds.of(config)
        started = time.perf_counter()
        for i in rounds.run(lambda: _speedups(runs)):
            on_round(_round_text(i, rounds, _speedups(runs)))
            # who starts alternates, so drift and cache effects hit both alike
            timed = timed_round(
                base,
                model,
                inputs,
                mode,
                k,
                sync,
                block_steps=config.decode_block_steps,
                prefill_repeats=repeats,
                zip2zip_first=i % 2 == 1,
            )
            for name, run in timed.items():
                runs[name].append(run)
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
        "prefill_repeats_per_round": repeats,
        "warmup_decode_steps": warm["zip2zip"].num_steps,
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
    """``round 3/5`` for a fixed count; adaptive: ``round 4 (min 3), +-4.1%`` (the widest interval so far)."""
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
    by round) and the profile of its last warm-up run."""
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
            profiled = warm["zip2zip"]
            pre |= _zip2zip_prefill_metrics(
                runs["baseline"], method_runs, r_prompt, profiled.profile_s or {}, n
            )
            dec |= _zip2zip_decode_metrics(runs["baseline"], method_runs, profiled, n)
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
    base_runs: list[Run], zip_runs: list[Run], profiled: Run, n: int
) -> dict[str, Any]:
    """The speedups (paired by round), what zip2zip decoded, and the per-step profile of its warm-up run."""
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
                1e3 * (profiled.profile_s or {})[key] / profiled.num_steps,
                "ms",
                num_samples=profiled.num_steps,
            )
            for key in ("decode_select", "decode_codec", "decode_encoder", "decode_model")
        },
    }
