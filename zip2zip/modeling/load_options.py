"""The Hugging Face-style options of ``Zip2ZipForCausalLM.from_pretrained``: dtype, device_map, Auto-class extras.

A transformers user passes ``dtype=`` (or its older name ``torch_dtype=``) as a torch dtype, its name or
``"auto"``, ``device_map=`` as a device, ``"auto"`` or a module -> device map, and the hub options
(``revision``, ``token``, ``cache_dir``, ``subfolder`` ...; ``HubOptions``). The wrapper runs on one device,
so a map is accepted only when it names one. ``AutoModelForCausalLM.from_pretrained`` adds the hub options
whether or not the user gave them, plus plumbing of its own (``config=``, ``adapter_kwargs=`` and
underscore-prefixed private flags); ``check_auto_class_arguments`` accepts that
plumbing and names anything else. This module interprets options; loading is ``model``'s and ``checkpoint``'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from zip2zip.modeling.config import MODEL_TYPE

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
AUTO = "auto"  # dtype: the one the weights were saved in; device_map: the first accelerator, else the CPU
# What AutoModelForCausalLM.from_pretrained passes on to a registered class besides the user's arguments
# and the hub options; names starting with "_" (e.g. "_from_auto") are its private flags and also pass.
_AUTO_CLASS_ARGUMENTS = frozenset({"config", "adapter_kwargs"})


@dataclass(frozen=True)
class HubOptions:
    """How to fetch from the Hugging Face hub, as transformers' ``from_pretrained`` takes it.

    ``revision`` and ``subfolder`` say where a zip2zip checkpoint (or a wrapped base) is; the others (cache,
    credentials, offline mode, forced download, proxies) also apply to the base model a checkpoint references.
    huggingface_hub >= 1.0 ignores ``proxies`` with a warning (it reads HTTP_PROXY / HTTPS_PROXY instead).
    """

    revision: str | None = None
    cache_dir: str | Path | None = None
    local_files_only: bool = False
    token: str | bool | None = None
    force_download: bool = False
    proxies: dict[str, str] | None = None
    subfolder: str = ""

    def __post_init__(self) -> None:
        if Path(self.subfolder).is_absolute() or ".." in Path(self.subfolder).parts:
            raise ValueError(
                f"subfolder={self.subfolder!r}: expected a relative folder inside the checkpoint"
            )

    def download_options(self) -> dict[str, Any]:
        """Keyword arguments of ``huggingface_hub``'s downloads and of transformers' ``from_pretrained``."""
        options = asdict(self)
        del options["subfolder"]
        return options

    def access_options(self) -> dict[str, Any]:
        """The options that apply to any repository: those of ``download_options`` but ``revision``."""
        options = self.download_options()
        del options["revision"]
        return options


def resolve_dtype(
    dtype: torch.dtype | str | None, torch_dtype: torch.dtype | str | None
) -> torch.dtype | str | None:
    """``dtype`` or its older name ``torch_dtype`` as a torch dtype, ``"auto"`` or None (the loader's default)."""
    if dtype is not None and torch_dtype is not None and dtype != torch_dtype:
        raise ValueError(f"dtype={dtype!r} and torch_dtype={torch_dtype!r} disagree; pass dtype= only")
    value = dtype if dtype is not None else torch_dtype
    if value is None or isinstance(value, torch.dtype) or value == AUTO:
        return value
    if isinstance(value, str) and value.removeprefix("torch.") in DTYPES:
        return DTYPES[value.removeprefix("torch.")]
    raise ValueError(f"dtype={value!r}; expected a torch dtype, one of {sorted(DTYPES)} or 'auto'")


def resolve_device(
    device_map: str | int | torch.device | Mapping[str, Any] | None, *, option: str = "device_map"
) -> torch.device | None:
    """The one device ``device_map`` names (None: leave the model where it loads, the CPU).

    ``"auto"`` is the first CUDA device, else MPS, else the CPU. A map is accepted when every module goes
    to the same device; spreading one model over several is not supported. A device that is not there
    (no CUDA, no MPS, a CUDA index past the last GPU) is an error naming ``option`` (e.g. ``--device``).
    """
    if device_map is None:
        return None
    if isinstance(device_map, Mapping):
        devices = {str(d) for d in device_map.values()}
        if len(devices) != 1:
            raise ValueError(
                f"device_map places modules on {sorted(devices)}; zip2zip runs on one device: "
                "pass one device, e.g. device_map='cuda:0' or 'cpu'"
            )
    target = next(iter(device_map.values())) if isinstance(device_map, Mapping) else device_map
    if target == AUTO:
        if torch.cuda.is_available():
            return torch.device("cuda:0")
        return torch.device("mps" if torch.backends.mps.is_available() else "cpu")
    given = f"{option}={device_map!r}"
    try:
        device = torch.device(f"cuda:{target}" if isinstance(target, int) else target)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"{given} is not a device ({error})") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{given} but CUDA is not available here; use 'cpu' or 'auto'")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"{given} but only {torch.cuda.device_count()} CUDA device(s) exist")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{given} but MPS is not available here; use 'cpu' or 'auto'")
    return device


def check_auto_class_arguments(arguments: Mapping[str, Any]) -> None:
    """Accept the plumbing ``AutoModelForCausalLM.from_pretrained`` adds; name anything else as unsupported."""
    unknown = sorted(k for k in arguments if k not in _AUTO_CLASS_ARGUMENTS and not k.startswith("_"))
    if unknown:
        raise TypeError(
            f"Zip2ZipForCausalLM.from_pretrained() does not take {unknown}: they do not apply to a zip2zip "
            "checkpoint (see help(zip2zip.Zip2ZipForCausalLM.from_pretrained) for the options it takes)"
        )
    config = arguments.get("config")
    if config is not None and getattr(config, "model_type", None) != MODEL_TYPE:
        raise TypeError(
            f"config={type(config).__name__} is not a zip2zip config: zip2zip settings come from the checkpoint"
        )
