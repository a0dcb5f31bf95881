"""Digit protection: which ids carry a digit (on real tokenizers), the config that records it, and the codec
never merging a protected id into a hypertoken."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zip2zip.codec.config import CODEBOOK_POLICIES, CompressionConfig, compression_config_from_tokenizer
from zip2zip.codec.digits import digit_bearing_ids, has_decimal_digit
from zip2zip.codec.lzw import compress_with_history, decompress
from zip2zip.data.tokenizers import BYTES_EOS, BYTES_PAD, MissingAssetError, bytes_tokenizer, get_tokenizer

ASCII_DIGIT_BYTES = frozenset(range(ord("0"), ord("9") + 1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("x2", True, id="ascii"),
        pytest.param("٣", True, id="arabic-indic"),
        pytest.param("１", True, id="fullwidth"),
        pytest.param("m²", False, id="superscript"),
        pytest.param("½", False, id="fraction"),
        pytest.param("①", False, id="circled"),
        pytest.param("seven", False, id="word"),
        pytest.param("", False, id="empty"),
    ],
)
def test_a_digit_is_a_decimal_digit_of_any_script(text: str, expected: bool) -> None:
    assert has_decimal_digit(text) is expected


def test_the_bytes_tokenizer_protects_exactly_the_ascii_digits() -> None:
    """Byte b is id b: the digits are ids 48..57; no other single byte decodes to a decimal digit."""
    assert digit_bearing_ids(bytes_tokenizer(), 258) == ASCII_DIGIT_BYTES


def test_smollm2_protects_its_ten_digit_ids_and_nothing_else() -> None:
    """SmolLM2 splits numbers into single digits, so its digit-bearing ids are exactly those of "0".."9"."""
    try:
        tok = get_tokenizer("smollm2")
    except MissingAssetError as exc:
        pytest.skip(str(exc))
    digits = digit_bearing_ids(tok, tok.vocab_size)
    assert digits == {id_ for d in "0123456789" for id_ in tok.encode(d)}
    assert len(digits) == 10
    assert not digits & set(tok.encode("The year was two thousand, give or take."))


def test_llama3_protects_multi_digit_ids_but_no_word() -> None:
    """Llama-3 merges up to three digits into one id: those ids are protected, words and spaces are not."""
    try:
        tok = get_tokenizer("llama3")
    except MissingAssetError as exc:
        pytest.skip(str(exc))
    digits = digit_bearing_ids(tok, tok.vocab_size)
    assert set(tok.encode("2024 and 365")) - set(tok.encode(" and ")) <= digits
    assert any(len(tok.decode([i])) == 3 for i in tok.encode("123"))  # one id holds all three digits
    assert not digits & set(tok.encode("The cat sat on the mat."))
    assert all(has_decimal_digit(tok.decode([i])) for i in digits)


def test_o200k_vocabulary_gaps_are_skipped() -> None:
    """o200k has unassigned ids below its special tokens, which tiktoken cannot decode: they hold no digit."""
    try:
        tok = get_tokenizer("phi4")  # o200k
    except MissingAssetError as exc:
        pytest.skip(str(exc))
    digits = digit_bearing_ids(tok, tok.vocab_size)
    assert set(tok.encode("2024")) <= digits and not digits & set(tok.encode("The cat sat."))


def test_a_bad_vocab_size_or_a_decoder_of_lists_is_refused() -> None:
    with pytest.raises(ValueError, match="vocab_size=0"):
        digit_bearing_ids(bytes_tokenizer(), 0)

    class Batched:
        def decode(self, token_ids: list[int], /) -> list[str]:
            return [str(i) for i in token_ids]

    with pytest.raises(TypeError, match="not the text of that id"):
        digit_bearing_ids(Batched(), 4)


def _protected(**kwargs: object) -> CompressionConfig:
    config = CompressionConfig(258, BYTES_PAD, disabled_ids=frozenset({BYTES_EOS}), **kwargs)  # type: ignore[arg-type]
    return config.with_protected_digits(digit_bearing_ids(bytes_tokenizer(), 258))


def test_the_config_records_the_flag_and_disables_the_ids() -> None:
    config = _protected()
    assert config.protect_digits and config.disabled_ids == ASCII_DIGIT_BYTES | {BYTES_PAD, BYTES_EOS}
    assert config.to_dict()["protect_digits"] is True
    assert CompressionConfig.from_dict(config.to_dict()) == config
    assert "protect_digits" not in CompressionConfig(258, BYTES_PAD).to_dict()  # older files stay identical


def test_bad_digit_protection_input_is_refused() -> None:
    plain = CompressionConfig(258, BYTES_PAD)
    with pytest.raises(ValueError, match="nothing to protect"):
        plain.with_protected_digits([])
    with pytest.raises(ValueError, match="outside the base vocabulary"):
        plain.with_protected_digits([300])
    with pytest.raises(TypeError, match="protect_digits must be a bool"):
        CompressionConfig(258, BYTES_PAD, protect_digits="yes")  # type: ignore[arg-type]


def test_a_config_from_a_hugging_face_tokenizer_protects_its_digits() -> None:
    hf = bytes_tokenizer().hf_tokenizer()
    config = compression_config_from_tokenizer(hf, protect_digits=True)
    assert config.protect_digits and config.disabled_ids >= ASCII_DIGIT_BYTES
    assert not compression_config_from_tokenizer(hf).disabled_ids & ASCII_DIGIT_BYTES


_TEXT = st.text(alphabet="0123456789 .,+-=x$ab", max_size=300)


@given(_TEXT, st.sampled_from(CODEBOOK_POLICIES), st.integers(1, 64))
def test_no_hypertoken_ever_holds_a_digit(text: str, policy: str, max_codebook_size: int) -> None:
    """Under every policy, no entry ever created (evicted ones included) holds a digit id, and the stream
    still decodes to its input."""
    ids = list(text.encode("utf-8"))
    config = _protected(max_codebook_size=max_codebook_size, codebook_policy=policy)
    codes, history = compress_with_history(ids, config)
    assert not any(set(record.base_ids) & ASCII_DIGIT_BYTES for record in history)
    assert decompress(codes, config)[0] == ids
