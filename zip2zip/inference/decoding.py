"""``DecodingConfig`` (how generation picks ids and when it stops) and its construction from Hugging Face options.

A transformers user describes decoding with ``generate()`` keyword options or a ``GenerationConfig``;
``decoding_config_from_hf`` turns those into a ``DecodingConfig``, naming any option zip2zip generation
does not implement instead of ignoring it. This module runs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

BUDGET_UNITS = ("steps", "base_tokens")


@dataclass(frozen=True)
class DecodingConfig:
    """How to pick ids and when to stop.

    ``max_new_tokens`` counts model steps (one emitted id, base or hyper) when ``budget_unit="steps"``,
    or generated base tokens after decompression when ``"base_tokens"`` (the output is then cut to
    exactly that many base ids, since the last hypertoken may overshoot by up to M - 1).
    ``canonical`` masks the codes the parse cannot produce after the previous phrase (``inference.canonical``),
    so the emitted codes are the scoring parse of the generated text; off by default, the paper's behaviour.
    """

    max_new_tokens: int = 128
    budget_unit: str = "steps"
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    stop_strings: tuple[str, ...] = ()
    eos_token_ids: tuple[int, ...] | None = None
    ignore_eos: bool = False
    seed: int = 0
    canonical: bool = False

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens={self.max_new_tokens} must be >= 1")
        if self.budget_unit not in BUDGET_UNITS:
            raise ValueError(f"budget_unit={self.budget_unit!r}; expected one of {BUDGET_UNITS}")
        if not self.temperature > 0:
            raise ValueError(f"temperature={self.temperature} must be > 0 (use do_sample=False for greedy)")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"top_k={self.top_k} must be >= 1 or None")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ValueError(f"top_p={self.top_p} must be in (0, 1] or None")
        if isinstance(self.stop_strings, str):
            raise TypeError("stop_strings must be a tuple of strings, not one string")


class GenerationConfigLike(Protocol):
    """What is read of a ``transformers.GenerationConfig``: the options that were set."""

    def to_diff_dict(self) -> dict[str, Any]: ...


# Hugging Face generate() options zip2zip generation implements.
SUPPORTED_HF_OPTIONS = (
    "max_new_tokens",
    "do_sample",
    "temperature",
    "top_k",
    "top_p",
    "eos_token_id",
    "stop_strings",
)
# Options that change nothing at these values (transformers' own neutral values).
_NEUTRAL_HF_OPTIONS: dict[str, object] = {
    "num_beams": 1,
    "num_return_sequences": 1,
    "repetition_penalty": 1.0,
    "length_penalty": 1.0,
    "min_new_tokens": 0,
    "min_length": 0,
    "use_cache": True,
    "output_attentions": False,
    "output_hidden_states": False,
    "output_scores": False,
    "output_logits": False,
    "return_dict_in_generate": False,
}
_UNSET = object()
# Ids the prompts already carry or the caller handles, and bookkeeping fields of a GenerationConfig.
_IGNORED_HF_OPTIONS = frozenset(
    {"pad_token_id", "bos_token_id", "transformers_version", "_from_model_config"}
)


def decoding_config_from_hf(
    generation_config: GenerationConfigLike | None, options: Mapping[str, Any]
) -> DecodingConfig:
    """A ``GenerationConfig`` and/or ``generate()`` keyword options (these win) -> ``DecodingConfig``.

    As in transformers, ``max_new_tokens`` counts tokens of the output, i.e. base tokens (a hypertoken
    step adds several; the last one is cut to the budget), and sampling options are ignored without
    ``do_sample=True``. An option set to a value zip2zip generation does not implement raises ValueError
    naming it (e.g. ``num_beams=4``); the base model's own generation config is not consulted beyond EOS.
    """
    settings: dict[str, Any] = {}
    if generation_config is not None:
        if not hasattr(generation_config, "to_diff_dict"):
            raise TypeError(
                f"generation_config must be a transformers.GenerationConfig, got {type(generation_config).__name__}"
            )
        settings.update(generation_config.to_diff_dict())
    settings.update({k: v for k, v in options.items() if v is not None})
    unsupported = sorted(
        f"{key}={value!r}"
        for key, value in settings.items()
        if key not in SUPPORTED_HF_OPTIONS
        and key not in _IGNORED_HF_OPTIONS
        and _NEUTRAL_HF_OPTIONS.get(key, _UNSET) != value
    )
    if unsupported:
        raise ValueError(
            f"zip2zip generation does not support {', '.join(unsupported)}; "
            f"supported options: {', '.join(SUPPORTED_HF_OPTIONS)}"
        )
    fields: dict[str, Any] = {"budget_unit": "base_tokens"}
    if "max_new_tokens" in settings:
        fields["max_new_tokens"] = int(settings["max_new_tokens"])
    if settings.get("do_sample"):
        fields["do_sample"] = True
        fields.update({k: settings[k] for k in ("temperature", "top_k", "top_p") if k in settings})
    eos = settings.get("eos_token_id")
    if eos is not None:
        fields["eos_token_ids"] = (int(eos),) if isinstance(eos, int) else tuple(int(i) for i in eos)
    stop = settings.get("stop_strings")
    if stop is not None:
        fields["stop_strings"] = (stop,) if isinstance(stop, str) else tuple(stop)
    return DecodingConfig(**fields)


def as_decoding_config(config: DecodingConfig | GenerationConfigLike | None) -> DecodingConfig:
    """``generate``'s ``config``: a ``DecodingConfig`` as is, a ``GenerationConfig`` converted, None the default."""
    if config is None:
        return DecodingConfig()
    if isinstance(config, DecodingConfig):
        return config
    return decoding_config_from_hf(config, {})
