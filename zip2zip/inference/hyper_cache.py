"""Hyper-embedding cache for generation: per-row ``[C, d]`` buffers on the input and output side.

Like a KV cache, it holds context-free vectors: slot k of row b holds the vectors of the entry that row's
codebook holds at id ``V + k`` now. A slot is written when the streaming codec fills it (output side, needed
for the very next step's logits) or when the model first reads hypertoken ``V + k`` as input (input side;
encoded lazily because most entries are never emitted). Under ``lru`` a slot's content can change (then only
that slot is written again) and under ``reset`` the codebook empties (then the live count drops to 0): the
caller reports both through ``set_live``. One extra input slot per row (index C) holds an entry a step reads
but replaces in the same step (an lru victim, or an entry a reset drops), so that read still embeds as what
it named. The live count also hides the one lru slot whose id would name the entry due next (the LZW
same-step code, ``block_slot``). Counts live on the host (the codec is on the host anyway), so building the
slot mask costs no device read. This module stores and indexes vectors; it does not run encoders or codecs.
"""

from __future__ import annotations

import numpy as np
import torch

from zip2zip.modeling.lm_head import slot_mask_from_counts

NO_SLOT = -1  # ``blocked_slots`` value of a row whose every live slot is offered


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
        # [B, C + 1, d]: slot C is the row's replaced-entry read (see the module docstring)
        self.input_embeds = torch.zeros(
            (batch_size, max_codebook_size + 1, hidden_size), dtype=dtype, device=device
        )
        self.output_embeds = torch.zeros(shape, dtype=dtype, device=device)  # [B, C, d]
        self.num_entries = np.zeros(batch_size, dtype=np.int64)  # live entries (ids V..V+n-1), per row
        self.is_input_encoded = np.zeros((batch_size, max_codebook_size), dtype=bool)
        self.reads_replaced_entry = np.zeros(batch_size, dtype=bool)  # this step's input is in slot C
        self.blocked_slots = np.full(batch_size, NO_SLOT, dtype=np.int64)

    @property
    def batch_size(self) -> int:
        return self.output_embeds.shape[0]

    @property
    def max_codebook_size(self) -> int:
        return self.output_embeds.shape[1]

    @property
    def replaced_entry_slot(self) -> int:
        """The input slot that holds an entry read by the step that replaced it."""
        return self.max_codebook_size

    @property
    def num_active_slots(self) -> int:
        """Largest entry count over the rows: slots beyond it are -inf everywhere and skipped."""
        return int(self.num_entries.max()) if self.batch_size else 0

    def set_live(self, row: int, num_entries: int, refilled_slots: list[int]) -> None:
        """Row ``row`` now holds ``num_entries`` entries, ``refilled_slots`` with new content (written next by
        ``write_output``); input vectors of refilled and emptied slots are stale from now on."""
        self.is_input_encoded[row, refilled_slots] = False
        self.is_input_encoded[row, num_entries : self.num_entries[row]] = False  # emptied by a reset
        self.num_entries[row] = num_entries

    def write_output(self, rows: list[int], slots: list[int], vectors: torch.Tensor) -> None:
        """Store output-side vectors ``[N, d]`` of live slots (``set_live`` first)."""
        if not rows:
            return
        for row, slot in zip(rows, slots, strict=True):
            if slot >= self.num_entries[row]:
                raise AssertionError(
                    f"row {row}: slot {slot} written but only {self.num_entries[row]} are live"
                )
        self._put(self.output_embeds, rows, slots, vectors)

    def write_input(self, rows: list[int], slots: list[int], vectors: torch.Tensor) -> None:
        """Store input-side vectors ``[N, d]`` of live slots or of ``replaced_entry_slot``."""
        if not rows:
            return
        live = [(r, s) for r, s in zip(rows, slots, strict=True) if s < self.max_codebook_size]
        if live:
            live_rows, live_slots = zip(*live, strict=True)
            self.is_input_encoded[list(live_rows), list(live_slots)] = True
        self._put(self.input_embeds, rows, slots, vectors)

    def output_view(self) -> torch.Tensor:
        return self.output_embeds[:, : self.num_active_slots]  # [B, S, d]

    def slot_mask(self) -> torch.Tensor:
        """``[B, 1, S]``: True where the row's slot holds an entry that its id names if emitted now."""
        counts = torch.from_numpy(self.num_entries).to(self.output_embeds.device)
        mask = slot_mask_from_counts(counts, self.num_active_slots)
        blocked = self.blocked_slots
        if (blocked != NO_SLOT).any():
            rows = np.flatnonzero(blocked != NO_SLOT)
            mask[
                torch.from_numpy(rows).to(mask.device), 0, torch.from_numpy(blocked[rows]).to(mask.device)
            ] = False
        return mask

    def _put(self, buffer: torch.Tensor, rows: list[int], slots: list[int], vectors: torch.Tensor) -> None:
        index = (torch.tensor(rows, device=buffer.device), torch.tensor(slots, device=buffer.device))
        buffer.index_put_(index, vectors.to(buffer.dtype))
