"""``zip2zip.Zip2ZipForCausalLM`` used as a transformers user would: Auto classes, ``generate`` with tokenizer
tensors and HF options, ``dtype``/``device_map``, ``device``/``dtype``/``num_parameters``."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest
import torch
from _model_factories import (
    EOS,
    MODEL_ROWS,
    PAD,
    VOCAB,
    compression,
    repetitive_ids,
    tiny_base,
    tiny_tokenizer,
    words,
)
from transformers import AutoConfig, AutoModelForCausalLM, GenerationConfig

import zip2zip
from zip2zip.inference.decoding import DecodingConfig, decoding_config_from_hf
from zip2zip.modeling.config import HyperEncoderConfig


def _model(
    *, max_codebook_size: int = 16, base_path: str | None = None, rows: int = VOCAB
) -> zip2zip.Zip2ZipForCausalLM:
    """Tiny public-class model; by default its base has exactly V rows (so its own generate compares)."""
    base = tiny_base(vocab_size=rows)
    model = zip2zip.Zip2ZipForCausalLM.from_base(
        base,
        compression=compression(max_codebook_size=max_codebook_size),
        hyper_encoder=HyperEncoderConfig(num_heads=4),
        base_model_name_or_path=base_path,
    )
    with torch.no_grad():  # encoders that matter (their out_proj starts at zero)
        torch.manual_seed(1)
        model.input_encoder.out_proj.weight.normal_(0.0, 0.2)
        model.output_encoder.out_proj.weight.normal_(0.0, 0.2)
    return model.eval()


def _saved(tmp_path, **kwargs) -> tuple[zip2zip.Zip2ZipForCausalLM, str]:
    base_dir = tmp_path / "base"
    tiny_base(vocab_size=VOCAB).save_pretrained(base_dir)
    model = _model(base_path=str(base_dir), **kwargs)
    return model, str(model.save_pretrained(tmp_path / "ckpt"))


def _left_padded(prompts: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    length = max(len(p) for p in prompts)
    ids = torch.tensor([[PAD] * (length - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (length - len(p)) + [1] * len(p) for p in prompts])
    return ids, mask


PROMPTS = [repetitive_ids(30, seed=1), repetitive_ids(17, seed=2)]


# ------------------------------------------------------------------ Auto classes
def test_import_registers_with_the_auto_classes_without_importing_torch() -> None:
    code = (
        "import sys, zip2zip; assert 'torch' not in sys.modules and 'transformers' not in sys.modules; "
        "from transformers import AutoConfig, AutoModelForCausalLM; "
        "from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING as m; "
        "c = AutoConfig.for_model('zip2zip'); print(type(c).__name__, m[type(c)].__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["Zip2ZipHFConfig", "Zip2ZipAutoLoader"]


def test_auto_model_loads_a_checkpoint_as_the_zip2zip_class(tmp_path) -> None:
    model, ckpt = _saved(tmp_path)
    assert AutoConfig.from_pretrained(ckpt).model_type == "zip2zip"
    loaded = AutoModelForCausalLM.from_pretrained(ckpt, dtype=torch.float32, device_map="cpu")
    assert type(loaded) is zip2zip.Zip2ZipForCausalLM
    ids, mask = _left_padded(PROMPTS)
    torch.testing.assert_close(
        loaded.generate(ids, attention_mask=mask, max_new_tokens=8),
        model.generate(ids, attention_mask=mask, max_new_tokens=8),
    )


def test_auto_model_rejects_options_zip2zip_does_not_take(tmp_path) -> None:
    _, ckpt = _saved(tmp_path)
    with pytest.raises(TypeError, match="low_cpu_mem_usage"):
        AutoModelForCausalLM.from_pretrained(ckpt, low_cpu_mem_usage=True)


# ------------------------------------------------------------------ generate, transformers style
def test_generate_with_compression_off_equals_the_base_models_generate() -> None:
    """Same tensor out: prompt as given, then new ids, finished rows right-padded with the pad id."""
    model = _model(max_codebook_size=0)
    ids, mask = _left_padded(PROMPTS)
    options = {"max_new_tokens": 10, "pad_token_id": PAD, "eos_token_id": EOS}
    ours = model.generate(input_ids=ids, attention_mask=mask, **options)
    theirs = model.causal_lm.generate(input_ids=ids, attention_mask=mask, do_sample=False, **options)
    assert torch.equal(ours, theirs)


def test_generate_output_holds_the_prompt_then_max_new_tokens_base_ids() -> None:
    """The model and prompts with which ``test_generation`` sees hypertokens: they come out expanded."""
    model = _model(max_codebook_size=64, rows=MODEL_ROWS)
    prompts = [repetitive_ids(40, seed=1), repetitive_ids(23, seed=2), repetitive_ids(31, seed=3)]
    ids, mask = _left_padded(prompts)
    out = model.generate(ids, attention_mask=mask, max_new_tokens=9, eos_token_id=[])
    assert out.shape == (3, ids.shape[1] + 9)  # the budget counts base tokens, as in transformers
    assert torch.equal(out[:, : ids.shape[1]], ids)
    config = DecodingConfig(max_new_tokens=9, budget_unit="base_tokens", ignore_eos=True)
    rows = zip2zip.generate(model, prompts, config=config).rows
    assert out[:, ids.shape[1] :].tolist() == [r.base_ids for r in rows]
    assert any(r.num_hypertokens_emitted for r in rows)


def test_generate_takes_a_plain_tokenizers_tensors_and_a_generation_config() -> None:
    model, tok = _model(), tiny_tokenizer()
    texts = [words(PROMPTS[0]), words(PROMPTS[1])]
    tok.padding_side = "left"
    inputs = tok(texts, return_tensors="pt", padding=True)
    config = GenerationConfig(max_new_tokens=6, do_sample=True, top_k=1)  # top-k 1 sampling is greedy
    out = model.generate(**inputs, generation_config=config)
    greedy = model.generate(**inputs, max_new_tokens=6)
    assert torch.equal(out, greedy)
    completions = tok.batch_decode(out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    expected = zip2zip.generate(
        model, texts, tokenizer=tok, config=DecodingConfig(max_new_tokens=6, budget_unit="base_tokens")
    )
    assert completions == expected.texts


def test_sampling_follows_torch_manual_seed() -> None:
    model = _model()
    ids, mask = _left_padded(PROMPTS)
    options = {"attention_mask": mask, "max_new_tokens": 12, "do_sample": True, "temperature": 2.0}
    torch.manual_seed(3)
    first = model.generate(ids, **options)
    torch.manual_seed(3)
    assert torch.equal(model.generate(ids, **options), first)
    draws = {tuple(model.generate(ids, **options).flatten().tolist()) for _ in range(3)}
    assert len(draws | {tuple(first.flatten().tolist())}) > 1


@pytest.mark.parametrize(
    ("options", "named"),
    [
        pytest.param({"num_beams": 4}, "num_beams=4", id="beam-search"),
        pytest.param({"repetition_penalty": 1.3}, "repetition_penalty=1.3", id="penalty"),
        pytest.param({"max_length": 40}, "max_length=40", id="max-length"),
        pytest.param(
            {"generation_config": GenerationConfig(do_sample=True, num_return_sequences=2)},
            "num_return_sequences=2",
            id="config",
        ),
    ],
)
def test_unsupported_options_are_named(options, named) -> None:
    ids, mask = _left_padded(PROMPTS)
    with pytest.raises(ValueError, match=named):
        _model().generate(ids, attention_mask=mask, **options)


def test_neutral_values_of_unsupported_options_pass() -> None:
    config = decoding_config_from_hf(GenerationConfig(num_beams=1, max_new_tokens=5), {"use_cache": True})
    assert config == DecodingConfig(max_new_tokens=5, budget_unit="base_tokens")


def test_prompt_ids_must_be_given_once_as_an_integer_tensor() -> None:
    model = _model()
    ids, _ = _left_padded(PROMPTS)
    with pytest.raises(TypeError, match="once"):
        model.generate(ids, input_ids=ids)
    with pytest.raises(TypeError, match="integer tensor"):
        model.generate([[3, 4, 5]])


# ------------------------------------------------------------------ zip2zip.generate with HF objects
def test_zip2zip_generate_wraps_a_plain_tokenizer_and_converts_a_generation_config() -> None:
    model, tok = _model(), tiny_tokenizer()
    out = zip2zip.generate(model, words(PROMPTS[0]), tokenizer=tok, config=GenerationConfig(max_new_tokens=5))
    wrapped = zip2zip.Zip2ZipTokenizer(tok, model.compression)
    same = zip2zip.generate(
        model,
        words(PROMPTS[0]),
        tokenizer=wrapped,
        config=DecodingConfig(max_new_tokens=5, budget_unit="base_tokens"),
    )
    assert out.texts == same.texts and out.rows[0].num_base_tokens <= 5


def test_zip2zip_generate_names_a_wrong_tokenizer() -> None:
    model = _model()
    with pytest.raises(TypeError, match="Zip2ZipTokenizer or a Hugging Face tokenizer"):
        zip2zip.generate(model, "w3 w4", tokenizer="gpt2")  # type: ignore[arg-type]
    bigger = tiny_tokenizer()
    bigger.add_tokens(["extra"])
    with pytest.raises(ValueError, match="tokenizer/model mismatch"):
        zip2zip.generate(model, "w3 w4", tokenizer=bigger)


# ------------------------------------------------------------------ loading options and properties
def test_dtype_and_its_old_name_and_device_map(tmp_path) -> None:
    _, ckpt = _saved(tmp_path)
    half = zip2zip.Zip2ZipForCausalLM.from_pretrained(ckpt, torch_dtype="bfloat16", device_map={"": "cpu"})
    assert half.dtype == torch.bfloat16 and half.device == torch.device("cpu")
    assert half.input_encoder.out_proj.weight.dtype == torch.bfloat16
    auto = zip2zip.Zip2ZipForCausalLM.from_pretrained(ckpt, dtype=torch.float32, device_map="auto")
    accelerator = (
        "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else None
    )
    assert auto.dtype == torch.float32 and auto.device.type == (accelerator or "cpu")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"dtype": "float8"}, "dtype='float8'", id="unknown-dtype"),
        pytest.param({"dtype": "float16", "torch_dtype": "bfloat16"}, "disagree", id="two-dtypes"),
        pytest.param({"device_map": {"a": 0, "b": "cpu"}}, "one device", id="spread-map"),
        pytest.param({"device_map": "toaster"}, "not a device", id="bad-device"),
    ],
)
def test_bad_loading_options_fail_before_loading(tmp_path, options, message) -> None:
    with pytest.raises(ValueError, match=message):
        zip2zip.Zip2ZipForCausalLM.from_pretrained(tmp_path / "not-even-there", **options)


def test_a_base_model_folder_is_never_silently_loaded_as_an_untrained_wrapper(tmp_path) -> None:
    """A folder with a base model and its tokenizer but no zip2zip_config.json is not a checkpoint."""
    tiny_base(vocab_size=VOCAB).save_pretrained(tmp_path)
    tiny_tokenizer().save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"not a zip2zip checkpoint .* pass max_codebook_size"):
        zip2zip.Zip2ZipForCausalLM.from_pretrained(tmp_path)
    wrapped = zip2zip.Zip2ZipForCausalLM.from_pretrained(tmp_path, max_codebook_size=32)  # asked for: wraps
    assert wrapped.compression.max_codebook_size == 32


def test_a_checkpoint_records_its_codebook_policy_and_loading_can_override_it(tmp_path) -> None:
    import dataclasses

    model, ckpt = _saved(tmp_path)
    assert zip2zip.Zip2ZipForCausalLM.from_pretrained(ckpt).compression.codebook_policy == "freeze"
    lru = zip2zip.Zip2ZipForCausalLM.from_pretrained(ckpt, codebook_policy="lru", max_codebook_size=4)
    assert lru.compression == dataclasses.replace(
        model.compression, codebook_policy="lru", max_codebook_size=4
    )
    for name, tensor in model.encoders_state_dict().items():  # context-free encoders: the same weights
        assert torch.equal(lru.encoders_state_dict()[name], tensor), name
    again = lru.save_pretrained(tmp_path / "lru")
    assert zip2zip.Zip2ZipForCausalLM.from_pretrained(again).compression == lru.compression
    with pytest.raises(ValueError, match="codebook policy"):
        zip2zip.Zip2ZipForCausalLM.from_pretrained(ckpt, codebook_policy="fifo")


def test_a_checkpoint_without_encoders_cannot_be_given_slots(tmp_path) -> None:
    _, ckpt = _saved(tmp_path, max_codebook_size=0)
    with pytest.raises(ValueError, match="compression off"):
        zip2zip.Zip2ZipForCausalLM.from_pretrained(ckpt, max_codebook_size=8)


def test_a_base_model_is_wrapped_with_the_policy_asked_for(tmp_path) -> None:
    tiny_base(vocab_size=VOCAB).save_pretrained(tmp_path)
    tiny_tokenizer().save_pretrained(tmp_path)
    wrapped = zip2zip.Zip2ZipForCausalLM.from_pretrained(
        tmp_path, max_codebook_size=8, codebook_policy="reset"
    )
    assert (wrapped.compression.codebook_policy, wrapped.compression.max_codebook_size) == ("reset", 8)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_cuda_device_map_without_cuda_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ValueError, match="CUDA is not available"):
        zip2zip.Zip2ZipForCausalLM.from_pretrained(tmp_path, device_map="cuda:0")


def test_num_parameters_counts_base_and_encoders_once() -> None:
    model = _model()
    base = sum(p.numel() for p in model.causal_lm.parameters())
    encoders = sum(p.numel() for m in (model.input_encoder, model.output_encoder) for p in m.parameters())
    assert model.num_parameters() == base + encoders
    embedding = model.input_embeddings.weight.numel()
    assert model.num_parameters(exclude_embeddings=True) == base + encoders - embedding
    model.causal_lm.requires_grad_(False)
    assert model.num_parameters(only_trainable=True) == encoders


def test_kv_cache_keyword_follows_the_forward_signature() -> None:
    from torch import nn

    from zip2zip.modeling.model import kv_cache_keyword

    class Renamed(nn.Module):
        def forward(self, inputs_embeds: torch.Tensor, cache: object = None) -> None: ...

    class Older(nn.Module):
        def forward(self, inputs_embeds: torch.Tensor, past_key_values: object = None) -> None: ...

    assert kv_cache_keyword(Renamed) == "cache"
    assert kv_cache_keyword(Older) == "past_key_values"


def test_generate_raises_no_deprecation_warning_of_our_making() -> None:
    """transformers deprecates ``past_key_values=`` in favour of ``cache=``: our calls use the current name."""
    model = _model(max_codebook_size=64, rows=MODEL_ROWS)
    ids, mask = _left_padded([repetitive_ids(30, seed=1), repetitive_ids(21, seed=2)])
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        warnings.simplefilter("error", DeprecationWarning)
        model.generate(ids, attention_mask=mask, max_new_tokens=6, eos_token_id=[])
