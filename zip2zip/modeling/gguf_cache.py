"""GGUF bases converted once per machine. transformers takes ~17 s to read SmolLM2's 93 MB GGUF (it parses
the 49k-entry vocabulary twice and builds a tensor-name map per tensor) and ~1 s to read the same float32
weights from safetensors; every benchmark process loads the base, so the first load saves its conversion
under the user cache and later loads read that folder.

The weights are the same bit for bit: the GGUF is de-quantised to float32 either way, and the requested
dtype is applied when the folder is loaded. The folder is named by the GGUF's sha256 and the transformers
version that converted it, and appears whole or not at all (written aside, then renamed).
"""

from __future__ import annotations

import copy
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from zip2zip.data.tokenizers import cache_dir
from zip2zip.modeling.pretrained_cache import load_causal_lm

if TYPE_CHECKING:
    from transformers import PreTrainedModel


def _converted_folder(name: str, sha256: str) -> Path:
    """Where the conversion of the GGUF with this sha256 lives, whether made yet or not."""
    import transformers

    return cache_dir() / "bases" / f"{name}-{sha256[:16]}-transformers{transformers.__version__}"


def gguf_base_folder(name: str, gguf: Path, sha256: str) -> Path | None:
    """The converted folder of ``gguf``, converting it now if needed; None if the cache cannot be written
    (a read-only home): the caller then loads the GGUF itself."""
    folder = _converted_folder(name, sha256)
    if (folder / "config.json").is_file():
        return folder
    model = load_causal_lm(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32, trust_remote_code=False
    )
    aside = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
    try:
        _plain_copy(model).save_pretrained(str(aside))
        os.replace(aside, folder)
    except OSError:
        shutil.rmtree(aside, ignore_errors=True)
        # another process may have renamed its own copy into place first
        return folder if (folder / "config.json").is_file() else None
    return folder


def _plain_copy(model: torch.nn.Module) -> PreTrainedModel:
    """The de-quantised model without its GGUF marks (transformers refuses to save a model loaded from a
    GGUF, which it treats as quantised): the same config minus ``quantization_config``, the same tensors."""
    from transformers import AutoModelForCausalLM

    config = copy.deepcopy(model.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    with torch.device("meta"):
        plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(model.state_dict(), assign=True)
    plain.tie_weights()
    return plain
