"""Hyper-embedding cache for generation: per-row ``[C, d]`` buffers on the input and output side.

Like a KV cache, it holds context-free vectors that never change once written: entry k of row b is
written once, in place, when the streaming codec creates it (output side, needed for the very next
step's logits) or when the model first reads hypertoken ``V + k`` as input (input side; encoded lazily
because most entries are never emitted, so encoding them eagerly would be wasted work per step).
Entry counts live on the host (the codec is on the host anyway), so building the slot mask costs no
device read. This module stores and indexes vectors; it does not run encoders or codecs.
"""

from __future__ import annotations

import numpy as np
import torch

from zip2zip.modeling.lm_head import slot_mask_from_counts


class HyperCache:
    """Preallocated hypertoken vectors of a batch; rows and slots are written with batched index_put."""

    def __init__(
        self,
        *,
        batch_size: int,
        max_codebook_size: int,
        hidden_size: int,
        dtype: torch.dtype,
        device: torch.device | str,
    ) -> None:
        shape = (batch_size, max_codebook_size, hidden_size)
        self.input_embeds = torch.zeros(shape, dtype=dtype, device=device)  # [B, C, d]
        self.output_embeds = torch.zeros(shape, dtype=dtype, device=device)  # [B, C, d]
        self.num_entries = np.zeros(batch_size, dtype=np.int64)  # output vectors written, per row
        self.is_input_encoded = np.zeros((batch_size, max_codebook_size), dtype=bool)

    @property
    def batch_size(self) -> int:
        return self.input_embeds.shape[0]

    @property
    def max_codebook_size(self) -> int:
        return self.input_embeds.shape[1]

    @property
    def num_active_slots(self) -> int:
        """Largest entry count over the rows: slots beyond it are -inf everywhere and skipped."""
        return int(self.num_entries.max()) if self.batch_size else 0

    def write_output(self, rows: list[int], slots: list[int], vectors: torch.Tensor) -> None:
        """Store output-side vectors ``[N, d]`` of new entries; slots must extend each row contiguously."""
        if not rows:
            return
        for row, slot in zip(rows, slots, strict=True):
            if slot != self.num_entries[row]:
                raise AssertionError(
                    f"row {row}: entry {slot} written out of order ({self.num_entries[row]} exist)"
                )
            self.num_entries[row] += 1
        self._put(self.output_embeds, rows, slots, vectors)

    def write_input(self, rows: list[int], slots: list[int], vectors: torch.Tensor) -> None:
        if not rows:
            return
        self.is_input_encoded[rows, slots] = True
        self._put(self.input_embeds, rows, slots, vectors)

    def output_view(self) -> torch.Tensor:
        return self.output_embeds[:, : self.num_active_slots]  # [B, S, d]

    def slot_mask(self) -> torch.Tensor:
        """``[B, 1, S]``: True where the row's slot holds an entry."""
        counts = torch.from_numpy(self.num_entries).to(self.output_embeds.device)
        return slot_mask_from_counts(counts, self.num_active_slots)

    def _put(self, buffer: torch.Tensor, rows: list[int], slots: list[int], vectors: torch.Tensor) -> None:
        index = (torch.tensor(rows, device=buffer.device), torch.tensor(slots, device=buffer.device))
        buffer.index_put_(index, vectors.to(buffer.dtype))
