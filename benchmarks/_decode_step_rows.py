"""The rows of one (model, batch size) cell of ``benchmarks/decode_step.py``, from its raw timings: per method a
prefill row and a decode row per decode mode; zip2zip's hold their time ratios to the base model of the same
round and the per-step profile. Units: milliseconds; rates per second. Also the cell's line in the live view
and the summary printed at the end."""

from __future__ import annotations

import statistics
from typing import Any

from zip2zip.evaluation.results import BenchmarkResult, metric
from zip2zip.evaluation.timing import median_metric
from zip2zip.modeling.model import Zip2ZipPreTrainedModel

from ._decode_step_cell import Cell, CellSettings, Variant


def _timing(values_s: list[float], per: int = 1) -> dict[str, Any]:
    return median_metric([1e3 * v / per for v in values_s], "ms")


def _ratio(zip_s: list[float], base_s: list[float]) -> dict[str, Any]:
    ratios = [z / b for z, b in zip(zip_s, base_s, strict=True)]
    return metric(statistics.median(ratios), "ratio", num_samples=len(ratios), values=ratios)


def cell_rows(
    config: CellSettings, model_name: str, b: int, wrappers: dict[Variant, Zip2ZipPreTrainedModel], cell: Cell
) -> list:
    """The base model's rows, then each zip2zip variant's (keyed by its codebook size and encoder width, and a
    policy variant's also by its ``codebook_policy``)."""
    key = {"model": model_name, "batch_size": b}
    rows = _base_rows(config, key, b, cell)
    for c, model in wrappers.items():
        width = model.config.hyper_encoder.resolved_width(model.config.hidden_size)
        zkey = {**key, "method": "zip2zip", "max_codebook_size": c[0], "hyper_encoder_width": width}
        if c[2] is not None:
            zkey["codebook_policy"] = c[2]
        rows += _zip2zip_rows(config, zkey, b, c, cell)
    return rows


def _base_rows(config: CellSettings, key: dict[str, Any], b: int, cell: Cell) -> list:
    """The base model's prefill row and one decode row per decode mode."""
    steps, rows = config.num_decode_steps, []
    base_pre = [t.prefill_s for t in cell.base["greedy"]]
    rows.append(
        {
            **key,
            "method": "base",
            "phase": "prefill",
            "metrics": {
                "prefill_ms": _timing(base_pre),
                "num_prompt_ids_per_row": metric(config.prompt_base_tokens, "base ids", num_samples=b),
            },
        }
    )
    for mode in config.decode_modes:
        base_dec = [t.decode_s for t in cell.base[mode]]
        rows.append(
            {
                **key,
                "method": "base",
                "phase": "decode",
                "decode_mode": mode,
                "metrics": {
                    "decode_step_ms": _timing(base_dec, steps),
                    "decode_steps_per_s": metric(b * steps / statistics.median(base_dec), "steps/s"),
                    "base_tokens_per_s": metric(b * steps / statistics.median(base_dec), "base tokens/s"),
                    "num_decode_steps": metric(steps, "steps", num_samples=b),
                },
            }
        )
    return rows


def _zip2zip_rows(config: CellSettings, zkey: dict[str, Any], b: int, c: Variant, cell: Cell) -> list:
    """One wrapper's prefill row and one decode row per decode mode, each with its time ratio to the base."""
    steps, rows = config.num_decode_steps, []
    base_pre = [t.prefill_s for t in cell.base["greedy"]]
    pre = [t.prefill_s for t in cell.zip2zip[(c, "greedy")]]
    num_codes = [len(x) for x in cell.codes[(c, "greedy")]]
    rows.append(
        {
            **zkey,
            "phase": "prefill",
            "metrics": {
                "prefill_ms": _timing(pre),
                "prefill_time_ratio_vs_base": _ratio(pre, base_pre),
                "prompt_codec_ms": _timing(cell.codec_s[c]),
                "num_prompt_ids_per_row": metric(statistics.mean(num_codes), "compressed ids", num_samples=b),
                "prompt_compression_ratio": metric(
                    b * config.prompt_base_tokens / sum(num_codes),
                    "base ids per compressed id",
                    num_samples=b,
                ),
            },
        }
    )
    for mode in config.decode_modes:
        dec = [t.decode_s for t in cell.zip2zip[(c, mode)]]
        base_dec = [t.decode_s for t in cell.base[mode]]
        counts, med = cell.counts[(c, mode)], statistics.median(dec)
        rows.append(
            {
                **zkey,
                "phase": "decode",
                "decode_mode": mode,
                "metrics": {
                    "decode_step_ms": _timing(dec, steps),
                    "decode_step_time_ratio_vs_base": _ratio(dec, base_dec),
                    "decode_steps_per_s": metric(b * steps / med, "steps/s"),
                    "base_tokens_per_s": metric(counts["num_base_tokens_decoded"] / med, "base tokens/s"),
                    "num_decode_steps": metric(steps, "steps", num_samples=b),
                    "num_hypertokens_fed": metric(
                        counts["num_hypertokens_fed"], "hypertokens", num_samples=b * steps
                    ),
                    "num_entries_created": metric(
                        counts["num_entries_created"], "entries", num_samples=b * steps
                    ),
                    **{
                        f"profile_{k}_ms_per_step": metric(1e3 * v / steps, "ms", num_samples=steps)
                        for k, v in cell.profile_s[(c, mode)].items()
                    },
                    **(_policy_metrics(b, steps, mode, counts) if c[2] is not None else {}),
                },
            }
        )
    return rows


def _policy_metrics(b: int, steps: int, mode: str, counts: dict[str, int]) -> dict[str, Any]:
    """What a policy variant's codebook did and cost per step: entries removed (evicted or cleared), encoder
    passes and entries encoded, the head's mean hypertoken columns, and in forced mode the compression the
    stream kept (base ids per decoded id). Only policy variants report them, so that the main variants' rows
    keep the metrics their committed results and regression baselines have."""
    out = {
        "num_entries_removed": metric(counts["num_entries_removed"], "entries", num_samples=b * steps),
        "num_encoder_calls": metric(counts["num_encoder_calls"], "calls", num_samples=steps),
        "num_entries_encoded": metric(counts["num_entries_encoded"], "entries", num_samples=b * steps),
        "num_entries_in_head_per_step": metric(
            counts["num_head_slots"] / steps, "entries", num_samples=steps
        ),
    }
    if mode == "forced":
        out["decoded_compression_ratio"] = metric(
            counts["num_base_tokens_decoded"] / (b * steps), "base ids per decoded id", num_samples=b * steps
        )
    return out


def cell_line(rows: list[dict[str, Any]]) -> str:
    """``smollm2, batch 8: zip2zip/base time: prefill 0.62-0.70, greedy step 1.10-1.16; rounds: 3``: the range
    over the zip2zip variants of the median ratio of each phase (and decode mode)."""
    ratios: dict[str, list[float]] = {}
    for r in rows:
        if r["method"] != "zip2zip":
            continue
        if r["phase"] == "prefill":
            ratio = r["metrics"]["prefill_time_ratio_vs_base"]
            ratios.setdefault("prefill", []).append(ratio["value"])
        else:
            ratio = r["metrics"]["decode_step_time_ratio_vs_base"]
            ratios.setdefault(f"{r['decode_mode']} step", []).append(ratio["value"])
    spans = ", ".join(
        f"{name} {min(v):.2f}" + (f"-{max(v):.2f}" if max(v) > min(v) else "") for name, v in ratios.items()
    )
    first = rows[0]
    return f"{first['model']}, batch {first['batch_size']}: zip2zip/base time: {spans}; rounds: {ratio['num_samples']}"


def summary_lines(result: BenchmarkResult) -> list[str]:
    """The printed summary: per zip2zip decode row, its ratios to the base model and step times."""
    lines = [
        "model    B  C     enc.w policy mode    prefill ratio  step ratio  step ms (base -> zip2zip)  encoder ms/step"
    ]
    base_ms = {
        (r["model"], r["batch_size"], r["decode_mode"]): r["metrics"]["decode_step_ms"]["value"]
        for r in result.rows
        if r["method"] == "base" and r["phase"] == "decode"
    }
    prefill = {
        (
            r["model"],
            r["batch_size"],
            r["max_codebook_size"],
            r["hyper_encoder_width"],
            r.get("codebook_policy"),
        ): r["metrics"]["prefill_time_ratio_vs_base"]["value"]
        for r in result.rows
        if r["method"] == "zip2zip" and r["phase"] == "prefill"
    }
    for r in result.rows:
        if r["method"] == "zip2zip" and r["phase"] == "decode":
            m, b, c, mode = r["model"], r["batch_size"], r["max_codebook_size"], r["decode_mode"]
            w, policy = r["hyper_encoder_width"], r.get("codebook_policy")
            metrics = r["metrics"]
            encoder = metrics.get("profile_encoder_ms_per_step", {}).get("value", float("nan"))
            lines.append(
                f"{m:8} {b:<2} {c:<5} {w:<5} {policy or 'freeze':6} {mode:7} {prefill[(m, b, c, w, policy)]:13.3f}  "
                f"{metrics['decode_step_time_ratio_vs_base']['value']:10.3f}  "
                f"{base_ms[(m, b, mode)]:7.1f} -> {metrics['decode_step_ms']['value']:7.1f}        {encoder:6.2f}"
            )
    return lines
