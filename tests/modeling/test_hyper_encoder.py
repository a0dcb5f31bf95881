"""Hyper-encoder: initial value, masking of padding, order sensitivity, registry and config errors."""

from __future__ import annotations

import pytest
import torch

from zip2zip.modeling.config import HyperEncoderConfig, Zip2ZipConfig
from zip2zip.modeling.hyper_encoder import build_hyper_encoder, known_hyper_encoders, masked_mean, transformer

D, M = 32, 3


def _encoder(
    name: str = "transformer", *, num_layers: int = 2, trained: bool = False, width: int | None = None
):
    torch.manual_seed(0)
    enc = build_hyper_encoder(
        HyperEncoderConfig(name=name, num_layers=num_layers, num_heads=4, width=width),
        hidden_size=D,
        max_subtokens=M,
    )
    if trained and name == "transformer":
        with torch.no_grad():
            enc.out_proj.weight.normal_(0, 0.3)
    return enc.eval()


def _rows_and_mask():
    rows = torch.randn(4, M, D)  # [N, M, d]
    mask = torch.tensor([[1, 1, 0], [1, 1, 1], [1, 1, 0], [1, 1, 1]], dtype=torch.bool)
    return rows, mask


def test_masked_mean_worked_example():
    rows = torch.tensor([[[1.0], [3.0], [100.0]]])
    assert masked_mean(rows, torch.tensor([[True, True, False]])).item() == 2.0


@pytest.mark.parametrize("name", ["transformer", "mean"])
@pytest.mark.parametrize("num_layers", [0, 2], ids=["0-layers", "2-layers"])
def test_untrained_encoder_returns_mean_of_members(name, num_layers):
    """Zero-initialised out_proj: a fresh wrapper embeds a hypertoken as the mean of its member rows."""
    rows, mask = _rows_and_mask()
    out = _encoder(name, num_layers=num_layers)(rows, mask)
    assert out.shape == (4, D)
    torch.testing.assert_close(out, masked_mean(rows, mask), rtol=0, atol=0)


@pytest.mark.parametrize("width", [None, D // 2], ids=["width-d", "narrow"])
def test_output_scale_sets_the_final_gain_and_keeps_the_mean(width):
    rows, mask = _rows_and_mask()
    enc = _encoder(width=width)
    enc.init_output_scale(0.136)
    assert torch.all(enc.final_norm.weight == 0.136)
    torch.testing.assert_close(enc(rows, mask), masked_mean(rows, mask), rtol=0, atol=0)
    with pytest.raises(ValueError, match="row_rms"):
        enc.init_output_scale(0.0)
    _encoder("mean").init_output_scale(0.136)  # parameter-free variant: nothing to scale


@pytest.mark.parametrize("tie", [False, True], ids=["untied", "tied"])
def test_fresh_wrapper_scales_each_encoder_by_the_rows_it_reads(tie):
    """Input encoder: RMS of the input-embedding rows; output (or tied) encoder: RMS of the LM-head rows."""
    from tests._model_factories import VOCAB, compression, tiny_base
    from zip2zip.modeling.model import Zip2ZipPreTrainedModel

    base = tiny_base("llama")
    with torch.no_grad():
        base.get_input_embeddings().weight.mul_(3.0)  # make the two tables' scales differ
    model = Zip2ZipPreTrainedModel.from_base(
        base, compression=compression(), hyper_encoder=HyperEncoderConfig(num_heads=4), tie_encoders=tie
    )

    def rms(weight):
        return float(weight[:VOCAB].pow(2).mean().sqrt())

    head, embed = rms(model.lm_head.weight.detach()), rms(model.input_embeddings.weight.detach())
    assert embed > 2 * head
    assert model.output_encoder.final_norm.weight.detach() == pytest.approx(
        [head] * model.config.hidden_size, rel=1e-6
    )
    expected_input = head if tie else embed
    assert model.input_encoder.final_norm.weight.detach() == pytest.approx(
        [expected_input] * model.config.hidden_size, rel=1e-6
    )


def test_narrow_encoder_starts_at_the_mean_and_is_smaller():
    rows, mask = _rows_and_mask()
    narrow = _encoder(width=D // 2)
    torch.testing.assert_close(narrow(rows, mask), masked_mean(rows, mask), rtol=0, atol=0)
    assert sum(p.numel() for p in narrow.parameters()) < sum(p.numel() for p in _encoder().parameters()) / 2


@pytest.mark.parametrize("width", [None, D // 2], ids=["width-d", "narrow"])
@pytest.mark.parametrize("trained", [False, True], ids=["untrained", "trained"])
def test_padding_is_masked_in_attention_and_pooling(trained, width):
    enc = _encoder(trained=trained, width=width)
    rows, mask = _rows_and_mask()
    changed = rows.clone()
    changed[~mask] = 1e3 * torch.randn_like(changed[~mask])
    torch.testing.assert_close(enc(rows, mask), enc(changed, mask))


def test_trained_transformer_is_order_sensitive_and_batch_independent():
    enc = _encoder(trained=True)
    rows, mask = _rows_and_mask()
    swapped = rows.clone()
    swapped[:, [0, 1]] = rows[:, [1, 0]]
    assert not torch.allclose(enc(rows, mask), enc(swapped, mask))
    torch.testing.assert_close(enc(rows, mask)[1:2], enc(rows[1:2], mask[1:2]))  # context-free per entry


@pytest.mark.parametrize("width", [None, 256], ids=["width-d", "narrow"])
@pytest.mark.parametrize("length", [2, 3], ids=["2-members", "3-members"])
def test_few_row_product_equals_the_linear_layers(monkeypatch, width, length):
    """One decode step's entry (<= 4 rows, ``W @ x^T``) encodes as ``nn.Linear`` does, within 1e-6, at SmolLM2's
    width and row scale, every weight moved off its initial value as training would (the output gain at the row
    RMS, as ``from_base`` sets it); ``_MAX_SKINNY_ROWS = 0`` forces the ``nn.Linear`` path."""
    torch.manual_seed(0)
    enc = build_hyper_encoder(HyperEncoderConfig(width=width), hidden_size=576, max_subtokens=M).eval()
    enc.init_output_scale(0.136)  # SmolLM2's row RMS
    with torch.no_grad():
        for parameter in enc.parameters():
            parameter.add_(0.02 * torch.randn_like(parameter))
        rows = 0.136 * torch.randn(1, length, 576)  # [1, m, d]
        mask = torch.ones(1, length, dtype=torch.bool)
        few_rows = enc(rows, mask)
        monkeypatch.setattr(transformer, "_MAX_SKINNY_ROWS", 0)
        linear = enc(rows, mask)
    residual = linear - masked_mean(rows, mask)
    assert float(residual.abs().max()) > 0.1  # the encoder's part, not just the mean, is compared
    torch.testing.assert_close(few_rows, linear, rtol=1e-6, atol=1e-6)


def test_registry_lists_variants_and_suggests_on_typo():
    assert {"mean", "transformer"} <= set(known_hyper_encoders())
    with pytest.raises(ValueError, match="Did you mean 'transformer'"):
        build_hyper_encoder(HyperEncoderConfig(name="transfromer"), hidden_size=D, max_subtokens=M)


def test_wrong_member_count_is_an_error():
    with pytest.raises(ValueError, match="max_subtokens=3"):
        _encoder()(torch.randn(2, 4, D), torch.ones(2, 4, dtype=torch.bool))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        pytest.param({"num_layers": -1}, "num_layers", id="negative-layers"),
        pytest.param({"num_heads": 0}, "num_heads", id="zero-heads"),
        pytest.param({"intermediate_size": 0}, "intermediate_size", id="zero-ffn"),
        pytest.param({"name": ""}, "name", id="empty-name"),
    ],
)
def test_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        HyperEncoderConfig(**kwargs)


def test_heads_must_divide_hidden_size():
    with pytest.raises(ValueError, match="does not divide"):
        HyperEncoderConfig(num_heads=5).resolved_num_heads(64)


def test_zip2zip_config_round_trip_and_unknown_keys():
    from zip2zip.codec.config import CompressionConfig

    cfg = Zip2ZipConfig(
        compression=CompressionConfig(initial_vocab_size=50, pad_token_id=0, max_codebook_size=8),
        hidden_size=64,
        hyper_encoder=HyperEncoderConfig(num_layers=1),
        base_model_name_or_path="some/model",
    )
    assert Zip2ZipConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match=r"unknown key.*hiden_size"):
        Zip2ZipConfig.from_dict({**cfg.to_dict(), "hiden_size": 3})
    with pytest.raises(ValueError, match="format_version"):
        Zip2ZipConfig.from_dict({**cfg.to_dict(), "format_version": 99})
