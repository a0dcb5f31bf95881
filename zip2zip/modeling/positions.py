"""Position ids of a compressed batch, by the config's ``position_mode``.

``compressed``: one position per code, counting real codes only (``[5, 9, V+0]`` -> ``[0, 1, 2]``).
``base_token_end`` (the authors' zip2zip++ models): a code sits at the index of its last base token, so
positions match the uncompressed text's (base ids 5, 9 then hypertoken V+0 = (5, 9, 7): ``[0, 1, 4]``).
Padding gets position 0 and advances nothing. This module does not know about caches or generation.
"""

from __future__ import annotations

import torch

from zip2zip.modeling.config import Zip2ZipConfig


def code_position_ids(
    config: Zip2ZipConfig, input_ids: torch.Tensor, attention_mask: torch.Tensor, codebook_table: torch.Tensor
) -> torch.Tensor:
    """``[B, T]`` positions for ``input_ids`` ``[B, T]`` with their per-row tables ``[B, S, M]``."""
    real = attention_mask.bool()
    if config.position_mode == "compressed":
        return (real.long().cumsum(-1) - 1).clamp_min(0)
    comp = config.compression
    entry_spans = (codebook_table != comp.pad_token_id).sum(-1).clamp_min(1)  # [B, S]
    slots = input_ids - comp.initial_vocab_size
    is_hyper = slots >= 0
    if entry_spans.shape[1]:
        hyper_spans = entry_spans.gather(1, slots.clamp(0, entry_spans.shape[1] - 1))
        spans = torch.where(is_hyper, hyper_spans, torch.ones_like(input_ids))
    else:
        spans = torch.ones_like(input_ids)
    spans = spans.masked_fill(~real, 0)
    return (spans.cumsum(-1) - 1).masked_fill(~real, 0)  # [B, T]
