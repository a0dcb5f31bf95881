"""What the Hugging Face Auto classes hold for model type ``zip2zip`` (registered by ``auto_registration``).

``Zip2ZipHFConfig`` is what ``AutoConfig`` reads from a checkpoint's ``config.json``: only the model type
(the zip2zip settings stay in ``zip2zip_config.json``). ``Zip2ZipAutoLoader`` is what
``AutoModelForCausalLM`` calls: its ``from_pretrained`` returns a ``zip2zip.Zip2ZipForCausalLM``. It is a
loader rather than that class so that registering imports neither the model code nor the codec's
compiler; ``AutoModelForCausalLM.from_config`` is not supported (a zip2zip model needs its base).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from transformers import PreTrainedConfig

from zip2zip.modeling.config import MODEL_TYPE

if TYPE_CHECKING:
    from zip2zip.inference.causal_lm import Zip2ZipForCausalLM


class Zip2ZipHFConfig(PreTrainedConfig):
    """The ``config.json`` of a zip2zip checkpoint, as transformers sees it."""

    model_type = MODEL_TYPE


class Zip2ZipAutoLoader:
    """``AutoModelForCausalLM``'s entry for ``Zip2ZipHFConfig``."""

    config_class = Zip2ZipHFConfig

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path, *args: Any, **kwargs: Any) -> Zip2ZipForCausalLM:
        from zip2zip.inference.causal_lm import Zip2ZipForCausalLM
        from zip2zip.modeling.pretrained_cache import refuse_zip2zip_base

        refuse_zip2zip_base()
        if args:
            raise TypeError(
                f"Zip2ZipForCausalLM.from_pretrained() takes no positional model arguments: {args}"
            )
        return Zip2ZipForCausalLM.from_pretrained(name_or_path, **kwargs)
