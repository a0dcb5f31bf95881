"""Validation of a compressed training/scoring batch, with errors that say what is wrong and how to fix it.

Checks types (tensors; ids, tables and positions ``torch.long``), shapes (no empty batch; labels and
positions shaped as the ids; the codebook table's M must be the model's), id ranges (every id inside the joint
vocabulary ``V + C``, every table id a base id), and that each hypertoken id exists in its row's
codebook by the position where it is used (its entry completes at or before that position; completing
exactly there is the LZW same-step code). Each check costs one device->host read, so generation,
which cannot produce such ids, does not run them.
"""

from __future__ import annotations

import torch

from zip2zip.codec.config import CompressionConfig

IGNORE_INDEX = -100  # label value that is not scored (Hugging Face convention)


def validate_compressed_batch(
    comp: CompressionConfig,
    input_ids: torch.Tensor,
    table: torch.Tensor,
    entry_positions: torch.Tensor | None,
    labels: torch.Tensor | None,
    attention_mask: torch.Tensor | None,
    position_ids: torch.Tensor | None = None,
) -> None:
    """Raise TypeError (not a tensor, or ids that are not ``torch.long``) or ValueError (an empty batch, a
    shape or an id out of place) on the first problem found; see the module docstring for what is checked."""
    _check_kinds(
        input_ids=input_ids,
        codebook_table=table,
        entry_positions=entry_positions,
        labels=labels,
        attention_mask=attention_mask,
        position_ids=position_ids,
    )
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    _check_shapes(comp, input_ids, table, entry_positions, attention_mask)
    for name, other, per_code in (
        ("labels", labels, "one target per code, unshifted (shifted inside)"),
        ("position_ids", position_ids, "one position per code"),
    ):
        if other is not None and other.shape != input_ids.shape:
            raise ValueError(
                f"{name} shape {tuple(other.shape)} != input_ids {tuple(input_ids.shape)}: pass {per_code}"
            )
    v = comp.initial_vocab_size
    bad_table = (table < 0) | (table >= v)
    if bool(bad_table.any()):
        where = bad_table.nonzero()[0].tolist()
        raise ValueError(f"codebook_table{where} = {int(table[tuple(where)])} is not a base id (0..{v - 1})")
    for name, ids in (("input_ids", input_ids), ("labels", labels)):
        if ids is None:
            continue
        live = attention_mask.bool() if name == "input_ids" else (ids != IGNORE_INDEX) & attention_mask.bool()
        _check_codes(comp, name, ids, live, table, entry_positions, seq_len=input_ids.shape[1])


def _check_kinds(**tensors: torch.Tensor | None) -> None:
    """Each given input is a tensor; all but the mask hold ids or positions, so ``torch.long`` (a float or
    int32 tensor fails deep inside torch's ``embedding``/``gather``)."""
    for name, value in tensors.items():
        if value is None:
            continue
        if not isinstance(value, torch.Tensor):
            raise TypeError(
                f"{name} must be a torch.Tensor, got {type(value).__name__}; pass torch.tensor({name})"
            )
        if name != "attention_mask" and value.dtype != torch.long:
            raise TypeError(
                f"{name} has dtype {value.dtype}, but ids and positions are torch.long; pass {name}.long()"
            )


def _check_shapes(
    comp: CompressionConfig,
    input_ids: torch.Tensor,
    table: torch.Tensor,
    entry_positions: torch.Tensor | None,
    attention_mask: torch.Tensor,
) -> None:
    """Ranks and sizes: ``[B, T]`` ids and mask, a ``[B, S <= C, M]`` table, ``[B, S]`` entry positions."""
    c, m = comp.max_codebook_size, comp.max_subtokens
    if input_ids.dim() != 2:
        raise ValueError(f"input_ids must be [batch, seq], got shape {tuple(input_ids.shape)}")
    b, t = input_ids.shape
    if b == 0 or t == 0:
        raise ValueError(
            f"input_ids has shape {(b, t)}: an empty batch; pass at least one row of at least one code"
        )
    if table.dim() != 3 or table.shape[0] != b:
        raise ValueError(f"codebook_table must be [batch={b}, slots, M], got shape {tuple(table.shape)}")
    if table.shape[2] != m:
        raise ValueError(
            f"codebook_table has M={table.shape[2]} ids per entry but the model uses max_subtokens={m}; "
            "compress with the model's own tokenizer/compression config"
        )
    if table.shape[1] > c:
        raise ValueError(f"codebook_table has {table.shape[1]} slots > max_codebook_size={c}")
    if attention_mask.shape != input_ids.shape:
        raise ValueError(f"attention_mask shape {tuple(attention_mask.shape)} != input_ids {(b, t)}")
    if entry_positions is not None and entry_positions.shape != table.shape[:2]:
        raise ValueError(f"entry_positions must be [batch, slots]={tuple(table.shape[:2])}")


def _check_codes(
    comp: CompressionConfig,
    name: str,
    ids: torch.Tensor,
    live: torch.Tensor,
    table: torch.Tensor,
    entry_positions: torch.Tensor | None,
    *,
    seq_len: int,
) -> None:
    """The ``live`` codes of ``ids`` are in ``V + C`` and each hypertoken's entry exists by its position."""
    v, c = comp.initial_vocab_size, comp.max_codebook_size
    out_of_range = live & ((ids < 0) | (ids >= v + c))
    if bool(out_of_range.any()):
        where = out_of_range.nonzero()[0].tolist()
        raise ValueError(
            f"{name}{where} = {int(ids[tuple(where)])} is outside the joint vocabulary 0..{v + c - 1} "
            f"(V={v} base ids + C={c} hypertoken slots)"
        )
    filled = table[..., 0] != comp.pad_token_id  # [B, S]
    slots = ids - v
    is_hyper = live & (slots >= 0)
    exists = filled.gather(1, slots.clamp(0, max(table.shape[1] - 1, 0))) if table.shape[1] else None
    missing = is_hyper if exists is None else is_hyper & ~exists
    if bool(missing.any()):
        where = missing.nonzero()[0].tolist()
        raise ValueError(
            f"{name}{where} = hypertoken {int(ids[tuple(where)])}, but that row's codebook has no entry "
            f"{int(ids[tuple(where)]) - v}"
        )
    if entry_positions is not None and table.shape[1]:
        # the code at index t (input, or label predicted from t - 1) must complete by t;
        # completing exactly at t is the LZW same-step code
        created = entry_positions.gather(1, slots.clamp(0, table.shape[1] - 1))  # [B, T]
        late = is_hyper & (created > torch.arange(seq_len, device=ids.device)[None, :])
        if bool(late.any()):
            where = late.nonzero()[0].tolist()
            raise ValueError(
                f"{name}{where} = hypertoken {int(ids[tuple(where)])} is used before its entry exists "
                f"(entry completes at position {int(created[tuple(where)])})"
            )
