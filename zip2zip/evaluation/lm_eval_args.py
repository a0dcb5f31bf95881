"""What the ``zip2zip`` lm-eval model does with the ``--model_args`` of lm-eval's ``hf`` model.

A user switching ``--model hf`` to ``--model zip2zip`` keeps their ``--model_args``. Each ``hf`` argument the
zip2zip model does not take is either ignored with a note, when ignoring it cannot change a score (it only
tunes how ``hf`` loads or caches), or refused with the reason, when ignoring it would silently evaluate
something else (an adapter, quantisation, another revision). Any other unknown argument is an error.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

# hf arguments that only tune loading, caching or memory placement: no score depends on them.
IGNORED = {
    "truncation": "inputs are left-truncated to max_length as hf does by default",
    "logits_cache": "no logits are cached between requests",
    "use_fast_tokenizer": "the tokenizer is loaded as saved with the base model",
    "max_memory_per_gpu": "the model runs on one device",
    "max_cpu_memory": "the model runs on one device",
    "offload_folder": "nothing is offloaded",
}

# hf arguments whose values other than these would change what is evaluated if ignored.
HARMLESS_VALUES: dict[str, tuple[object, ...]] = {
    "backend": ("default", "causal"),
    "revision": ("main", None),
    "subfolder": ("", None),
    "parallelize": (False, None),
    "autogptq": (False, None),
    "gptqmodel": (False, None),
}
REFUSED = {
    "backend": "zip2zip wraps causal LMs only",
    "revision": "pass the folder of that revision as pretrained=",
    "subfolder": "pass the subfolder's path as pretrained=",
    "parallelize": "the model runs on one device",
    "autogptq": "quantised bases are not supported",
    "gptqmodel": "quantised bases are not supported",
    "peft": "a zip2zip checkpoint carries its own LoRA adapter; merge others into the base first",
    "delta": "delta weights are not supported; apply them to the base first",
    "tp_plan": "the model runs on one device",
    "softmax_dtype": "scores are always computed in float32",
    "mixed_precision_dtype": "use dtype= instead",
    "think_end_token": "chat templates and thinking traces are not applied",
    "enable_thinking": "chat templates and thinking traces are not applied",
    "chat_template_args": "chat templates are not applied",
}

DTYPES: dict[str, str | torch.dtype] = {
    "auto": "auto",
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}


def ignored_hf_arguments(arguments: Mapping[str, object]) -> dict[str, str]:
    """``{name: why it is ignored}`` for the ``hf`` arguments in ``arguments`` that need no action.

    Raises ValueError naming the first argument that is refused, or that no lm-eval model knows.
    """
    notes = {}
    for name, value in arguments.items():
        if value is None:
            continue
        if name in IGNORED:
            notes[name] = IGNORED[name]
        elif name in HARMLESS_VALUES and value in HARMLESS_VALUES[name]:
            continue
        elif name in REFUSED:
            raise ValueError(f"zip2zip model: {name}={value!r} is not supported: {REFUSED[name]}")
        else:
            raise ValueError(f"zip2zip model: unknown argument {name!r} (see zip2zip-lm-eval --help)")
    return notes


def parse_batch_size(batch_size: int | str, max_batch_size: int | None) -> tuple[int, bool]:
    """(batch size, whether to fit it) from lm-eval's ``batch_size``: an integer, or ``auto`` /
    ``auto:N`` (hf re-fits N times; here it is fitted once, on the first requests). A fitted size starts
    at ``max_batch_size`` (hf's default, 64)."""
    text = str(batch_size)
    if text.startswith("auto"):
        start = 64 if max_batch_size is None else int(max_batch_size)
        if start < 1:
            raise ValueError(f"max_batch_size={max_batch_size}: must be >= 1")
        return start, True
    try:
        size = int(text)
    except ValueError:
        raise ValueError(f"batch_size={batch_size!r}: expected an integer, 'auto' or 'auto:N'") from None
    if size < 1:
        raise ValueError(f"batch_size={batch_size}: must be >= 1")
    return size, False


def parse_dtype(dtype: str | torch.dtype) -> str | torch.dtype:
    """``auto`` (the checkpoint's own dtype, hf's default) or a floating dtype, by name or as given."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise ValueError(f"dtype={dtype!r}; expected one of {sorted(DTYPES)}")
    return DTYPES[dtype]
