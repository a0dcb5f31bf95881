"""Filling a generation's ``HyperCache``: which slots a fed id refilled or emptied, and the encoder calls for them.

A step (or a prompt) tells the cache what the row's streaming codec did: new content in some slots (output
side encoded at once, batched over rows), entries dropped by a reset, the lru slot the head must not offer,
and, for each hypertoken read as input, whether its slot still holds what the id named when read (input
side encoded once per slot), or the same step replaced it (then it goes to the cache's replaced-entry slot,
or in a prompt to extra columns). This module decides and encodes; ``hyper_cache`` stores, ``generation``
runs the steps.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from zip2zip.codec.lzw import Entry, LZWStream
from zip2zip.inference.hyper_cache import NO_SLOT, HyperCache
from zip2zip.modeling.model import Zip2ZipPreTrainedModel


def _members(
    entries: Sequence[tuple[int, ...]], model: Zip2ZipPreTrainedModel, device: torch.device
) -> torch.Tensor:
    comp = model.compression
    table = np.full((len(entries), comp.max_subtokens), comp.pad_token_id, dtype=np.int64)
    for i, entry in enumerate(entries):
        table[i, : len(entry)] = entry
    return torch.from_numpy(table).to(device)  # [N, M]


def write_outputs(model: Zip2ZipPreTrainedModel, cache: HyperCache, new: list[tuple[int, int, Entry]]) -> int:
    """Encode the output side of entries that filled a slot (row, slot, base ids), all rows in one call;
    return how many entries it encoded."""
    if not new:
        return 0
    rows, slots, entries = zip(*new, strict=True)
    lengths = [len(e) for e in entries]
    vectors = model.encode_output_entries(
        _members(entries, model, cache.output_embeds.device), lengths=lengths
    )
    cache.write_output(list(rows), list(slots), vectors)
    if model.config.tie_encoders:  # the same vector is the input embedding: no second encoder pass
        cache.write_input(list(rows), list(slots), model.output_to_input(vectors))
    return len(new)


def write_inputs(
    model: Zip2ZipPreTrainedModel, cache: HyperCache, needed: list[tuple[int, int, Entry]]
) -> int:
    """Encode the input side of hypertokens about to be read (row, slot, base ids): a live slot read for the
    first time (untied encoders: in tied mode ``write_outputs`` stored those), or an entry the same step
    replaced (its slot is ``cache.replaced_entry_slot``). A slot written since ``needed`` was listed (tied: the
    LZW same-step code reads the entry its own step created) is not encoded again. Returns how many it encoded."""
    needed = [
        (row, slot, entry)
        for row, slot, entry in needed
        if slot == cache.replaced_entry_slot or not cache.is_input_encoded[row, slot]
    ]
    if not needed:
        return 0
    rows, slots, entries = zip(*needed, strict=True)
    lengths = [len(e) for e in entries]
    vectors = model.encode_input_entries(_members(entries, model, cache.input_embeds.device), lengths=lengths)
    cache.write_input(list(rows), list(slots), vectors)
    return len(needed)


def refill_row(
    cache: HyperCache, row: int, stream: LZWStream, created: list[tuple[int, Entry]], v: int
) -> list[tuple[int, int, Entry]]:
    """Tell the cache what a fed id did to row ``row``'s codebook; return the (row, slot, base ids) whose
    output side to encode: each slot's last new content, if still live (a reset in the same step may drop it)."""
    latest: dict[int, Entry] = {}  # slot -> newest content, in order of first creation
    for hyper_id, entry in created:
        latest[hyper_id - v] = entry
    refilled = [k for k in latest if k < stream.num_entries]
    cache.set_live(row, stream.num_entries, refilled)
    cache.blocked_slots[row] = same_step_slot(stream, v)
    return [(row, k, latest[k]) for k in refilled]


def same_step_slot(stream: LZWStream, v: int) -> int:
    """The live slot whose id the decoder would read as the entry due next (the lru victim of a full
    codebook), which the head must not offer as its current content; else ``NO_SLOT``."""
    if stream.config.codebook_policy != "lru" or stream.num_entries < stream.config.max_codebook_size:
        return NO_SLOT
    hyper_id = stream.next_hyper_id
    return NO_SLOT if hyper_id is None else hyper_id - v


def read_entry(stream: LZWStream, code: int, v: int) -> Entry | None:
    """Base ids of the hypertoken ``code`` names before the stream is fed it (None for a base id)."""
    return stream.expand(code) if code >= v else None


def names_live_slot(stream: LZWStream, slot: int, entry: Entry) -> bool:
    """Whether slot ``slot`` still holds ``entry`` after the feed (else the feed replaced or dropped it)."""
    return slot < stream.num_entries and stream.entries[slot] == entry


def feed_prompt_id(stream: LZWStream, code: int, v: int) -> Entry | None:
    """Feed one prompt id; return the base ids of the hypertoken it named when read (None for a base id)."""
    read = read_entry(stream, code, v)
    stream.feed(code)  # checks that the id exists
    return read


def prompt_hyper_embeds(
    model: Zip2ZipPreTrainedModel,
    cache: HyperCache,
    streams: list[LZWStream],
    prompts: Sequence[Sequence[int]],
    reads: list[list[Entry | None]],
    ids: torch.Tensor,
) -> torch.Tensor:
    """Input vectors of the prompts' hypertokens: those still live go to the cache (encoded once per slot);
    those a later prompt id replaced (lru, reset) get extra columns after the cache's, and their ids in ``ids``
    ``[B, L]`` (left-padded) are renumbered to name them. Returns ``[B, C + 1 (+ extra), d]``."""
    v, c1 = model.compression.initial_vocab_size, cache.input_embeds.shape[1]
    needed: dict[tuple[int, int], Entry] = {}
    replaced: dict[tuple[int, Entry], int] = {}  # (row, base ids) -> extra column
    num_columns = [0] * len(prompts)  # extra columns per row
    length = ids.shape[1]
    for row, (codes, row_reads) in enumerate(zip(prompts, reads, strict=True)):
        for index, (code, entry) in enumerate(zip(codes, row_reads, strict=True)):
            if entry is None:
                continue
            if names_live_slot(streams[row], code - v, entry):
                if not cache.is_input_encoded[row, code - v]:
                    needed[(row, code - v)] = entry
                continue
            if (row, entry) not in replaced:
                replaced[(row, entry)] = num_columns[row]
                num_columns[row] += 1
            ids[row, length - len(codes) + index] = v + c1 + replaced[(row, entry)]
    write_inputs(model, cache, [(r, k, e) for (r, k), e in sorted(needed.items())])
    if not replaced:
        return cache.input_embeds
    extra = cache.input_embeds.new_zeros((cache.batch_size, max(num_columns), cache.input_embeds.shape[2]))
    keys = list(replaced)
    vectors = model.encode_input_entries(_members([e for _, e in keys], model, extra.device))
    rows = torch.tensor([r for r, _ in keys], device=extra.device)
    extra_columns = torch.tensor([replaced[k] for k in keys], device=extra.device)
    extra.index_put_((rows, extra_columns), vectors.to(extra.dtype))
    return torch.cat([cache.input_embeds, extra], dim=1)  # [B, C + 1 + extra, d]
