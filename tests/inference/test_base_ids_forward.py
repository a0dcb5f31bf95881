"""``model(input_ids=base_ids, labels=base_ids)``, as a transformers user computes a loss or a perplexity."""

from __future__ import annotations

import math

import pytest
import torch
from _model_factories import PAD, VOCAB, compression, repetitive_ids, tiny_base

import zip2zip
from zip2zip.inference.scoring import score_continuations
from zip2zip.modeling.config import HyperEncoderConfig


def _model(max_codebook_size: int) -> zip2zip.Zip2ZipForCausalLM:
    """Tiny public-class model whose base has exactly V rows, so with C = 0 its head is the base's."""
    model = zip2zip.Zip2ZipForCausalLM.from_base(
        tiny_base(vocab_size=VOCAB),
        compression=compression(max_codebook_size=max_codebook_size),
        hyper_encoder=HyperEncoderConfig(num_heads=4),
    )
    with torch.no_grad():  # encoders that matter (their out_proj starts at zero)
        torch.manual_seed(1)
        model.input_encoder.out_proj.weight.normal_(0.0, 0.2)
        model.output_encoder.out_proj.weight.normal_(0.0, 0.2)
    return model.eval()


def test_without_compression_the_loss_is_the_base_models():
    model = _model(max_codebook_size=0)
    ids = torch.tensor([repetitive_ids(40, seed=0), repetitive_ids(40, seed=1)])
    labels = ids.clone()
    labels[0, :7] = -100  # a prompt in the first row
    with torch.no_grad():
        ours = model(input_ids=ids, labels=labels)
        theirs = model.base_model(input_ids=ids, labels=labels)
    assert ours.num_base_tokens == ours.num_codes == (40 - 7) + 39
    assert float(ours.loss) == pytest.approx(float(theirs.loss), abs=1e-5)


def test_with_compression_exp_loss_is_the_per_base_token_perplexity_of_the_scored_text():
    model = _model(max_codebook_size=32)
    rows = [repetitive_ids(60, seed=2, alphabet=4), repetitive_ids(45, seed=3, alphabet=4)]
    width = max(len(r) for r in rows)
    ids = torch.tensor([[PAD] * (width - len(r)) + r for r in rows])  # left padding
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
    labels = ids.masked_fill(mask == 0, -100)
    labels[1, width - 45 : width - 45 + 10] = -100  # the second row's first 10 ids are its prompt
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, labels=labels)
    scores = score_continuations(model, [(rows[0][:1], rows[0][1:]), (rows[1][:10], rows[1][10:])])
    total_nll = -sum(s.logprob for s in scores)
    assert out.num_base_tokens == 59 + 35 == sum(s.num_base_tokens for s in scores)
    assert out.num_codes == sum(s.num_codes for s in scores) < out.num_base_tokens  # hypertokens were used
    assert float(out.loss) == pytest.approx(total_nll / out.num_base_tokens, rel=1e-4)
    assert float(out.loss_per_code) == pytest.approx(total_nll / out.num_codes, rel=1e-4)
    assert math.isfinite(math.exp(float(out.loss)))


def test_the_loss_trains_the_hyper_encoders():
    model = _model(max_codebook_size=32).train()
    ids = torch.tensor([repetitive_ids(50, seed=4, alphabet=4)])
    model(input_ids=ids, labels=ids).loss.backward()
    grad = model.input_encoder.out_proj.weight.grad
    assert grad is not None and float(grad.abs().sum()) > 0


def test_without_labels_there_is_no_loss_but_logits_over_the_codes():
    model = _model(max_codebook_size=32)
    ids = torch.tensor([repetitive_ids(50, seed=5, alphabet=4)])
    with torch.no_grad():
        out = model(ids)
    assert out.loss is None and out.loss_per_code is None
    assert out.logits.shape[:2] == (1, len(out.codes[0]) - 1)
    assert out.logits.shape[2] == VOCAB + 32


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda labels: labels.roll(-1, dims=1), "labels must be input_ids"),  # pre-shifted targets
        (lambda labels: labels.index_fill(1, torch.tensor([20]), -100), "on a prefix"),  # a hole
        (lambda labels: torch.full_like(labels, -100), "nothing to score"),
    ],
)
def test_labels_other_than_the_text_are_refused_with_the_convention(edit, message):
    model = _model(max_codebook_size=32)
    ids = torch.tensor([repetitive_ids(30, seed=6)])
    with pytest.raises(ValueError, match=message):
        model(input_ids=ids, labels=edit(ids.clone()))


def test_compressed_options_without_a_codebook_are_refused():
    model = _model(max_codebook_size=32)
    ids = torch.tensor([repetitive_ids(30, seed=7)])
    with pytest.raises(TypeError, match="entry_positions"):
        model(input_ids=ids, entry_positions=torch.zeros(1, 1, dtype=torch.long))
