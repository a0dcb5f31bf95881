"""A checkpoint's config files are read strictly (``zip2zip.modeling.config_file``): a value of another JSON type,
out of range or unknown, a broken or linked file, a base found somewhere else than the checkpoint says, a base
that is a checkpoint, or sizes that would allocate before any check end in one line naming the file.

Each case reproduces a way a checkpoint loaded as another model or allocated first, on our checkpoints and the authors' fixtures
(``tests/fixtures/upstream``, see ``test_upstream_checkpoint.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from _model_factories import compression, tiny_base

from zip2zip.codec.lzw_codec import LZWCodec
from zip2zip.modeling.config import HyperEncoderConfig, resolve_base_location
from zip2zip.modeling.model import Zip2ZipPreTrainedModel

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "upstream"
ROOT = Path(__file__).resolve().parents[2]
CONFIG = "zip2zip_config.json"


def _edit(file: Path, change) -> None:
    data = json.loads(file.read_text())
    change(data)
    file.write_text(json.dumps(data))


def _one_line_error(folder: Path, match: str, **kwargs: Any) -> str:
    with pytest.raises(ValueError, match=match) as caught:
        Zip2ZipPreTrainedModel.from_pretrained(folder, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    return message


# ---- the authors' checkpoints --------------------------------------------------------------------------
def _authors(tmp_path: Path, variant: str, *, base_prefix: str | None = None) -> Path:
    """A copy of an authors' fixture next to copies of the bases, named by ``base_prefix`` + folder name
    (default: the absolute path)."""
    shutil.copytree(FIXTURES / "base_untied", tmp_path / "base_untied")
    shutil.copytree(FIXTURES / "base_tied", tmp_path / "base_tied")
    folder = tmp_path / variant
    shutil.copytree(FIXTURES / variant, folder)
    prefix = f"{tmp_path}/" if base_prefix is None else base_prefix
    if variant.startswith("v1"):
        _edit(
            folder / CONFIG, lambda d: d.update(base_model_name_or_path=prefix + d["base_model_name_or_path"])
        )
    return folder


@pytest.mark.parametrize(
    ("variant", "section", "key", "value", "expected"),
    [
        pytest.param("v1_rla_causal_untied", "encoder", "causal", "false", "true or false", id="string-bool"),
        pytest.param("v2_rla_selfcontained", "encoder", "residual", 1, "true or false", id="int-bool"),
        pytest.param(
            "v1_rla_causal_untied", "compression", "initial_vocab_size", 96.9, "an integer", id="float-V"
        ),
        pytest.param(
            "v1_rla_causal_untied", "compression", "disabled_ids", [0, 1.7], "integers", id="float-id"
        ),
        pytest.param(
            "v1_transformer_untied_lora", "encoder", "num_heads", "4", "an integer", id="string-int"
        ),
        pytest.param(
            "v1_rla_causal_untied", "encoder", "tie_encoders", None, "true or false", id="null-bool"
        ),
        pytest.param(
            "v1_rla_causal_untied", None, "position_mode", "Compressed", "one of", id="unknown-choice"
        ),
        pytest.param("v1_rla_causal_untied", "encoder", "casual", True, "unknown key", id="unknown-key"),
        pytest.param("v1_rla_causal_untied", None, "format_version", True, "an integer", id="bool-version"),
    ],
)
def test_the_authors_config_values_keep_their_json_type(tmp_path, variant, section, key, value, expected):
    """``"causal": "false"`` loaded a causal encoder (|dlogit| 9.01) and 96.9 became 96: now refused, naming
    the file and the key."""
    folder = _authors(tmp_path, variant)
    _edit(folder / CONFIG, lambda d: (d[section] if section else d).update({key: value}))
    message = _one_line_error(folder, expected)
    assert str(folder / CONFIG) in message and key in message


@pytest.mark.parametrize(
    ("removed", "added", "match"),
    [
        pytest.param(
            ["adapter_config.json", "adapter_model.safetensors"], [], "lacks adapter_config", id="none"
        ),
        pytest.param(
            ["adapter_config.json", "adapter_model.safetensors"],
            ["adapter_model.bin"],
            "pickled LoRA",
            id="bin",
        ),
        pytest.param(["adapter_model.safetensors"], ["adapter_model.bin"], "pickled LoRA", id="config+bin"),
        pytest.param(["adapter_model.safetensors"], [], "lacks adapter_model.safetensors", id="config-only"),
    ],
)
def test_a_format_1_checkpoint_without_its_adapter_is_refused(tmp_path, removed, added, match):
    """It loaded as the base without LoRA (|dlogit| 1.92), or was refused as "without its partner"."""
    folder = _authors(tmp_path, "v1_transformer_untied_lora")
    for name in removed:
        (folder / name).unlink()
    for name in added:
        (folder / name).write_bytes(b"\x80\x04pickle")
    _one_line_error(folder, match)


def test_a_format_1_checkpoint_says_when_it_has_no_adapter(tmp_path):
    folder = _authors(tmp_path, "v1_rla_causal_untied")
    Zip2ZipPreTrainedModel.from_pretrained(folder)  # "has_adapter": false, no adapter files: loads
    _edit(folder / CONFIG, lambda d: d.pop("has_adapter"))
    _one_line_error(folder, 'add "has_adapter": false')


def test_the_authors_relative_base_is_relative_to_the_checkpoint(tmp_path, monkeypatch):
    """A modified copy of the base in the working directory was loaded instead (|dlogit| 2.14)."""
    folder = _authors(tmp_path / "store", "v1_rla_causal_untied", base_prefix="../")
    expected = _logits(Zip2ZipPreTrainedModel.from_pretrained(folder))
    elsewhere = tmp_path / "work" / "inner"
    elsewhere.mkdir(parents=True)
    _modified_copy(tmp_path / "store" / "base_untied", tmp_path / "work" / "base_untied")
    monkeypatch.chdir(elsewhere)  # from here, ../base_untied is the modified copy
    assert torch.equal(_logits(Zip2ZipPreTrainedModel.from_pretrained(folder)), expected)


def test_a_hub_id_that_names_a_folder_of_the_working_directory_is_refused(tmp_path, monkeypatch):
    folder = _authors(tmp_path, "v1_rla_causal_untied")
    _edit(folder / CONFIG, lambda d: d.update(base_model_name_or_path="org/base"))
    _modified_copy(tmp_path / "base_untied", tmp_path / "org" / "base")
    monkeypatch.chdir(tmp_path)
    _one_line_error(folder, "transformers would load instead")


def test_format_1_may_not_call_itself_its_base(tmp_path):
    folder = _authors(tmp_path, "v1_rla_causal_untied")
    _edit(folder / CONFIG, lambda d: d.update(base_model_name_or_path="."))
    _one_line_error(folder, "only a self-contained format-2")


# ---- ours ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ours(tmp_path_factory) -> Path:
    """A saved checkpoint (with LoRA) and its base in one folder (``base``, ``ckpt``)."""
    from peft import LoraConfig

    root = tmp_path_factory.mktemp("ours")
    tiny_base("qwen2").save_pretrained(root / "base")
    model = Zip2ZipPreTrainedModel.from_pretrained(
        root / "base", compression=compression(), hyper_encoder=HyperEncoderConfig(num_heads=4)
    )
    with torch.no_grad():
        model.input_encoder.out_proj.weight.normal_(0, 0.2)
        model.output_encoder.out_proj.weight.normal_(0, 0.2)
    model.add_lora(LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    model.save_pretrained(root / "ckpt")
    return root


def _ours(ours: Path, tmp_path: Path, *, base: str | None = None) -> Path:
    """A copy of ``ours`` whose checkpoint names its base ``base`` (default: the copy's absolute path)."""
    shutil.copytree(ours, tmp_path, dirs_exist_ok=True)
    _edit(
        tmp_path / "ckpt" / CONFIG, lambda d: d.update(base_model_name_or_path=base or str(tmp_path / "base"))
    )
    return tmp_path / "ckpt"


def _logits(model: Zip2ZipPreTrainedModel) -> torch.Tensor:
    from _model_factories import repetitive_ids

    from zip2zip.codec.codebook import Codebook
    from zip2zip.codec.lzw import compress

    codes, entries, _ = compress(repetitive_ids(40, seed=3), model.compression)
    table = torch.from_numpy(Codebook.from_entries(model.compression, entries).table.copy())[None]
    with torch.no_grad():
        return model.eval()(torch.tensor([codes]), table).logits


def _modified_copy(base: Path, to: Path) -> None:
    shutil.copytree(base, to)
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(to / "model.safetensors"))
    name = next(k for k in tensors if "layers.0" in k and k.endswith("weight") and tensors[k].dim() == 2)
    tensors[name] = tensors[name] + 0.5
    save_file(tensors, str(to / "model.safetensors"), metadata={"format": "pt"})


@pytest.mark.parametrize(
    ("where", "key", "value", "expected"),
    [
        pytest.param(None, "tie_encoders", "false", "true or false", id="string-bool"),
        pytest.param("hyper_encoder", "num_layers", 1.7, "an integer", id="float-int"),
        pytest.param("compression", "max_subtokens", 3.0, "an integer", id="float-M"),
        pytest.param("compression", "pad_token_id", True, "an integer", id="bool-int"),
        pytest.param("hyper_encoder", "norm_eps", True, "a finite number", id="bool-number"),
        pytest.param("hyper_encoder", "causual", False, "unknown key", id="unknown-key"),
        pytest.param(None, "contents", "adapter", "a list of strings", id="string-list"),
        pytest.param(None, "hidden_size", 64.5, "an integer", id="float-width"),
        pytest.param("compression", "codebook_policy", "Freeze", "one of", id="unknown-policy"),
        pytest.param("compression", "codebook_policy", False, "one of", id="bool-policy"),
        pytest.param("compression", "protect_digits", "true", "true or false", id="string-protect-digits"),
    ],
)
def test_our_config_values_keep_their_json_type(ours, tmp_path, where, key, value, expected):
    folder = _ours(ours, tmp_path)
    _edit(folder / CONFIG, lambda d: (d[where] if where else d).update({key: value}))
    message = _one_line_error(folder, expected)
    assert str(folder / CONFIG) in message and key in message


def test_a_checkpoint_saved_with_digit_protection_loads_with_it(tmp_path):
    """The protected ids are disabled ids (which round-trip anyway); the flag is stored beside them, so a reader
    of the file knows why they are disabled, and a loaded model protects them as the saved one did."""
    tiny_base("qwen2").save_pretrained(tmp_path / "base")
    protected = compression().with_protected_digits({5, 7})
    model = Zip2ZipPreTrainedModel.from_pretrained(
        tmp_path / "base", compression=protected, hyper_encoder=HyperEncoderConfig(num_heads=4)
    )
    folder = model.save_pretrained(tmp_path / "ckpt")
    saved = json.loads((folder / CONFIG).read_text())["compression"]
    assert saved["protect_digits"] is True and {5, 7} <= set(saved["disabled_ids"])
    loaded = Zip2ZipPreTrainedModel.from_pretrained(folder)
    assert loaded.compression == protected and loaded.config == model.config


def test_digit_protection_at_inference_is_refused_without_compression(tmp_path):
    off = Zip2ZipPreTrainedModel.from_base(tiny_base(), compression=compression(max_codebook_size=0))
    with pytest.raises(ValueError, match="compression off"):
        off.config.with_protected_digits({5})
    on = Zip2ZipPreTrainedModel.from_base(tiny_base(), compression=compression())
    assert on.config.with_protected_digits({5}).compression.protect_digits


def test_our_relative_base_is_relative_to_the_checkpoint(ours, tmp_path, monkeypatch):
    folder = _ours(ours, tmp_path / "store", base="../base")
    expected = _logits(Zip2ZipPreTrainedModel.from_pretrained(folder))
    (tmp_path / "work" / "inner").mkdir(parents=True)
    _modified_copy(tmp_path / "store" / "base", tmp_path / "work" / "base")
    monkeypatch.chdir(tmp_path / "work" / "inner")  # from here, ../base is the modified copy
    assert torch.equal(_logits(Zip2ZipPreTrainedModel.from_pretrained(folder)), expected)


def test_a_base_given_relative_to_the_working_directory_is_saved_relative_to_the_checkpoint(
    ours, tmp_path, monkeypatch
):
    shutil.copytree(ours / "base", tmp_path / "models" / "base")
    monkeypatch.chdir(tmp_path / "models")
    model = Zip2ZipPreTrainedModel.from_pretrained("base", compression=compression())
    model.save_pretrained(tmp_path / "runs" / "ckpt")
    saved = json.loads((tmp_path / "runs" / "ckpt" / CONFIG).read_text())
    assert saved["base_model_name_or_path"] == "../../models/base"
    monkeypatch.chdir(tmp_path)
    assert torch.equal(
        _logits(Zip2ZipPreTrainedModel.from_pretrained(tmp_path / "runs" / "ckpt")), _logits(model)
    )


def test_package_resolves_to_the_installed_package_not_a_folder_here(tmp_path, monkeypatch):
    """``python -m`` puts the working directory first on sys.path: a planted ``json/`` there was taken."""
    import json as installed

    (tmp_path / "json").mkdir()
    (tmp_path / "json" / "__init__.py").write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert resolve_base_location("package:json") == str(Path(installed.__file__).parent)


@pytest.mark.parametrize(
    "base",
    [".", "../ckpt", "../other", "../broken"],
    ids=["itself", "itself-by-path", "cycle", "half-checkpoint"],
)
def test_a_checkpoint_whose_base_is_a_checkpoint_is_refused(ours, tmp_path, base):
    """These ended in RecursionError (``broken`` holds only the config.json naming model type zip2zip)."""
    folder = _ours(ours, tmp_path)
    (tmp_path / "broken").mkdir()
    shutil.copy(folder / "config.json", tmp_path / "broken" / "config.json")
    shutil.copytree(folder, tmp_path / "other")
    _edit(tmp_path / "other" / CONFIG, lambda d: d.update(base_model_name_or_path="../ckpt"))
    _edit(folder / CONFIG, lambda d: d.update(base_model_name_or_path=base))
    _one_line_error(folder, "is a zip2zip checkpoint")


def test_a_folder_with_only_a_zip2zip_config_json_is_refused(ours, tmp_path):
    """Its config.json names model type zip2zip, without the rest: it ended in RecursionError."""
    (tmp_path / "broken").mkdir()
    shutil.copy(ours / "ckpt" / "config.json", tmp_path / "broken" / "config.json")
    _one_line_error(tmp_path / "broken", "incomplete zip2zip checkpoint")


# ---- the file itself -----------------------------------------------------------------------------------
def _replace_file(file: Path, how: str) -> None:
    text = file.read_text()
    file.unlink()
    if how == "truncated":
        file.write_text(text[: len(text) // 2])
    elif how == "nested":
        file.write_text("[" * 100_000 + "]" * 100_000)
    elif how == "nested-object":
        file.write_text(text.replace('"contents"', '"deep": ' + "[" * 40 + "]" * 40 + ', "contents"'))
    elif how == "duplicate":
        file.write_text(text.replace('"contents"', '"tie_encoders": true, "contents"'))
    elif how == "nan":
        file.write_text(text.replace('"norm_eps": 1e-05', '"norm_eps": NaN'))
    elif how == "binary":
        file.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    elif how == "dangling-link":
        file.symlink_to(file.parent / "nowhere.json")
    elif how == "link-loop":
        file.symlink_to(file)
    elif how == "link-to-folder":
        file.symlink_to(file.parent)
    elif how == "link-to-device":
        file.symlink_to("/dev/zero")
    elif how == "folder":
        file.mkdir()


FILE_DAMAGE = [
    ("truncated", "not valid JSON"),
    ("nested", "nested too deeply|nests"),
    ("nested-object", "nests 4[0-9] levels"),
    ("duplicate", "appears twice"),
    ("nan", "NaN is not a JSON number"),
    ("binary", "not UTF-8"),
    ("dangling-link", "symlink to a missing file"),
    ("link-loop", "cannot be read"),
    ("link-to-folder", "not a regular file"),
    ("link-to-device", "not a regular file"),
    ("folder", "not a regular file"),
]


@pytest.mark.parametrize(("how", "match"), FILE_DAMAGE, ids=[h for h, _ in FILE_DAMAGE])
def test_a_damaged_config_file_is_one_line_naming_it(ours, tmp_path, how, match):
    folder = _ours(ours, tmp_path)
    _replace_file(folder / CONFIG, how)
    message = _one_line_error(folder, match)
    assert str(folder / CONFIG) in message


@pytest.mark.parametrize("how", ["truncated", "nested", "link-to-device"])
def test_a_damaged_authors_config_file_is_one_line_naming_it(tmp_path, how):
    folder = _authors(tmp_path, "v1_rla_causal_untied")
    _replace_file(folder / CONFIG, how)
    assert str(folder / CONFIG) in _one_line_error(folder, ".")


def test_a_config_behind_a_symlink_to_a_file_loads(ours, tmp_path):
    """The hub cache is made of symlinks to blobs: a link to a regular file is fine."""
    folder = _ours(ours, tmp_path)
    (folder / CONFIG).rename(tmp_path / "blob")
    (folder / CONFIG).symlink_to(tmp_path / "blob")
    Zip2ZipPreTrainedModel.from_pretrained(folder)


# ---- sizes, before any allocation (item 5) -------------------------------------------------------------
def test_the_codec_refuses_an_m_it_would_allocate_gibs_for():
    """``max_subtokens=10**9`` raised MemoryError for 14.9 GiB inside ``encode``."""
    with pytest.raises(ValueError, match=r"max_subtokens=1000000000.*<= 1024"):
        LZWCodec(10, pad_token_id=0, max_subtokens=10**9).encode([1, 2, 3])


SIZES = {  # (format, section, key, value, expected message)
    "ours-C": ("ours", "compression", "max_codebook_size", 2**29, "out of range"),
    "ours-M": ("ours", "compression", "max_subtokens", 10**9, "out of range"),
    "ours-intermediate": ("ours", "hyper_encoder", "intermediate_size", 10**10, "out of range"),
    "ours-layers": ("ours", "hyper_encoder", "num_layers", 10**6, "out of range"),
    "ours-budget": ("ours", "hyper_encoder", "intermediate_size", 2**18, "more than 4x the base"),
    "ours-width": ("ours", "hyper_encoder", "width", 60000, "more than 4x the base"),
    "authors-C": ("authors", "compression", "max_codebook_size", 2**29, "out of range"),
    "authors-M": ("authors", "compression", "max_subtokens", 10**9, "out of range"),
    "authors-intermediate": ("authors", "encoder", "intermediate_size", 10**10, "out of range"),
    "authors-layers": ("authors", "encoder", "num_hidden_layers", 10**6, "out of range"),
    "authors-budget": ("authors", "encoder", "intermediate_size", 2**18, "more than 4x the base"),
}
_MEMORY_LIMIT_BYTES = 3 << 30
_SIZE_PROBE = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
import torch
from zip2zip.modeling.model import Zip2ZipPreTrainedModel
from zip2zip.codec.codebook import Codebook
from zip2zip.codec.lzw import compress
out = {{}}
for name, folder in json.loads(sys.argv[1]).items():
    try:
        model = Zip2ZipPreTrainedModel.from_pretrained(folder).eval()
        codes, entries, _ = compress(list(range(3, 40)) * 3, model.compression)
        table = torch.from_numpy(Codebook.from_entries(model.compression, entries).table.copy())[None]
        with torch.no_grad():
            model(torch.tensor([codes]), table)
        out[name] = "loaded"
    except BaseException as error:  # MemoryError included: what a size did is the result
        out[name] = type(error).__name__ + ": " + str(error)
print(json.dumps(out))
"""


def test_sizes_from_a_file_are_refused_before_any_allocation(ours, tmp_path):
    """2**29 hypertoken slots tried 20 GB, M = 10**9 128 GB, intermediate_size 10**10 TBs, num_layers 10**6
    4 GB. Run in a subprocess under a 3 GiB address-space limit, so a regression fails
    (MemoryError) instead of taking the machine's memory."""
    folders = {}
    for name, (fmt, section, key, value, _) in SIZES.items():
        folder = (
            _ours(ours, tmp_path / name)
            if fmt == "ours"
            else _authors(tmp_path / name, "v1_rla_causal_untied")
        )
        _edit(folder / CONFIG, lambda d, s=section, k=key, v=value: d[s].update({k: v}))
        folders[name] = str(folder)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1"}
    probe = _SIZE_PROBE.format(limit=_MEMORY_LIMIT_BYTES)
    run = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(folders)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    results = json.loads(run.stdout.splitlines()[-1])
    for name, (*_, expected) in SIZES.items():
        assert results[name].startswith(("ValueError", "ConfigFileError")), (name, results[name])
        assert expected in results[name] and CONFIG in results[name], (name, results[name])
