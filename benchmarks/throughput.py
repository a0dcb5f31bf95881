"""Inference throughput (the paper's efficiency table): prefill and decode speed, zip2zip vs the bare model.

For each setting (a prompt of 256 / 512 / 1024 / 2048 base tokens + 256 generated base tokens, batch 1),
domain and decode mode, the bare Hugging Face model ("baseline") and ``Zip2ZipForCausalLM`` wrapped around the
*same* weights run on the same prompt text, after an untimed warm-up run each. A timed round runs both:
one prefill each (zip2zip's ``generation.prefill`` on the LZW-compressed prompt includes feeding the codec
and hyper-encoding every entry), then their decode loops in turns of 16 steps, so both see the same machine
and a round's speedup stays steady when the machine's speed drifts; short prefills are repeated in turns
(``_throughput_runs.py``). As many rounds
as each speedup's 95% interval needs to be within +-3% (at least 3, capped per cell), or ``--num-repeats``
(``_rounds.py``). The device is synchronised before every clock read. A decode step of either side = argmax
over the logits (the one device->host read), feed one id, one forward with the KV cache.

Decode modes:

* ``replay``: both sides step through the same real continuation text (the next 256 base ids of the
  document). The baseline feeds its base ids; zip2zip feeds the compressed stream an ideal model would
  emit: at each step the longest hypertoken that exists in its codebook at that step (never the LZW
  same-step code, which the head does not offer). Both decode exactly the same text, so the cost
  reflects realistic compression whatever the weights (untrained encoders are fine here).
* ``generate``: greedy continuation of each side's own choosing, EOS ignored; the baseline takes 256
  steps, zip2zip steps until it has produced >= 256 base tokens (counted as 256 delivered).

Reported (median, stdev and raw samples): prefill time and base tokens/s; decode steps/s, base tokens/s and
UTF-8 bytes/s; zip2zip/baseline speedups paired by round; the compression ratio r achieved (prompt: P /
prompt ids; decode: base tokens / steps) and speedup / r; on CUDA the roofline fraction. From the warm-up
runs (one method at a time; on CPU, the prefill and 32 decode steps): peak memory (``PeakMemory``) and a
per-part profile of zip2zip (codec, hyper-encoder, model). Tokenisation and LZW are timed apart (``host``
rows). Not measured: sampling, batching > 1, output quality.

``--checkpoint`` (folder or hub id; ours or the authors') gives zip2zip its trained weights; the baseline is
then the checkpoint's base model (model ``checkpoint`` if not the preset's), on the checkpoint's tokenizer.

    python -m benchmarks.throughput                       # device auto; CPU: SmolLM2-135M (time: README, Run times)
    python -m benchmarks.throughput --device cuda --checkpoint epfl-dlab/zip2zip-pp-Phi-3.5-mini-instruct
    python -m benchmarks.throughput --smoke --out /tmp/throughput.json
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch

from zip2zip.config_cli import Names, check_names, option
from zip2zip.data.corpora import CORPORA, SOURCES
from zip2zip.evaluation.devices import device_sync
from zip2zip.evaluation.results import BenchmarkResult
from zip2zip.modeling.base_models import BASE_MODELS
from zip2zip.registry import lookup

from ._checkpoints import CHECKPOINT_BASE, checked_checkpoint
from ._cli import (
    add_resume_argument,
    argument_type,
    check_at_least,
    new_command_line,
    parse_args,
    run_and_write,
)
from ._devices import device_tag, resolve_device
from ._progress import CellProgress
from ._rounds import Rounds
from ._throughput_inputs import Inputs, cell_key, document_ids, prepare_inputs, run_assets
from ._throughput_loops import measure_cell
from ._throughput_models import load_base, model_for_checkpoint, wrap
from ._throughput_previous import kept_cells, same_device_check
from ._throughput_runs import FULL_RUN_ROUNDS
from ._throughput_summary import cell_line, summary_lines

MODES = ("replay", "generate")
MODELS = (*BASE_MODELS, CHECKPOINT_BASE)  # the last: the base of --checkpoint
DTYPES = ("float32", "bfloat16", "float16")


def _device(text: str) -> str:
    """A ``--device`` value as the device it names here (``auto`` -> ``cuda``, ``mps`` or ``cpu``)."""
    return str(resolve_device(text))


@dataclass(frozen=True)
class Config:
    """Defaults are the paper's settings on the CPU preset; ``from_name("cuda"|"mps"|"cpu")``, ``smoke()``."""

    model: str = option(
        "smollm2",
        f"{', '.join(MODELS)} ({CHECKPOINT_BASE}: the base of --checkpoint)",
        parse=Names("model", MODELS),
    )
    checkpoint: str | None = option(
        None,
        "zip2zip checkpoint, ours or the authors' (folder or Hugging Face hub id): its trained weights for "
        "zip2zip, its base model for the baseline; none = a fresh wrapper",
        parse=checked_checkpoint,
    )
    device: str = option(
        "cpu", "auto (cuda > mps > cpu), cuda[:N], mps or cpu; picks the preset", parse=_device
    )
    dtype: str = option("float32", ", ".join(DTYPES), parse=Names("dtype", DTYPES))
    prompt_base_tokens: tuple[int, ...] = option((256, 512, 1024, 2048), "prompt lengths in base tokens")
    new_base_tokens: int = option(256, "generated base tokens per run")
    modes: tuple[str, ...] = option(("replay",), "replay and/or generate", parse=Names("mode", MODES))
    corpora: tuple[str, ...] = option(
        ("code",), "text domains of the prompts", parse=Names("corpus", tuple(CORPORA))
    )
    corpus_source: str = option("offline", ", ".join(SOURCES), parse=Names("corpus source", SOURCES))
    max_subtokens: int = option(3, "M, base ids per hypertoken at most")
    max_codebook_size: int = option(2048, "hypertokens per sequence at most")
    num_repeats: int | None = option(
        None, f"timed rounds (>= {FULL_RUN_ROUNDS}); none = adaptive (_rounds.py)"
    )
    target_ratio_half_width: float = option(0.03, "adaptive: until each speedup's 95% interval is +- this")
    min_rounds: int = option(FULL_RUN_ROUNDS, "adaptive: timed rounds per cell at least")
    max_cell_seconds: float = option(100.0, "adaptive: timed rounds per cell stop after this long")
    decode_block_steps: int = option(
        16, "a timed round runs the two methods in turns of this many decode steps (drift hits both alike)"
    )
    prefill_seconds_per_round: float = option(
        2.0, "a timed round repeats short prefills (at most 8 times) until each side's take about this long"
    )
    num_warmup: int = option(1, "untimed rounds first (they also give the profile and memory peaks)")
    warmup_decode_steps: int | None = option(
        32, "decode steps of a warm-up run (its profile and memory peak cover these); none = all"
    )
    # One torch thread on CPU: on a shared 2-core CPU two OpenMP threads spin at every barrier
    # and a SmolLM2 step slowed from ~60 ms to ~500 ms whenever another process held a core.
    num_threads: int | None = option(1, "torch intra-op threads; none = torch's default")
    memory_bandwidth_gb_per_s: float | None = option(
        None, "GPU memory bandwidth for the roofline; none = the datasheet table"
    )
    allow_random_weights: bool = option(
        True, "phi-3.5-mini without hub access: random weights of the same shape"
    )
    target_speedup_fraction_of_r: float = option(
        0.9, "the target speedup, as a fraction of the compression ratio r"
    )
    seed: int = option(0, "seed of random weights")

    def __post_init__(self) -> None:
        check_names(self)
        if self.model == CHECKPOINT_BASE and not self.checkpoint:
            raise ValueError(
                f"model {CHECKPOINT_BASE!r} is the base of --checkpoint, but no checkpoint is given"
            )
        if not self.prompt_base_tokens:
            raise ValueError("prompt_base_tokens: give at least one prompt length")
        check_at_least(self, 1, "prompt_base_tokens", "new_base_tokens")
        check_at_least(
            self, 1, "num_warmup", hint=" (the warm-up run also yields the profile and memory peaks)"
        )
        Rounds.of(self)  # checks num_repeats and the adaptive settings
        check_at_least(self, 2, "max_subtokens", hint=": a hypertoken merges at least 2 base ids")
        check_at_least(
            self, 1, "max_codebook_size", "num_threads", "decode_block_steps", "warmup_decode_steps"
        )
        check_at_least(self, 1e-9, "memory_bandwidth_gb_per_s", "prefill_seconds_per_round")
        if not 0 < self.target_speedup_fraction_of_r <= 1:
            raise ValueError(
                f"target_speedup_fraction_of_r={self.target_speedup_fraction_of_r}: must be in (0, 1]"
            )

    @classmethod
    def from_name(cls, name: str) -> Config:
        """Device presets: CUDA = Phi-3.5-mini bf16 (the paper's model), MPS = the same in fp16, CPU = SmolLM2."""
        gpu: dict[str, Any] = {
            "model": "phi-3.5-mini",
            "modes": MODES,
            "corpora": ("code", "math", "chat", "multilingual", "web"),
            "corpus_source": "auto",
            "num_threads": None,
            "warmup_decode_steps": None,  # fast enough to warm up on the whole run
        }
        presets = {
            "cpu": cls(),
            "cuda": cls(device="cuda", dtype="bfloat16", **gpu),
            "mps": cls(device="mps", dtype="float16", **gpu),
        }
        return lookup(presets, name, kind="preset")

    @classmethod
    def smoke(cls) -> Config:
        """Seconds on CPU: tiny random model, UTF-8 byte tokenizer, two domains, both modes."""
        return cls(
            model="tiny",
            prompt_base_tokens=(64, 128),
            new_base_tokens=24,
            modes=MODES,
            corpora=("code", "chat"),
            max_codebook_size=256,
            num_repeats=2,
        )


# --------------------------------------------------------------------------------------- run
# What identifies a row (named by in the regression check): its cell (corpus, prompt length, mode; what
# ``--resume`` keeps) and what was timed in it (method, phase: ``_throughput_loops.measure_cell``).
ROW_KEYS = ("corpus", "prompt_base_tokens", "mode", "method", "phase")


def run(
    config: Config,
    *,
    status: str = "full",
    previous: list[dict[str, Any]] | None = None,
    previous_assets: dict[str, Any] | None = None,
    on_progress: Callable[[list[dict[str, Any]], dict[str, Any]], None] | None = None,
) -> BenchmarkResult:
    """Measure every (domain, prompt length, mode) cell; cells in ``previous`` rows are kept (``--resume``).
    After each new cell, ``on_progress(rows so far, assets)`` (the caller saves them for ``--resume``)."""
    started = time.perf_counter()
    if config.num_threads is not None:
        torch.set_num_threads(config.num_threads)
    device = resolve_device(config.device)
    sync = device_sync(device)
    loaded = load_base(config, device)
    base, tok = loaded.model, loaded.tokenizer
    model, wrap_asset = wrap(config, base, tok)
    assets = run_assets(config.checkpoint, tok, device, {**loaded.provenance, **wrap_asset})
    needed = max(config.prompt_base_tokens) + config.new_base_tokens
    rows, done, kept_cell_assets = kept_cells(config, previous or [], previous_assets or {})
    if kept_cell_assets is not None:
        assets["cells"] = kept_cell_assets

    cells = [(c, p, mode) for c in config.corpora for p in config.prompt_base_tokens for mode in config.modes]
    with CellProgress("throughput", total=len(cells), num_kept=len(done & set(cells))) as progress:
        for corpus_name in config.corpora:
            ids, assets["corpora"][corpus_name] = document_ids(
                corpus_name, tok, needed, seed=config.seed, source=config.corpus_source
            )
            for p in config.prompt_base_tokens:
                inputs: Inputs = prepare_inputs(model, tok, ids[:p], ids[p : p + config.new_base_tokens])
                for mode in config.modes:
                    if (corpus_name, p, mode) in done:
                        continue
                    key = cell_key(config.model, corpus_name, p, config.new_base_tokens, mode)
                    progress.start(f"{corpus_name} {key['setting']} {mode}")
                    cell_rows, cell_assets = measure_cell(
                        config, base, model, tok, inputs, mode, device, sync, on_round=progress.note
                    )
                    rows.extend({**key, **r} for r in cell_rows)
                    assets.setdefault("cells", {})[f"{corpus_name}/{p}/{mode}"] = cell_assets
                    done.add((corpus_name, p, mode))
                    progress.finish(cell_line(key, cell_rows))
                    if on_progress is not None:
                        on_progress(rows, assets)
    return BenchmarkResult(
        benchmark="throughput",
        status=status,
        config=asdict(config),
        rows=rows,
        duration_s=time.perf_counter() - started,
        assets=assets,
    )


def _presets(first: argparse.Namespace) -> Config:
    """The defaults: the smoke preset, else the preset of ``--device``'s type; on that device."""
    config = Config.smoke() if first.smoke else Config.from_name(torch.device(first.device).type)
    return dataclasses.replace(config, device=first.device)


def main(argv: Sequence[str] | None = None) -> None:
    command = new_command_line("throughput", Config, __doc__, presets=_presets)
    command.read_first("--device", default="auto", type=argument_type(_device))
    add_resume_argument(command, kept="keep finished cells", same="config")
    parsed = parse_args(command, argv)
    try:
        model = model_for_checkpoint(parsed.config, given="model" in parsed.given)
    except ValueError as exc:
        command.error(str(exc))
    config = dataclasses.replace(parsed.config, model=model)
    if not parsed.args.smoke and Rounds.of(config).fewest < FULL_RUN_ROUNDS:
        command.error(
            f"a full run needs >= {FULL_RUN_ROUNDS} rounds per cell: --num-repeats/--min-rounds (or pass --smoke)"
        )
    tag = device_tag(torch.device(config.device))
    ignore = {"prompt_base_tokens", "modes", "corpora"}  # cells: a resumed run may measure more or fewer
    run_and_write(
        command,
        dataclasses.replace(parsed, config=config),
        benchmark="throughput",
        run=run,
        summary_lines=summary_lines,
        config_dict=asdict(config),
        must_match=[k for k in asdict(config) if k not in ignore],
        row_keys=ROW_KEYS,
        device=tag,
        check_existing=same_device_check(command, tag),
    )


if __name__ == "__main__":
    main()
