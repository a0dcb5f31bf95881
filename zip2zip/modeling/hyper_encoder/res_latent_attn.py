"""The authors' ``res_latent_attn`` hyper-encoder (zip2zip 0.2.0 / zip2zip++), for loading their checkpoints.

Arithmetic: member rows -> optional ``proj_in`` to a narrower latent width -> + learned member positions
-> ``num_layers`` pre-norm blocks (attention whose keys are the real members, lower-triangular too when
``causal``; GELU MLP) -> final LayerNorm -> pooling (``causal``: the last real member; else the mean of
the real members) -> optional ``proj_out`` back to the model width -> + the first member's row when
``residual``. Padding never reaches a real member's value or the pooled vector, so the result does not
depend on how many pad slots are passed. Parameter names follow the authors' file layout.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zip2zip.modeling.config import HyperEncoderConfig

from .base import HyperEncoder, masked_mean, register_hyper_encoder


class _PreNormLayer(nn.Module):
    def __init__(self, width: int, num_heads: int, intermediate_size: int, eps: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.wq = nn.Linear(width, width, bias=False)
        self.wk = nn.Linear(width, width, bias=False)
        self.wv = nn.Linear(width, width, bias=False)
        self.wo = nn.Linear(width, width, bias=False)
        self.w1 = nn.Linear(width, intermediate_size, bias=False)
        self.w2 = nn.Linear(intermediate_size, width, bias=False)
        self.norm1 = nn.LayerNorm(width, eps=eps)
        self.norm2 = nn.LayerNorm(width, eps=eps)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor) -> torch.Tensor:
        n, m, d = x.shape
        h = self.norm1(x)
        q, k, v = (w(h).view(n, m, self.num_heads, -1).transpose(1, 2) for w in (self.wq, self.wk, self.wv))
        attn = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # [N, heads, M, head_dim]
        x = x + self.wo(attn.transpose(1, 2).reshape(n, m, d))
        return x + self.w2(F.gelu(self.w1(self.norm2(x))))


@register_hyper_encoder("res_latent_attn")
class ResLatentAttnHyperEncoder(HyperEncoder):
    """Latent-width pre-norm transformer with first-member residual (see the module docstring)."""

    switches = frozenset({"causal", "residual"})

    def __init__(self, config: HyperEncoderConfig, *, hidden_size: int, max_subtokens: int) -> None:
        super().__init__(config, hidden_size=hidden_size, max_subtokens=max_subtokens)
        width = config.resolved_width(hidden_size)
        heads = config.resolved_num_heads(hidden_size)
        ffn = config.intermediate_size if config.intermediate_size is not None else 4 * width
        self.proj_in = nn.Linear(hidden_size, width, bias=False) if width != hidden_size else None
        self.proj_out = nn.Linear(width, hidden_size, bias=False) if width != hidden_size else None
        self.pos_embed = nn.Embedding(max_subtokens, width)
        self.layers = nn.ModuleList(
            _PreNormLayer(width, heads, ffn, config.norm_eps) for _ in range(config.num_layers)
        )
        self.norm = nn.LayerNorm(width, eps=config.norm_eps)

    def forward(self, member_rows: torch.Tensor, member_mask: torch.Tensor) -> torch.Tensor:
        m = member_rows.shape[1]
        if m > self.max_subtokens:
            raise ValueError(f"member rows have M={m} but this encoder was built for {self.max_subtokens}")
        x = member_rows if self.proj_in is None else self.proj_in(member_rows)
        x = x + self.pos_embed.weight[:m].to(x.dtype)
        attn_mask = member_mask[:, None, None, :]  # [N, 1, 1, M] keys
        if self.config.causal:
            attn_mask = attn_mask & torch.ones(m, m, dtype=torch.bool, device=x.device).tril()
        for layer in self.layers:
            x = layer(x, attn_mask)
        x = self.norm(x)
        if self.config.causal:
            last = (member_mask.sum(dim=1) - 1).clamp_min(0)  # [N]
            pooled = x[torch.arange(x.shape[0], device=x.device), last]
        else:
            pooled = masked_mean(x, member_mask)
        if self.proj_out is not None:
            pooled = self.proj_out(pooled)
        return pooled + member_rows[:, 0] if self.config.residual else pooled  # [N, d]
