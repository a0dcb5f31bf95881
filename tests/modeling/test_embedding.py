"""Dynamic input embedding: base ids via the base module, hypertoken ids via the row's own cache."""

from __future__ import annotations

import pytest
import torch
from _model_factories import ARCHITECTURES, VOCAB, tiny_zip2zip

from zip2zip.modeling.embedding import embed_compressed_ids
from zip2zip.modeling.hyper_encoder import masked_mean


def test_base_and_hyper_ids_read_the_right_tables():
    base = torch.nn.Embedding(10, 4)
    cache = torch.arange(2 * 3 * 4, dtype=torch.float32).view(2, 3, 4)  # [B=2, S=3, d=4]
    ids = torch.tensor([[1, 10, 12], [11, 2, 10]])  # V = 10
    out = embed_compressed_ids(ids, base_embedding=base, hyper_embeds=cache, initial_vocab_size=10)
    torch.testing.assert_close(out[0, 0], base.weight[1])
    torch.testing.assert_close(out[1, 1], base.weight[2])
    torch.testing.assert_close(out[0, 1], cache[0, 0])
    torch.testing.assert_close(out[0, 2], cache[0, 2])
    torch.testing.assert_close(out[1, 0], cache[1, 1])  # same id, other row -> other row's entry
    torch.testing.assert_close(out[1, 2], cache[1, 0])


def test_without_hyper_cache_only_base_ids():
    base = torch.nn.Embedding(10, 4)
    ids = torch.tensor([[1, 2]])
    out = embed_compressed_ids(ids, base_embedding=base, hyper_embeds=None, initial_vocab_size=10)
    torch.testing.assert_close(out, base(ids))


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_model_embedding_of_fresh_hypertoken_is_mean_of_scaled_base_rows(arch):
    """Untrained encoders: embed(V + k) == mean of the base module's rows (incl. Gemma's sqrt(d) scaling)."""
    model = tiny_zip2zip(arch, trained=False)
    table = torch.tensor([[[5, 6, 0], [7, 8, 9]]])  # one row, entries (5, 6) and (7, 8, 9)
    hyper_in, _ = model.encode_codebook(table)
    ids = torch.tensor([[5, VOCAB, VOCAB + 1]])
    out = model.embed(ids, hyper_in)
    emb = model.input_embeddings
    torch.testing.assert_close(out[0, 0], emb(torch.tensor(5)))
    expected = masked_mean(emb(table[0]), table[0] != 0)
    torch.testing.assert_close(out[0, 1:], expected)


def test_empty_slots_are_never_encoded():
    model = tiny_zip2zip("llama")
    table = torch.tensor([[[5, 6, 0], [0, 0, 0]], [[0, 0, 0], [0, 0, 0]]])
    hyper_in, hyper_out = model.encode_codebook(table)
    assert torch.count_nonzero(hyper_in[0, 1]) == 0 and torch.count_nonzero(hyper_in[1]) == 0
    assert torch.count_nonzero(hyper_out[1]) == 0
    assert torch.isfinite(hyper_in).all() and torch.isfinite(hyper_out).all()


@pytest.mark.parametrize("arch", ["llama", "gemma"])
def test_tied_encoders_reuse_the_output_vector_as_input(arch):
    """Paper rule for tied embeddings: one encoder output serves both sides (scaled like base rows)."""
    model = tiny_zip2zip(arch, tie_encoders=True)
    table = torch.tensor([[[5, 6, 0], [7, 8, 9]]])
    hyper_in, hyper_out = model.encode_codebook(table)
    scale = getattr(model.input_embeddings, "embed_scale", torch.tensor(1.0))
    torch.testing.assert_close(hyper_in, hyper_out * scale)
    torch.testing.assert_close(model.encode_input_entries(table[0]), hyper_in[0])


def test_tie_default_follows_the_base_models_tied_embeddings():
    from _model_factories import compression, tiny_base

    from zip2zip.modeling.model import Zip2ZipPreTrainedModel

    assert Zip2ZipPreTrainedModel.from_base(
        tiny_base("llama", tie=True), compression=compression()
    ).config.tie_encoders
    assert not Zip2ZipPreTrainedModel.from_base(
        tiny_base("llama"), compression=compression()
    ).config.tie_encoders


def test_length_grouped_encoding_equals_one_padded_call():
    """Large batches skip padded member rows; the masked encoder must give the same vectors."""
    from zip2zip.modeling.model import _MIN_ENTRIES_TO_GROUP

    model = tiny_zip2zip("qwen2")
    g = torch.Generator().manual_seed(0)
    members = torch.randint(3, VOCAB, (2 * _MIN_ENTRIES_TO_GROUP, 3), generator=g)
    members[::3, 2] = 0  # a third of the entries hold 2 base ids
    grouped = model.encode_output_entries(members)
    padded = model.output_encoder(torch.nn.functional.embedding(members, model.lm_head.weight), members != 0)
    torch.testing.assert_close(grouped, padded, atol=1e-5, rtol=1e-5)
    one_by_one = torch.cat([model.encode_input_entries(members[i : i + 1]) for i in range(len(members))])
    torch.testing.assert_close(model.encode_input_entries(members), one_by_one, atol=1e-5, rtol=1e-5)
