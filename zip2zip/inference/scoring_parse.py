"""The scoring parse of a (context, continuation) pair and its padded model inputs.

Context and continuation are compressed back to back with one codebook (entries learnt in the context serve
the continuation) but no code crosses the boundary. The parse is the one generation would produce: at each
position the longest phrase that is an entry the model can already see (completed by the codes before it),
else the base id; that is LZW's own output except for the rare "same-step" code, which the head never offers.
Under ``lru`` the parse skips the id generation hides (the victim's, which the decoder would read as the entry
due next), and under ``lru`` and ``reset`` the inputs name entry versions (``codec.versions``), so each position
sees the entries live there. Shared by ``scoring`` (the scores), ``multiview`` (its branches) and
``base_ids_forward``; nothing here runs a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from zip2zip.codec.config import CompressionConfig
from zip2zip.codec.lzw import LZWStream
from zip2zip.codec.lzw_codec import NO_POSITION
from zip2zip.codec.versions import NO_VERSION, VersionedCodes, replay_versions, version_column_ids
from zip2zip.modeling.lm_head import slot_mask_from_positions, version_mask_from_intervals
from zip2zip.modeling.model import Zip2ZipPreTrainedModel


@dataclass(frozen=True)
class SegmentedCodes:
    """Codes of several segments compressed with one codebook; ``stream`` holds that codebook."""

    codes: list[int]
    codes_per_segment: list[int]
    stream: LZWStream
    versions: VersionedCodes | None = None  # under lru and reset: the entry version each code reads

    @property
    def column_ids(self) -> list[int]:
        """The codes as the model's columns: hypertoken ids name slots under ``freeze``, versions otherwise."""
        if self.versions is None:
            return self.codes
        return version_column_ids(self.codes, self.versions, self.stream.config.initial_vocab_size)


def compress_segments(segments: Sequence[Sequence[int]], config: CompressionConfig) -> SegmentedCodes:
    """Compress base-id segments back to back; a code never spans two segments."""
    v, m = config.initial_vocab_size, config.max_subtokens
    stream = LZWStream(config)
    codes: list[int] = []
    counts: list[int] = []
    for segment in segments:
        ids = [int(i) for i in segment]
        bad = [i for i in ids if not 0 <= i < v]
        if bad:
            raise ValueError(f"base id {bad[0]} is outside the base vocabulary 0..{v - 1}")
        start = len(codes)
        j = 0
        while j < len(ids):
            code, length = ids[j], 1
            hidden = _hidden_hyper_id(stream)
            for span in range(min(m, len(ids) - j), 1, -1):
                hyper_id = stream.hyper_id_of(tuple(ids[j : j + span]))
                if hyper_id is not None and hyper_id != hidden:
                    code, length = hyper_id, span
                    break
            stream.feed(code)
            codes.append(code)
            j += length
        counts.append(len(codes) - start)
    versions = None if config.codebook_policy == "freeze" else replay_versions(codes, config)
    return SegmentedCodes(codes, counts, stream, versions)


def _hidden_hyper_id(stream: LZWStream) -> int | None:
    """The live id generation does not offer now: under lru with a full codebook, the victim's (the decoder
    would read it as the entry due next)."""
    config = stream.config
    if config.codebook_policy != "lru" or stream.num_entries < config.max_codebook_size:
        return None
    return stream.next_hyper_id


@dataclass(frozen=True)
class BatchInputs:
    """The model inputs of several :class:`SegmentedCodes`, right-padded: every code but each row's last
    is an input (the last is only ever a target)."""

    input_ids: torch.Tensor  # [B, L]
    attention_mask: torch.Tensor  # [B, L]
    codebook_table: torch.Tensor  # [B, S, M]: slots, or entry versions under lru and reset (S = N)
    entry_positions: torch.Tensor  # [B, S]
    removal_positions: torch.Tensor | None = None  # [B, N] under lru and reset
    hidden_versions: torch.Tensor | None = None  # [B, L] under lru and reset

    def logits(self, model: Zip2ZipPreTrainedModel) -> torch.Tensor:
        """``model``'s logits ``[B, L, V + C]`` (``V + N`` for versions) over these inputs (not validated
        again: the streams were)."""
        return model(
            self.input_ids,
            self.codebook_table,
            attention_mask=self.attention_mask,
            entry_positions=self.entry_positions,
            removal_positions=self.removal_positions,
            hidden_versions=self.hidden_versions,
            validate=False,
        ).logits

    def offered(self) -> torch.Tensor:
        """``[B, L, S]`` the slots (versions) the head offers at each input position, targets not opened."""
        if self.removal_positions is None:
            return slot_mask_from_positions(self.entry_positions, self.input_ids.shape[1])
        assert self.hidden_versions is not None
        return version_mask_from_intervals(self.entry_positions, self.removal_positions, self.hidden_versions)


def batch_inputs(
    batch: Sequence[SegmentedCodes], comp: CompressionConfig, *, device: torch.device
) -> BatchInputs:
    """Pad ``batch`` into model inputs; an entry completed by a row's last code is left out (no input sees it)."""
    if comp.codebook_policy != "freeze":
        return _versioned_batch_inputs(batch, comp, device=device)
    length = max(len(s.codes) for s in batch) - 1
    slots = max(s.stream.num_entries for s in batch)
    ids = torch.full((len(batch), length), comp.pad_token_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    table = torch.full((len(batch), slots, comp.max_subtokens), comp.pad_token_id, dtype=torch.long)
    positions = torch.full((len(batch), slots), NO_POSITION, dtype=torch.long)
    for r, seg in enumerate(batch):
        n = len(seg.codes) - 1
        ids[r, :n] = torch.tensor(seg.codes[:-1])
        mask[r, :n] = 1
        for k, (entry, pos) in enumerate(zip(seg.stream.entries, seg.stream.entry_positions, strict=True)):
            if pos < n:
                table[r, k, : len(entry)] = torch.tensor(entry)
                positions[r, k] = pos
    return BatchInputs(ids.to(device), mask.to(device), table.to(device), positions.to(device))


def _versioned_batch_inputs(
    batch: Sequence[SegmentedCodes], comp: CompressionConfig, *, device: torch.device
) -> BatchInputs:
    """``batch_inputs`` under lru and reset: one table row per entry version, ids naming versions."""
    versions = [s.versions for s in batch]
    assert all(v is not None for v in versions), "compress_segments records versions under lru and reset"
    length = max(len(s.codes) for s in batch) - 1
    num_versions = max(len(v.entries) for v in versions if v is not None)
    ids = torch.full((len(batch), length), comp.pad_token_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    table = torch.full((len(batch), num_versions, comp.max_subtokens), comp.pad_token_id, dtype=torch.long)
    created = torch.full((len(batch), num_versions), NO_POSITION, dtype=torch.long)
    removed = torch.full((len(batch), num_versions), NO_POSITION, dtype=torch.long)
    hidden = torch.full((len(batch), length), NO_VERSION, dtype=torch.long)
    for r, seg in enumerate(batch):
        history = seg.versions
        assert history is not None
        n = len(seg.codes) - 1
        ids[r, :n] = torch.tensor(seg.column_ids[:-1])
        mask[r, :n] = 1
        hidden[r, :n] = torch.tensor(history.hidden_versions[:-1])
        for k, entry in enumerate(history.entries):
            if history.created[k] < n:
                table[r, k, : len(entry)] = torch.tensor(entry)
                created[r, k] = history.created[k]
                removed[r, k] = history.removed[k]
    return BatchInputs(
        ids.to(device),
        mask.to(device),
        table.to(device),
        created.to(device),
        removed.to(device),
        hidden.to(device),
    )


def last_segment_targets(
    logits: torch.Tensor, row: int, seg: SegmentedCodes
) -> tuple[torch.Tensor, torch.Tensor]:
    """(codes of ``seg``'s last segment ``[n]``, the logits predicting them ``[n, V + C]``) for batch row ``row``."""
    n_last = seg.codes_per_segment[-1]
    first = len(seg.codes) - 1 - n_last  # the input position predicting the segment's first code
    targets = torch.tensor(seg.column_ids[-n_last:], device=logits.device)
    return targets, logits[row, first : first + n_last]
