"""The authors' ``transformer`` hyper-encoder (PyPI ``zip2zip`` 0.2.0), for loading their checkpoints.

Arithmetic, which their trained weights expect: member rows (pad slots hold the pad id's own row) plus an
optional learned member-position embedding -> ``num_layers`` post-norm blocks (``x = LN(x + attn(x))``,
``x = LN(x + fc2(gelu(fc1 x)))``, bias-free linears) whose attention pairs only real members; a pad
query attends to nothing and gets a zero attention output -> unmasked mean over all M slots, pads
included. No final norm, no residual. Because pads enter the mean, the vector of an entry depends on
how many pad slots it has: this variant needs the full ``[N, M]`` member table (``reads_padding``).
Parameter names follow the authors' file layout, so their ``zip2zip_encoders.safetensors`` loads by name.
Not for training new models (the project's ``transformer`` variant is the one to train).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zip2zip.modeling.config import HyperEncoderConfig

from .base import HyperEncoder, register_hyper_encoder


class _SelfAttention(nn.Module):
    def __init__(self, width: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q_proj = nn.Linear(width, width, bias=False)
        self.k_proj = nn.Linear(width, width, bias=False)
        self.v_proj = nn.Linear(width, width, bias=False)
        self.o_proj = nn.Linear(width, width, bias=False)

    def forward(self, x: torch.Tensor, member_mask: torch.Tensor) -> torch.Tensor:
        n, m, d = x.shape
        q, k, v = (
            proj(x).view(n, m, self.num_heads, -1).transpose(1, 2)
            for proj in (self.q_proj, self.k_proj, self.v_proj)
        )
        pairs = (member_mask[:, :, None] & member_mask[:, None, :])[:, None]  # [N, 1, M, M]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=pairs)  # [N, heads, M, head_dim]
        out = out.transpose(1, 2).reshape(n, m, d)
        # a pad query sees no key: define its output as 0 (whatever the SDPA backend returns there)
        return self.o_proj(torch.where(member_mask[..., None], out, torch.zeros_like(out)))


class _Mlp(nn.Module):
    def __init__(self, width: int, intermediate_size: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(width, intermediate_size, bias=False)
        self.fc2 = nn.Linear(intermediate_size, width, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class _PostNormLayer(nn.Module):
    def __init__(self, width: int, num_heads: int, intermediate_size: int, eps: float) -> None:
        super().__init__()
        self.attention = _SelfAttention(width, num_heads)
        self.mlp = _Mlp(width, intermediate_size)
        self.post_attention_layernorm = nn.LayerNorm(width, eps=eps)
        self.post_mlp_layernorm = nn.LayerNorm(width, eps=eps)

    def forward(self, x: torch.Tensor, member_mask: torch.Tensor) -> torch.Tensor:
        x = self.post_attention_layernorm(x + self.attention(x, member_mask))
        return self.post_mlp_layernorm(x + self.mlp(x))


@register_hyper_encoder("upstream_transformer")
class UpstreamTransformerHyperEncoder(HyperEncoder):
    """Post-norm transformer over the M member slots, mean over all of them (see the module docstring)."""

    reads_padding = True
    switches = frozenset({"member_positions"})

    def __init__(self, config: HyperEncoderConfig, *, hidden_size: int, max_subtokens: int) -> None:
        super().__init__(config, hidden_size=hidden_size, max_subtokens=max_subtokens)
        if config.resolved_width(hidden_size) != hidden_size:
            raise ValueError("the upstream transformer encoder works at the model width: leave width=None")
        heads = config.resolved_num_heads(hidden_size)
        ffn = config.intermediate_size if config.intermediate_size is not None else 4 * hidden_size
        self.pos_embed = nn.Embedding(max_subtokens, hidden_size) if config.member_positions else None
        self.layers = nn.ModuleList(
            _PostNormLayer(hidden_size, heads, ffn, config.norm_eps) for _ in range(config.num_layers)
        )

    def forward(self, member_rows: torch.Tensor, member_mask: torch.Tensor) -> torch.Tensor:
        if member_rows.shape[1] != self.max_subtokens:
            raise ValueError(
                f"this encoder averages over all M={self.max_subtokens} slots, pads included: pass the full "
                f"pad-filled member table, got {member_rows.shape[1]} columns"
            )
        x = member_rows
        if self.pos_embed is not None:
            x = x + self.pos_embed.weight.to(x.dtype)
        for layer in self.layers:
            x = layer(x, member_mask)
        return x.mean(dim=1)  # [N, d]
