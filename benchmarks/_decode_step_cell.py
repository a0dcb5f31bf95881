"""The inputs and timed rounds of one (model, batch size) cell of ``benchmarks/decode_step.py``: the prompt rows
(CPython standard-library source), their compressed forms per zip2zip variant, and the interleaved timed rounds
of the base model and every variant. It exists so that the script shows what is measured and this module how;
the rows built from the timings (and the printed summary) are ``_decode_step_rows``."""

from __future__ import annotations

import sysconfig
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from zip2zip.codec.lzw import LZWStream
from zip2zip.evaluation.decoders import BaseDecoder, Zip2ZipDecoder
from zip2zip.evaluation.devices import device_sync
from zip2zip.evaluation.timing import DecodeTiming, time_decode
from zip2zip.inference.tokenization import compress_ids
from zip2zip.modeling.model import Zip2ZipPreTrainedModel

from ._rounds import Rounds, RoundSettings

PROMPT_FILES = (
    "argparse.py",
    "dataclasses.py",
    "functools.py",
    "textwrap.py",
    "json/decoder.py",
    "csv.py",
    "heapq.py",
    "string.py",
)
# (max_codebook_size C, hyper-encoder width (None = d), codebook policy of a policy variant (None = the main
# variants' codec: freeze))
Variant = tuple[int, int | None, str | None]


class CellSettings(RoundSettings, Protocol):
    """What this module reads of ``decode_step.Config`` (a Protocol, so that it need not import the script)."""

    @property
    def decode_modes(self) -> tuple[str, ...]: ...
    @property
    def max_subtokens(self) -> int: ...
    @property
    def prompt_base_tokens(self) -> int: ...
    @property
    def num_decode_steps(self) -> int: ...
    @property
    def num_warmup(self) -> int: ...


def prompt_texts(encode: Any, config: CellSettings, batch_size: int) -> list[list[int]]:
    """Base ids of one stdlib file per row: the prompt plus enough continuation for forced decoding."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    needed = config.prompt_base_tokens + config.max_subtokens * config.num_decode_steps + 8
    texts = []
    for row in range(batch_size):
        name = PROMPT_FILES[row % len(PROMPT_FILES)]
        ids = encode((stdlib / name).read_text(encoding="utf-8"))
        if len(ids) < needed:
            raise ValueError(f"{name} has only {len(ids)} base tokens; this run needs {needed}")
        texts.append(ids[:needed])
    return texts


def _forced_codes(
    model: Zip2ZipPreTrainedModel, ids: list[int], config: CellSettings
) -> tuple[list[int], list[int]]:
    """(prompt codes covering <= prompt_base_tokens base ids, the next num_decode_steps codes) of one stream."""
    full = compress_ids(ids, model.compression).ids
    stream = LZWStream(model.compression)
    cut = 0
    while len(stream.base_ids) + len(stream.expand(full[cut])) <= config.prompt_base_tokens:
        stream.feed(full[cut])
        cut += 1
    forced = full[cut : cut + config.num_decode_steps]
    if len(forced) < config.num_decode_steps:
        raise ValueError("continuation too short for forced decoding")
    return full[:cut], forced


@dataclass
class Cell:
    """Inputs and raw timings of one (model, batch size) cell."""

    prompts: list[list[int]]  # base prompt ids, equal length
    forced_base: list[list[int]]
    codes: dict[tuple[Variant, str], list[list[int]]]  # (variant, mode) -> compressed prompts
    forced_codes: dict[Variant, list[list[int]]]
    codec_s: dict[Variant, list[float]]
    base: dict[str, list[DecodeTiming]]  # mode -> timed rounds
    zip2zip: dict[tuple[Variant, str], list[DecodeTiming]]
    counts: dict[tuple[Variant, str], dict[str, int]]
    profile_s: dict[tuple[Variant, str], dict[str, float]]  # step part -> seconds over all steps


def prepare_cell(
    config: CellSettings, wrappers: dict[Variant, Zip2ZipPreTrainedModel], texts: list[list[int]]
) -> Cell:
    p, steps = config.prompt_base_tokens, config.num_decode_steps
    cell = Cell([t[:p] for t in texts], [t[p : p + steps] for t in texts], {}, {}, {}, {}, {}, {}, {})
    for c, model in wrappers.items():
        cell.codec_s[c] = []
        for _ in range(Rounds.of(config).fewest):
            start = time.perf_counter()
            cell.codes[(c, "greedy")] = [compress_ids(x, model.compression).ids for x in cell.prompts]
            cell.codec_s[c].append(time.perf_counter() - start)
        pairs = [_forced_codes(model, t, config) for t in texts]
        cell.codes[(c, "forced")] = [a for a, _ in pairs]
        cell.forced_codes[c] = [b for _, b in pairs]
    return cell


def _zip2zip_decoder(
    cell: Cell, c: Variant, mode: str, model: Zip2ZipPreTrainedModel, steps: int
) -> Zip2ZipDecoder:
    forced = cell.forced_codes[c] if mode == "forced" else None
    return Zip2ZipDecoder(model, cell.codes[(c, mode)], max_steps=steps, forced=forced)


def time_ratios(cell: Cell) -> dict[str, list[float]]:
    """zip2zip / base time of every variant, one per timed round: prefill (greedy rounds) and each mode's decode."""
    ratios = {}
    for ((c, width, policy), mode), timings in cell.zip2zip.items():
        pairs = list(zip(timings, cell.base[mode], strict=True))
        variant = (
            f"C={c}" + (f" width={width}" if width is not None else "") + (f" {policy}" if policy else "")
        )
        if mode == "greedy":
            ratios[f"prefill {variant}"] = [z.prefill_s / b.prefill_s for z, b in pairs]
        ratios[f"decode {variant} {mode}"] = [z.decode_s / b.decode_s for z, b in pairs]
    return ratios


def measure_cell(
    config: CellSettings,
    base: Any,
    wrappers: dict[Variant, Zip2ZipPreTrainedModel],
    cell: Cell,
    *,
    on_round: Callable[[str], None] = lambda text: None,
) -> dict[str, Any]:
    """Warm-up rounds, then timed rounds (as many as ``Rounds.of(config)`` says) of (base, each variant) per
    mode, then one profiled zip2zip run per variant and mode. ``on_round(text)`` says which round starts (the
    live view). Returns what adaptive rounds reached (nothing for a fixed count)."""
    steps, sync = config.num_decode_steps, device_sync(base.device)
    for mode in config.decode_modes:
        cell.base[mode] = []
        for c in wrappers:
            cell.zip2zip[(c, mode)] = []
    for repeat in range(config.num_warmup):
        on_round(f"warm-up {repeat + 1}/{config.num_warmup}")
        _round(config, base, wrappers, cell, sync)
    rounds = Rounds.of(config)
    started = time.perf_counter()
    for repeat in rounds.run(lambda: time_ratios(cell)):
        on_round(f"round {repeat + 1}" + (f"/{rounds.num_repeats}" if rounds.num_repeats else ""))
        for mode, (base_timing, zip_timings) in _round(config, base, wrappers, cell, sync).items():
            cell.base[mode].append(base_timing)
            for c, timing in zip_timings.items():
                cell.zip2zip[(c, mode)].append(timing)
    reached = rounds.record(time_ratios(cell), time.perf_counter() - started)
    for c, model in wrappers.items():
        for mode in config.decode_modes:
            decoder = _zip2zip_decoder(cell, c, mode, model, steps)
            cell.profile_s[(c, mode)] = time_decode(decoder, sync=sync, profile=True).profile_s
    return reached


def _round(
    config: CellSettings,
    base: Any,
    wrappers: dict[Variant, Zip2ZipPreTrainedModel],
    cell: Cell,
    sync: Callable[[], None],
) -> dict[str, tuple[DecodeTiming, dict[Variant, DecodeTiming]]]:
    """One round: per mode, the base model then every variant (mode -> (base timing, variant -> timing))."""
    steps, timings = config.num_decode_steps, {}
    for mode in config.decode_modes:
        forced = cell.forced_base if mode == "forced" else None
        base_timing = time_decode(BaseDecoder(base, cell.prompts, max_steps=steps, forced=forced), sync=sync)
        zip_timings = {}
        for c, model in wrappers.items():
            decoder = _zip2zip_decoder(cell, c, mode, model, steps)
            zip_timings[c] = time_decode(decoder, sync=sync)
            cell.counts[(c, mode)] = {
                "num_hypertokens_fed": decoder.num_hypertokens_fed,
                "num_base_tokens_decoded": sum(len(ids) for ids in decoder.decoded_base_ids),
                "num_entries_created": decoder.num_entries_created,
                "num_entries_removed": decoder.num_entries_removed,
                "num_encoder_calls": decoder.num_encoder_calls,
                "num_entries_encoded": decoder.num_entries_encoded,
                "num_head_slots": decoder.num_head_slots,
            }
        timings[mode] = (base_timing, zip_timings)
    return timings
