"""Loss of zip2zip.training.loss: per-position slot availability, same-step codes, reconstruction padding, control."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests._model_factories import PAD, VOCAB, compression, repetitive_ids, tiny_base
from zip2zip.codec.lzw_codec import LZWCodec
from zip2zip.modeling.config import HyperEncoderConfig
from zip2zip.modeling.lm_head import slot_mask_from_positions
from zip2zip.modeling.model import Zip2ZipPreTrainedModel
from zip2zip.modeling.reconstruction import (
    IGNORE_INDEX,
    ReconstructionDecoder,
    reconstruction_targets,
    select_entries,
    slot_blind_accuracy,
)
from zip2zip.training.loss import (
    TrainBatch,
    Zip2ZipTrainingModule,
    clip_grad_norms,
    collate_chunks,
    evaluate,
    next_code_targets,
    slot_blind_reconstruction_accuracy,
    train_step,
)


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models on a shared 2-core machine: one intra-op thread is ~100x faster than two."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _module(*, max_codebook_size: int = 64, weight: float = 0.1, seed: int = 0) -> Zip2ZipTrainingModule:
    base = tiny_base("llama", seed=seed)
    model = Zip2ZipPreTrainedModel.from_base(
        base,
        compression=compression(max_codebook_size=max_codebook_size),
        hyper_encoder=HyperEncoderConfig(num_heads=4),
    )
    torch.manual_seed(seed + 1)
    with torch.no_grad():  # make the encoders matter (out_proj starts at zero)
        for p in (model.input_encoder.out_proj.weight, model.output_encoder.out_proj.weight):
            p.normal_(0.0, 0.2)
    decoder = ReconstructionDecoder(64, 3) if weight > 0 else None
    return Zip2ZipTrainingModule(model, decoder, reconstruction_weight=weight).eval()


def _chunks(num: int, length: int, *, seed: int = 0, max_codebook_size: int = 64):
    codec = LZWCodec.from_config(compression(max_codebook_size=max_codebook_size))
    out = []
    for i in range(num):
        enc = codec.encode(repetitive_ids(length, seed=seed + i, alphabet=6))
        out.append((enc.ids, enc.codebook.table, enc.entry_positions))
    return out


def _batch(chunks) -> TrainBatch:
    return collate_chunks(chunks, pad_token_id=PAD, max_subtokens=3)


def test_collate_pads_right_and_marks_missing_slots() -> None:
    chunks = _chunks(2, 30)
    chunks[1] = (chunks[1][0][:5], chunks[1][1][:2], chunks[1][2][:2])
    batch = _batch(chunks)
    assert batch.input_ids.shape == (2, len(chunks[0][0]))
    assert batch.attention_mask[1].tolist() == [1] * 5 + [0] * (batch.input_ids.shape[1] - 5)
    assert (batch.codebook_table[1, 2:] == PAD).all()
    assert (batch.entry_positions[1, 2:] > 10**9).all()  # NO_POSITION: never available


def test_next_code_targets_shift_and_ignore_padding() -> None:
    ids = torch.tensor([[5, 6, 7, 0]])
    mask = torch.tensor([[1, 1, 1, 0]])
    assert next_code_targets(ids, mask).tolist() == [[6, 7, IGNORE_INDEX, IGNORE_INDEX]]


def test_a_position_never_sees_a_slot_created_later() -> None:
    """Loss on the first t codes is the same whether or not the table holds entries created after t.

    With the full chunk, the table contains every entry (incl. ones completed after position t); the
    per-position mask must hide them, so the prefix positions' NLL equals that of the prefix alone
    (whose table only holds entries that exist by then). Offering the whole final codebook everywhere
    (the upstream behaviour) changes it: the check below proves the test can see a leak.
    """
    module = _module(weight=0.0)
    ids, table, positions = _chunks(1, 120)[0]
    cut = len(ids) // 2
    assert (positions >= cut).any(), "need entries created after the cut"
    full = _batch([(ids, table, positions)])
    full.attention_mask[0, cut:] = 0  # right padding: positions < cut are unaffected causally
    keep = positions <= cut - 1
    prefix = _batch([(ids[:cut], table[keep], positions[keep])])
    with torch.no_grad():
        a = module(*full.as_tuple())
        b = module(*prefix.as_tuple())
        leaky = module(
            full.input_ids, full.attention_mask, full.codebook_table, torch.zeros_like(full.entry_positions)
        )
    assert a["num_targets"] == b["num_targets"] == cut - 1
    torch.testing.assert_close(a["lm_nll_sum"], b["lm_nll_sum"], rtol=1e-5, atol=1e-5)
    assert not torch.isclose(leaky["lm_nll_sum"], a["lm_nll_sum"], rtol=1e-4)


def test_same_step_code_is_a_finite_target() -> None:
    """The LZW same-step code (target completing its own entry) is scored, never a -inf target."""
    module = _module()
    chunks = _chunks(6, 80)
    same_step = sum(
        int(((np.asarray(ids[1:]) - VOCAB) == k).any() and pos == j + 1)
        for ids, _, positions in chunks
        for k, pos in enumerate(positions)
        for j in [int(np.argmax(np.asarray(ids) == VOCAB + k)) - 1]
    )
    assert same_step > 0, "test data must contain an LZW same-step code"
    with torch.no_grad():
        out = module(*_batch(chunks).as_tuple())
    assert torch.isfinite(out["loss"]) and torch.isfinite(out["hyper_nll_sum"])
    assert out["num_hyper_targets"] > 0


def test_statistics_split_and_count_base_ids() -> None:
    module = _module()
    chunks = _chunks(3, 60)
    batch = _batch(chunks)
    with torch.no_grad():
        out = module(*batch.as_tuple())
    torch.testing.assert_close(out["base_nll_sum"] + out["hyper_nll_sum"], out["lm_nll_sum"])
    assert out["num_base_targets"] + out["num_hyper_targets"] == out["num_targets"]
    codec = LZWCodec.from_config(compression())
    expected = sum(len(codec.decode(ids)) - 1 if ids[0] < VOCAB else 0 for ids, _, _ in chunks)
    assert int(out["num_target_base_ids"]) == expected  # every code but the first (always a base id)


def test_reconstruction_ignores_padding() -> None:
    """Only real members are scored: the loss equals CE over the non-pad members computed by hand."""
    module = _module()
    batch = _batch(_chunks(2, 50))
    with torch.no_grad():
        out = module(*batch.as_tuple())
        hyper_in, _ = module.model.encode_codebook(batch.codebook_table)
        filled = batch.codebook_table[..., 0] != PAD
        members = batch.codebook_table[filled]
        logits = module.decoder(hyper_in[filled], module.model.input_embeddings.weight[:VOCAB])
    real = members != PAD
    assert (~real).any(), "need entries shorter than M"
    expected = F.cross_entropy(logits[real], members[real], reduction="sum")
    torch.testing.assert_close(out["recon_nll_sum"], expected, rtol=1e-5, atol=1e-4)
    assert int(out["num_recon_members"]) == int(real.sum())
    assert reconstruction_targets(torch.tensor([[5, 7, PAD]]), PAD).tolist() == [[5, 7, IGNORE_INDEX]]


def test_select_entries_is_deterministic_and_capped() -> None:
    assert select_entries(10, 4, torch.device("cpu")).tolist() == [0, 3, 6, 9]
    assert select_entries(3, 4, torch.device("cpu")).tolist() == [0, 1, 2]
    assert select_entries(3, None, torch.device("cpu")).tolist() == [0, 1, 2]


def test_control_without_compression_is_plain_causal_lm_loss() -> None:
    """C = 0: the loss equals the base model's causal CE over the V tokenizer ids (padded head rows dropped)."""
    base = tiny_base("llama")
    model = Zip2ZipPreTrainedModel.from_base(
        base, compression=compression(max_codebook_size=0), hyper_encoder=HyperEncoderConfig(num_heads=4)
    )
    module = Zip2ZipTrainingModule(model, None, reconstruction_weight=0.0).eval()
    ids = torch.tensor([repetitive_ids(40, seed=3)])
    batch = collate_chunks(
        [(ids[0].numpy(), np.zeros((0, 3), np.int64), np.zeros(0, np.int64))],
        pad_token_id=PAD,
        max_subtokens=3,
    )
    with torch.no_grad():
        out = module(*batch.as_tuple())
        logits = base(input_ids=ids).logits[0, :-1, :VOCAB]
        reference = F.cross_entropy(logits, ids[0, 1:])
    torch.testing.assert_close(out["loss"], reference, rtol=1e-5, atol=1e-5)


def test_training_lowers_the_loss_on_a_fixed_batch() -> None:
    module = _module().train()
    batch = _batch(_chunks(2, 60))
    optimizer = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=3e-3)
    first = train_step(module, [batch], optimizer=optimizer)
    for _ in range(15):
        last = train_step(module, [batch], optimizer=optimizer)
    assert last.lm_loss < first.lm_loss - 0.5
    assert last.reconstruction_loss is not None and first.reconstruction_loss is not None
    assert last.reconstruction_loss < first.reconstruction_loss


def test_gradient_accumulation_matches_one_big_batch_for_equal_sizes() -> None:
    chunks = _chunks(2, 60)
    a, b = _module(weight=0.0), _module(weight=0.0)  # the reconstruction mean is per micro-batch
    opt_a = torch.optim.SGD([p for p in a.parameters() if p.requires_grad], lr=0.1)
    opt_b = torch.optim.SGD([p for p in b.parameters() if p.requires_grad], lr=0.1)
    length = min(len(c[0]) for c in chunks)
    chunks = [(i[:length], t[p < length], p[p < length]) for i, t, p in chunks]
    train_step(a, [_batch(chunks)], optimizer=opt_a, max_grad_norm=None)
    train_step(b, [_batch(chunks[:1]), _batch(chunks[1:])], optimizer=opt_b, max_grad_norm=None)
    for (name, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=1e-3, atol=1e-5, msg=name)


def test_each_parameter_group_is_clipped_alone_and_its_norm_reported() -> None:
    small, large, free = (torch.nn.Parameter(torch.zeros(2)) for _ in range(3))
    small.grad, large.grad, free.grad = (
        torch.tensor([0.3, 0.4]),
        torch.tensor([30.0, 40.0]),
        torch.tensor([6.0, 8.0]),
    )
    optimizer = torch.optim.SGD(
        [
            {"params": [small], "name": "lora", "max_grad_norm": 1.0},
            {"params": [large], "name": "encoders", "max_grad_norm": 1.0},
            {"params": [free], "name": "decoder", "max_grad_norm": None},
        ],
        lr=0.1,
    )
    norms = clip_grad_norms(optimizer, default_max_norm=1.0)
    assert norms == pytest.approx({"lora": 0.5, "encoders": 50.0, "decoder": 10.0})
    torch.testing.assert_close(small.grad, torch.tensor([0.3, 0.4]))  # a global clip would scale it by ~1/50
    torch.testing.assert_close(large.grad, torch.tensor([0.6, 0.8]))
    torch.testing.assert_close(free.grad, torch.tensor([6.0, 8.0]))


def test_train_step_reports_grad_norms_per_group() -> None:
    module = _module().train()
    model = module.model
    encoders = [*model.input_encoder.parameters(), *model.output_encoder.parameters()]
    lora_free = [p for n, p in module.named_parameters() if p.requires_grad and "encoder" not in n]
    groups = [{"params": encoders, "name": "encoders"}, {"params": lora_free, "name": "rest"}]
    stats = train_step(module, [_batch(_chunks(2, 60))], optimizer=torch.optim.AdamW(groups, lr=1e-3))
    assert set(stats.grad_norms) == {"encoders", "rest"} and all(v > 0 for v in stats.grad_norms.values())
    assert stats.to_dict()["grad_norms"] == stats.grad_norms


def test_slot_blind_accuracy_worked_example() -> None:
    """Entries (5, 7) and (5, 5, 8): repeating 5 gets 1 of 2 and 2 of 3 -> 3 / 5."""
    assert slot_blind_accuracy(torch.tensor([[5, 7, PAD], [5, 5, 8]]), PAD) == pytest.approx(0.6)
    assert slot_blind_accuracy(torch.full((2, 3), PAD), PAD) is None


def test_slot_blind_level_is_computed_on_the_entries_the_loss_scores() -> None:
    batches = [_batch(_chunks(2, 60)), _batch(_chunks(2, 60, seed=5))]
    cap = 5
    members = []
    for b in batches:
        filled = b.codebook_table[..., 0] != PAD
        members.append(b.codebook_table[filled][select_entries(int(filled.sum()), cap, torch.device("cpu"))])
    expected = slot_blind_accuracy(torch.cat(members), PAD)
    assert slot_blind_reconstruction_accuracy(batches, pad_token_id=PAD, max_entries=cap) == expected


@torch.no_grad()
def _live_hypertoken_logits(module: Zip2ZipTrainingModule, batch: TrainBatch) -> torch.Tensor:
    """Logits of the hypertoken columns each real position can emit, flattened."""
    model = module.model
    ids, mask, table, positions = batch.as_tuple()
    targets = next_code_targets(ids, mask)
    hyper_in, hyper_out = model.encode_codebook(table)
    position_ids = (mask.cumsum(-1) - 1).clamp_min(0)
    hidden = model.run_decoder(model.embed(ids, hyper_in), attention_mask=mask, position_ids=position_ids)
    slots = slot_mask_from_positions(positions, ids.shape[1], targets=targets, initial_vocab_size=VOCAB)
    logits = model.logits(hidden, hyper_out, slots)[..., VOCAB : VOCAB + slots.shape[-1]]
    return logits[slots & mask.bool()[..., None]]


def _hypertoken_logit_shift(*, unit_gain: bool) -> torch.Tensor:
    """|change| of live hypertoken logits after one Adam step (LR 3e-4) of the encoders alone."""
    base = tiny_base("llama", tie=True)
    with torch.no_grad():  # SmolLM2-135M's scales: rows of RMS 0.136, final hidden states of norm ~50
        rows = base.get_input_embeddings().weight
        rows.mul_(0.136 / rows.pow(2).mean().sqrt())
        base.model.norm.weight.fill_(50.0 / base.config.hidden_size**0.5)
    model = Zip2ZipPreTrainedModel.from_base(
        base, compression=compression(), hyper_encoder=HyperEncoderConfig(num_heads=4)
    )
    if unit_gain:  # the initialisation before the output-scale fix
        with torch.no_grad():
            model.output_encoder.final_norm.weight.fill_(1.0)
    module = Zip2ZipTrainingModule(model, None, reconstruction_weight=0.0)
    encoders = list(model.output_encoder.parameters())
    for p in module.parameters():
        p.requires_grad_(False)
    for p in encoders:
        p.requires_grad_(True)
    batch = _batch(_chunks(2, 120))
    before = _live_hypertoken_logits(module.eval(), batch)
    train_step(module, [batch], optimizer=torch.optim.Adam(encoders, lr=3e-4), max_grad_norm=None)
    return (_live_hypertoken_logits(module.eval(), batch) - before).abs()


def test_one_adam_step_moves_hypertoken_logits_by_less_than_a_few_nats() -> None:
    """With the final norm's gain at the row RMS, a step at LR 3e-4 moves no live hypertoken logit by 2
    nats; at unit gain the same step moves them ~6x more (~6 nats here; tens on SmolLM2 itself)."""
    fixed = _hypertoken_logit_shift(unit_gain=False)
    unfixed = _hypertoken_logit_shift(unit_gain=True)
    assert fixed.numel() > 100
    assert float(fixed.max()) < 2.0
    assert float(unfixed.max()) > 3 * float(fixed.max())


def test_canonical_loss_trains_on_the_masked_softmax_and_logs_the_unmasked_nll() -> None:
    """Encoder chunks (same-step codes included) never have a masked target: the canonical NLL is finite and
    below the unmasked one, which the logged statistics keep; the gradient comes from the canonical NLL."""
    plain, canonical = _module(weight=0.0), _module(weight=0.0)
    canonical.canonical_loss = True
    batch = _batch(_chunks(3, 80))
    out_plain, out_canonical = plain(*batch.as_tuple()), canonical(*batch.as_tuple())
    assert out_canonical["lm_nll_sum"] == out_plain["lm_nll_sum"]
    assert torch.isfinite(out_canonical["canonical_nll_sum"])
    assert out_canonical["canonical_nll_sum"] < out_plain["lm_nll_sum"]
    num_targets = out_plain["num_targets"]
    torch.testing.assert_close(
        out_canonical["loss"].detach(), out_canonical["canonical_nll_sum"] / num_targets
    )
    # a held-out (eval-mode) pass reports the canonical NLL of any compressed run, but the plain module's
    # loss stays the unmasked NLL, and in training mode it does not compute the mask at all
    assert out_plain["canonical_nll_sum"] == out_canonical["canonical_nll_sum"]
    torch.testing.assert_close(out_plain["loss"].detach(), out_plain["lm_nll_sum"] / num_targets)
    assert "canonical_nll_sum" not in plain.train()(*batch.as_tuple())


def test_held_out_evaluation_logs_the_canonical_nll_of_compressed_runs_only() -> None:
    batch = _batch(_chunks(3, 80))
    stats = evaluate(_module(weight=0.0), [batch], reconstruction_weight=0.0)
    assert stats.canonical_lm_loss is not None and stats.canonical_lm_loss < stats.lm_loss
    assert stats.to_dict()["canonical_lm_loss"] == stats.canonical_lm_loss
    control = _module(max_codebook_size=0, weight=0.0)
    base_batch = _batch(_chunks(3, 80, max_codebook_size=0))
    control_stats = evaluate(control, [base_batch], reconstruction_weight=0.0)
    assert control_stats.canonical_lm_loss is None and "canonical_lm_loss" not in control_stats.to_dict()
