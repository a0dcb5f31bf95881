"""The hyper-encoder interface and the name -> class registry.

A hyper-encoder maps the member rows of N hypertokens, ``[N, m, d]`` right-padded to some m <= M, plus
a ``[N, m]`` bool mask of real members, to ``[N, d]`` (callers may drop padded columns, so a variant
must give the same vector for any m that holds all real members). It sees rows, not ids, so the same class serves the
input side (rows of the base input embedding) and the output side (rows of the base LM head). It is
context-free: a hypertoken's vector depends on its members only, which is what lets a generation loop
cache it like a KV cache. Every row passed in has at least one real member (callers never encode
empty codebook slots), so padding never has to be turned into a vector.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from zip2zip.modeling.config import HyperEncoderConfig
from zip2zip.registry import lookup

_REGISTRY: dict[str, type[HyperEncoder]] = {}


class HyperEncoder(nn.Module):
    """Base class: ``forward(member_rows [N, M, d], member_mask [N, M] bool) -> [N, d]``.

    ``reads_padding``: the variant's output depends on the pad slots, so callers must pass all M columns
    (no dropping of padded columns). ``switches``: the ``HyperEncoderConfig`` switches it implements.
    """

    reads_padding: bool = False
    switches: frozenset[str] = frozenset()

    def __init__(self, config: HyperEncoderConfig, *, hidden_size: int, max_subtokens: int) -> None:
        super().__init__()
        self.config = config
        self.hidden_size = hidden_size
        self.max_subtokens = max_subtokens

    def forward(self, member_rows: torch.Tensor, member_mask: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def init_output_scale(self, row_rms: float) -> None:
        """Before training: size what the encoder learns to add in units of its input rows.

        ``row_rms`` is the root mean square of the base rows this encoder reads (embedding or LM-head rows
        of the tokenizer's ids). Called once on fresh encoders by ``Zip2ZipForCausalLM.from_base``; a
        loaded checkpoint keeps its trained weights. Must not change the untrained output. No-op for
        variants without a learned part.
        """
        del row_rms


def register_hyper_encoder(name: str) -> Callable[[type[HyperEncoder]], type[HyperEncoder]]:
    """Class decorator adding a variant under ``name`` (what ``HyperEncoderConfig.name`` selects)."""

    def wrap(cls: type[HyperEncoder]) -> type[HyperEncoder]:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(
                f"hyper-encoder name {name!r} is already registered by {_REGISTRY[name].__name__}"
            )
        _REGISTRY[name] = cls
        return cls

    return wrap


def known_hyper_encoders() -> list[str]:
    return sorted(_REGISTRY)


def build_hyper_encoder(config: HyperEncoderConfig, *, hidden_size: int, max_subtokens: int) -> HyperEncoder:
    """Instantiate the variant ``config.name`` for a base model of width ``hidden_size``."""
    cls = lookup(dict(sorted(_REGISTRY.items())), config.name, kind="hyper-encoder")
    unsupported = sorted(config.changed_switches() - cls.switches)
    if unsupported:
        raise ValueError(
            f"hyper-encoder {config.name!r} has no switch {unsupported}; leave them at the default"
        )
    return cls(config, hidden_size=hidden_size, max_subtokens=max_subtokens)


def masked_mean(rows: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the real members only: ``[N, M, d]``, ``[N, M]`` -> ``[N, d]``.

    Example: rows [[a], [b], [pad]] with mask [1, 1, 0] -> (a + b) / 2.
    """
    weights = mask.to(rows.dtype).unsqueeze(-1)  # [N, M, 1]
    count = weights.sum(dim=1).clamp_min(1.0)  # [N, 1]
    return (rows * weights).sum(dim=1) / count  # [N, d]
