"""Parameter-free hyper-encoder: the mean of the member rows.

Useful as an ablation and as the exact starting point of the transformer variant (which adds a
zero-initialised residual to this mean). Order-blind: (a, b) and (b, a) get the same vector.
"""

from __future__ import annotations

import torch

from .base import HyperEncoder, masked_mean, register_hyper_encoder


@register_hyper_encoder("mean")
class MeanHyperEncoder(HyperEncoder):
    def forward(self, member_rows: torch.Tensor, member_mask: torch.Tensor) -> torch.Tensor:
        return masked_mean(member_rows, member_mask)  # [N, d]
