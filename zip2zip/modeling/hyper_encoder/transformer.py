"""The paper's default hyper-encoder: a small transformer encoder over a hypertoken's member rows.

Architecture: member rows (projected to the encoder width when it is below d) + a learned
member-position embedding (so (a, b) != (b, a)) -> ``num_layers`` pre-norm blocks (bidirectional self-attention whose keys exclude padding, then a GELU MLP) -> mean
over real members (padding excluded again) -> final norm -> linear ``out_proj``; the result is added to
the plain mean of the member rows.

Initialisation: ``out_proj`` starts at zero, so an untrained encoder returns exactly the mean of the
member rows. That is the usual heuristic for initialising new vocabulary items from their pieces, and
on the output side it makes a hypertoken's logit the mean of its members' logits, which never exceeds
the best member's: a freshly wrapped model therefore keeps behaving like its base model (base ids win
ties), instead of sampling from randomly embedded hypertokens. Training then moves ``out_proj`` away
from zero and the blocks behind it start to matter (the ReZero / zero-init-residual trick).

Output scale: ``init_output_scale`` sets the final norm's gain to the RMS of the base rows the encoder
reads (SmolLM2-135M: 0.136). Why: Adam's first steps move every weight by about the learning rate,
whatever the gradient's size, so with a unit-gain norm in front of the zero ``out_proj`` one step at
LR 3e-4 moves each output component by ~lr x width x 0.8 (0.14 at width 576), as large as a whole
component of an embedding row; through final hidden states of norm ~50 that shifted SmolLM2's hypertoken
logits by tens of nats and the encoders diverged at LR >= 1e-4. With the gain at the row RMS the same
step moves outputs by that fraction of a row (~7 times less on SmolLM2), the residual is measured in
units of the rows it corrects, and encoder LRs of 1e-4..3e-4 train stably. Chosen over a learnable
scalar gate: a gate starting at zero would need hundreds of steps at these LRs to grow to a row's
scale (too slow for short budgets), and it would add a parameter that checkpoints saved before it lack.
The gain changes nothing at initialisation (``out_proj`` is zero) and stays learnable. On much wider
models the same step is still ~lr x width row units, so the encoder LR should shrink roughly as 1/width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zip2zip.modeling.config import HyperEncoderConfig

from .base import HyperEncoder, masked_mean, register_hyper_encoder

# At most this many rows per linear layer, on the CPU, take the product as ``W @ x^T``. Why: a decode step encodes
# one new entry per batch row, 2-3 member rows at batch 1, and for 2-3 rows MKL's sgemm behind ``F.linear``
# (torch 2.13, 2-core AMD EPYC) reads the weights at about half the bandwidth ``W @ x^T`` does. Measured side by
# side, cache flushed before each call: the 9 linear layers of the 2-layer encoder at d = 576 (22.6 MB fp32)
# 3.6 ms -> 2.1 ms for 3 rows; a whole one-entry encode 0.63-0.71x the time (width 256: 0.81-0.84x); 1 row and
# >= 6 rows gain nothing. Same products summed in another order: ~1e-7 apart at SmolLM2's row scale.
_MAX_SKINNY_ROWS = 4


def _linear(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``layer(x)``; an ``nn.Linear`` over a few rows on the CPU as ``W @ x^T`` (see ``_MAX_SKINNY_ROWS``)."""
    rows = x.reshape(-1, x.shape[-1])  # [R, in]
    is_skinny = rows.shape[0] <= _MAX_SKINNY_ROWS and rows.device.type == "cpu"
    if not (is_skinny and isinstance(layer, nn.Linear) and layer.bias is not None):
        return layer(x)
    # Both sides contiguous: ``rows.T`` must be the column-major operand (a row-major one, e.g. a transposed
    # output of the layer before, took MKL's slow path again), and attention takes its fused kernel only
    # on contiguous q, k, v (else the math fallback, 3x slower here).
    out = torch.addmm(layer.bias[:, None], layer.weight, rows.contiguous().T).T.contiguous()  # [R, out]
    return out.reshape(*x.shape[:-1], out.shape[-1])


class _Block(nn.Module):
    """Pre-norm transformer block; ``key_mask`` [N, 1, 1, M] is True where a key is a real member."""

    def __init__(self, hidden_size: int, num_heads: int, intermediate_size: int, eps: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.attn_norm = nn.LayerNorm(hidden_size, eps=eps)
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size)
        self.attn_out = nn.Linear(hidden_size, hidden_size)
        self.mlp_norm = nn.LayerNorm(hidden_size, eps=eps)
        self.mlp_in = nn.Linear(hidden_size, intermediate_size)
        self.mlp_out = nn.Linear(intermediate_size, hidden_size)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        n, m, d = x.shape
        q, k, v = (
            _linear(self.qkv, self.attn_norm(x))
            .reshape(n, m, 3, self.num_heads, d // self.num_heads)
            .unbind(2)
        )
        attn = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=key_mask
        )  # [N, heads, M, head_dim]
        x = x + _linear(self.attn_out, attn.transpose(1, 2).reshape(n, m, d))
        return x + _linear(self.mlp_out, F.gelu(_linear(self.mlp_in, self.mlp_norm(x))))


@register_hyper_encoder("transformer")
class TransformerHyperEncoder(HyperEncoder):
    def __init__(self, config: HyperEncoderConfig, *, hidden_size: int, max_subtokens: int) -> None:
        super().__init__(config, hidden_size=hidden_size, max_subtokens=max_subtokens)
        width = config.resolved_width(hidden_size)
        heads = config.resolved_num_heads(hidden_size)
        ffn = config.resolved_intermediate_size(hidden_size)
        self.in_proj = nn.Linear(hidden_size, width) if width != hidden_size else nn.Identity()
        self.member_position = nn.Parameter(torch.randn(max_subtokens, width) * 0.02)
        self.blocks = nn.ModuleList(
            _Block(width, heads, ffn, config.norm_eps) for _ in range(config.num_layers)
        )
        self.final_norm = nn.LayerNorm(width, eps=config.norm_eps)
        self.out_proj = nn.Linear(width, hidden_size)
        nn.init.zeros_(self.out_proj.weight)
        nn.init.zeros_(self.out_proj.bias)

    def init_output_scale(self, row_rms: float) -> None:
        """Final norm gain := ``row_rms`` (see the module docstring); the output stays the member mean."""
        if not row_rms > 0:
            raise ValueError(f"row_rms={row_rms!r} must be > 0 (the RMS of the base rows this encoder reads)")
        with torch.no_grad():
            self.final_norm.weight.fill_(row_rms)

    def forward(self, member_rows: torch.Tensor, member_mask: torch.Tensor) -> torch.Tensor:
        m = member_rows.shape[1]
        if m > self.max_subtokens:
            raise ValueError(
                f"member rows have M={m} but this encoder was built for max_subtokens={self.max_subtokens}"
            )
        x = _linear(self.in_proj, member_rows) + self.member_position[:m].to(member_rows.dtype)
        key_mask = member_mask[:, None, None, :]  # [N, 1, 1, M]
        for block in self.blocks:
            x = block(x, key_mask)
        residual = _linear(self.out_proj, self.final_norm(masked_mean(x, member_mask)))
        return masked_mean(member_rows, member_mask) + residual  # [N, d]
