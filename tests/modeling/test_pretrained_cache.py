"""Base models read once per run inside ``reuse_loaded_models``, never shared between callers, never outside it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import transformers
from _model_factories import VOCAB, compression, tiny_base

import zip2zip
from zip2zip.modeling.pretrained_cache import load_causal_lm, reuse_loaded_models


@pytest.fixture
def base_dir(tmp_path: Path) -> Path:
    tiny_base(vocab_size=VOCAB).save_pretrained(tmp_path / "base")
    return tmp_path / "base"


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The locations transformers actually reads a causal LM from."""
    seen: list[str] = []
    real = transformers.AutoModelForCausalLM.from_pretrained

    def counting(name_or_path: str, *args: object, **kwargs: object) -> object:
        seen.append(str(name_or_path))
        return real(name_or_path, *args, **kwargs)

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", counting)
    return seen


def test_outside_the_block_every_load_reads_the_files(base_dir: Path, reads: list[str]) -> None:
    load_causal_lm(str(base_dir), trust_remote_code=False)
    load_causal_lm(str(base_dir), trust_remote_code=False)
    assert reads == [str(base_dir)] * 2


def test_inside_the_block_each_caller_gets_its_own_copy_of_one_read(base_dir: Path, reads: list[str]) -> None:
    with reuse_loaded_models():
        first = load_causal_lm(str(base_dir), dtype=torch.float32, trust_remote_code=False)
        with torch.no_grad():
            first.get_input_embeddings().weight.zero_()  # a caller's change stays its own
        second = load_causal_lm(str(base_dir), dtype=torch.float32, trust_remote_code=False)
        other_options = load_causal_lm(str(base_dir), dtype=torch.float16, trust_remote_code=False)
    assert reads == [str(base_dir)] * 2  # float32 once, float16 once
    fresh = load_causal_lm(str(base_dir), dtype=torch.float32, trust_remote_code=False)
    assert torch.equal(second.get_input_embeddings().weight, fresh.get_input_embeddings().weight)
    assert second.get_input_embeddings().weight.data_ptr() != first.get_input_embeddings().weight.data_ptr()
    assert other_options.dtype == torch.float16


def test_options_left_at_their_defaults_name_the_same_load(base_dir: Path, reads: list[str]) -> None:
    """The registry passes few options, a checkpoint's reference passes every hub option at its default."""
    with reuse_loaded_models():
        load_causal_lm(str(base_dir), dtype=torch.float32, trust_remote_code=False)
        load_causal_lm(
            str(base_dir),
            dtype=torch.float32,
            revision=None,
            local_files_only=False,
            token=None,
            trust_remote_code=False,
        )
    assert reads == [str(base_dir)]


def test_a_base_rewritten_during_the_run_is_read_again(base_dir: Path, reads: list[str]) -> None:
    with reuse_loaded_models():
        load_causal_lm(str(base_dir), trust_remote_code=False)
        tiny_base(vocab_size=VOCAB, seed=7).save_pretrained(base_dir)
        reloaded = load_causal_lm(str(base_dir), trust_remote_code=False)
    assert len(reads) == 2
    expected = tiny_base(vocab_size=VOCAB, seed=7).get_input_embeddings().weight
    torch.testing.assert_close(reloaded.get_input_embeddings().weight, expected)


def test_checkpoints_on_one_base_read_it_once_and_score_as_before(
    base_dir: Path, tmp_path: Path, reads: list[str]
) -> None:
    model = zip2zip.Zip2ZipForCausalLM.from_base(
        tiny_base(vocab_size=VOCAB), compression=compression(), base_model_name_or_path=str(base_dir)
    )
    folder = model.save_pretrained(tmp_path / "ckpt")
    ids = torch.tensor([[3, 4, 5, 3, 4, 5, 6]])
    table = torch.zeros(1, 64, 3, dtype=torch.long)
    expected = zip2zip.Zip2ZipForCausalLM.from_pretrained(folder)(ids, table).logits
    reads.clear()
    with reuse_loaded_models():
        loaded = [zip2zip.Zip2ZipForCausalLM.from_pretrained(folder) for _ in range(2)]
    assert reads == [str(base_dir)]
    for again in loaded:
        torch.testing.assert_close(again(ids, table).logits, expected, rtol=0, atol=0)
