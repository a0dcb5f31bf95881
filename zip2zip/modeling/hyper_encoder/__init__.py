"""Hyper-encoders: one vector per hypertoken from the M base rows it merges.

Importing this package registers every variant; add a variant by writing one file here that
decorates its class with ``@register_hyper_encoder("name")`` and importing it below.
"""

from __future__ import annotations

from . import mean, res_latent_attn, transformer, upstream_transformer
from .base import HyperEncoder, build_hyper_encoder, known_hyper_encoders, masked_mean, register_hyper_encoder

__all__ = [
    "HyperEncoder",
    "build_hyper_encoder",
    "known_hyper_encoders",
    "masked_mean",
    "mean",
    "register_hyper_encoder",
    "res_latent_attn",
    "transformer",
    "upstream_transformer",
]
