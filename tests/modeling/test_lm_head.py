"""Dynamic LM head: column layout, -inf for missing slots, padded base rows unreachable, same-step rule."""

from __future__ import annotations

import torch
from _model_factories import MODEL_ROWS, VOCAB, tiny_zip2zip

from zip2zip.codec.lzw_codec import NO_POSITION
from zip2zip.modeling.lm_head import (
    joint_logits,
    slot_mask_from_counts,
    slot_mask_from_positions,
)

NEG_INF = float("-inf")


def _linear(rows: int, d: int) -> torch.nn.Linear:
    torch.manual_seed(0)
    return torch.nn.Linear(d, rows, bias=False)


def test_layout_base_columns_then_slots_and_padded_rows_dropped():
    v, c, d = 6, 4, 3
    head = _linear(8, d)  # 2 padded rows beyond V
    hidden = torch.randn(2, 1, d)
    cache = torch.randn(2, 2, d)  # 2 slots computed
    mask = slot_mask_from_counts(torch.tensor([2, 1]), 2)
    out = joint_logits(
        hidden,
        base_head=head,
        hyper_unembeds=cache,
        slot_mask=mask,
        initial_vocab_size=v,
        max_codebook_size=c,
    )
    assert out.shape == (2, 1, v + c)
    torch.testing.assert_close(out[..., :v], head(hidden)[..., :v])
    torch.testing.assert_close(out[0, 0, v : v + 2], cache[0] @ hidden[0, 0])
    assert out[1, 0, v + 1] == NEG_INF  # row 1 has one entry only
    assert torch.isinf(out[..., v + 2 :]).all()  # slots beyond the computed ones
    assert torch.isfinite(out[..., :v]).all()


def test_softcap_applies_to_both_parts():
    v, c, d, cap = 4, 2, 3, 0.5
    head = _linear(v, d)
    hidden = 10 * torch.randn(1, 1, d)
    cache = 10 * torch.randn(1, 1, d)
    out = joint_logits(
        hidden,
        base_head=head,
        hyper_unembeds=cache,
        slot_mask=torch.ones(1, 1, 1, dtype=torch.bool),
        initial_vocab_size=v,
        max_codebook_size=c,
        logit_softcap=cap,
    )
    assert out[..., : v + 1].abs().max() <= cap


def test_slot_mask_from_positions_worked_example():
    """Entry 0 completes at position 2, entry 1 at 3, slot 2 does not exist."""
    positions = torch.tensor([[2, 3, NO_POSITION]])
    mask = slot_mask_from_positions(positions, 5)
    assert mask[0].int().tolist() == [[0, 0, 0], [0, 0, 0], [1, 0, 0], [1, 1, 0], [1, 1, 0]]


def test_same_step_target_column_is_opened_only_where_it_is_the_target():
    positions = torch.tensor([[1]])  # entry 0 completes at position 1 ...
    targets = torch.tensor([[VOCAB, 3, -100]])  # ... and is the target predicted from position 0
    mask = slot_mask_from_positions(positions, 3, targets=targets, initial_vocab_size=VOCAB)
    assert mask[0, :, 0].tolist() == [True, True, True]
    closed = slot_mask_from_positions(positions, 3)
    assert closed[0, :, 0].tolist() == [False, True, True]


def test_model_head_width_and_unreachable_padded_rows():
    model = tiny_zip2zip("phi3", max_codebook_size=16)
    assert model.lm_head.weight.shape[0] == MODEL_ROWS > VOCAB
    hidden = torch.randn(1, 1, model.config.hidden_size)
    out = model.logits(hidden, None, None)
    assert out.shape[-1] == VOCAB + 16
    assert torch.isinf(out[..., VOCAB:]).all()  # no entries yet: nothing beyond the base vocabulary
    torch.testing.assert_close(out[..., :VOCAB], model.causal_lm.lm_head(hidden)[..., :VOCAB])
