"""zip2zip checkpoints by hub id, through a Hugging Face cache laid out as the hub writes it, offline; and
``push_to_hub`` building the right upload (with a fake ``HfApi``: no network)."""

from __future__ import annotations

import inspect
import shutil
from pathlib import Path
from typing import Any, ClassVar

import huggingface_hub
import pytest
import torch
from _model_factories import VOCAB, compression, tiny_base
from huggingface_hub import constants
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedConfig
from transformers.utils import hub as transformers_hub

import zip2zip
from zip2zip.modeling.config import HyperEncoderConfig
from zip2zip.modeling.hub import locate_checkpoint

REVISION = "0123456789abcdef0123456789abcdef01234567"


def _model(base_path: str) -> zip2zip.Zip2ZipForCausalLM:
    model = zip2zip.Zip2ZipForCausalLM.from_base(
        tiny_base(vocab_size=VOCAB),
        compression=compression(),
        hyper_encoder=HyperEncoderConfig(num_heads=4),
        base_model_name_or_path=base_path,
    )
    with torch.no_grad():
        model.input_encoder.out_proj.weight.normal_(0.0, 0.2)
    return model


def _cache(cache: Path, repo_id: str, folder: Path) -> Path:
    """Put ``folder`` into ``cache`` as the hub does: models--org--name/snapshots/<commit>/ + refs/main."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    shutil.copytree(folder, repo / "snapshots" / REVISION)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(REVISION)
    return cache


@pytest.fixture
def offline_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty hub cache, as HF_HUB_CACHE=<it> HF_HUB_OFFLINE=1 would give (both read at hub import)."""
    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


@pytest.fixture
def saved(tmp_path: Path) -> tuple[zip2zip.Zip2ZipForCausalLM, Path]:
    base = tmp_path / "base"
    tiny_base(vocab_size=VOCAB).save_pretrained(base)
    model = _model(str(base))
    return model, model.save_pretrained(tmp_path / "ckpt")


def _same_model(a: zip2zip.Zip2ZipForCausalLM, b: zip2zip.Zip2ZipForCausalLM) -> None:
    assert type(b) is zip2zip.Zip2ZipForCausalLM and a.config == b.config
    for (name, x), y in zip(a.encoders_state_dict().items(), b.encoders_state_dict().values(), strict=True):
        torch.testing.assert_close(x, y, msg=name)


def test_checkpoint_hub_id_loads_from_the_cache_offline(offline_cache, saved) -> None:
    model, folder = saved
    _cache(offline_cache, "org/tiny-zip2zip", folder)
    _same_model(model, zip2zip.Zip2ZipForCausalLM.from_pretrained("org/tiny-zip2zip"))


def test_auto_model_loads_a_checkpoint_hub_id(offline_cache, tmp_path, saved) -> None:
    model, folder = saved
    cache = _cache(tmp_path / "other-cache", "org/tiny-zip2zip", folder)
    loaded = AutoModelForCausalLM.from_pretrained("org/tiny-zip2zip", cache_dir=cache, local_files_only=True)
    _same_model(model, loaded)


class _SpyConfig(PreTrainedConfig):
    model_type = "zip2zip-test-spy"


class _SpyModel:
    """Registered for ``_SpyConfig``: records what ``AutoModelForCausalLM.from_pretrained`` passes on."""

    config_class = _SpyConfig
    received: ClassVar[dict[str, Any]] = {}

    @classmethod
    def from_pretrained(cls, name_or_path: object, *args: object, **kwargs: Any) -> _SpyModel:
        cls.received = kwargs
        return cls()


def _what_the_auto_class_passes(folder: Path, **user_options: Any) -> dict[str, Any]:
    """The keyword arguments this transformers' ``AutoModelForCausalLM`` gives a registered class."""
    AutoConfig.register(_SpyConfig.model_type, _SpyConfig, exist_ok=True)
    AutoModelForCausalLM.register(_SpyConfig, _SpyModel, exist_ok=True)
    _SpyConfig().save_pretrained(folder / user_options.get("subfolder", ""))
    AutoModelForCausalLM.from_pretrained(folder, **user_options)
    return _SpyModel.received


def _hub_options_of_transformers() -> set[str]:
    """The hub options as transformers itself defines them: the keyword parameters of its file lookup."""
    return set(inspect.signature(transformers_hub.cached_files).parameters) - {"path_or_repo_id", "filenames"}


def test_the_options_transformers_passes_reach_the_hub_download(
    offline_cache, tmp_path, saved, monkeypatch
) -> None:
    """Whatever hub options this transformers release passes, each reaches the checkpoint's download."""
    model, folder = saved
    repo = tmp_path / "repo"
    shutil.copytree(folder, repo / "zip2zip")
    cache = _cache(tmp_path / "cache", "org/repo", repo)
    options = {
        "cache_dir": cache,
        "local_files_only": True,
        "revision": REVISION,
        "token": "hf_not_a_real_token",
        "proxies": {"https": "http://127.0.0.1:9"},
        "subfolder": "zip2zip",
    }
    passed = _what_the_auto_class_passes(tmp_path / "spy", **options)
    hub_options = set(passed) & _hub_options_of_transformers()
    assert {"cache_dir", "revision", "subfolder"} <= hub_options  # the spy saw the hub options at all
    calls: list[dict[str, Any]] = []

    def recording(download: Any) -> Any:
        def record(*args: Any, **kwargs: Any) -> Any:
            calls.append(kwargs)
            # huggingface_hub would only warn that it ignores proxies
            return download(*args, **{k: v for k, v in kwargs.items() if k != "proxies"})

        return record

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", recording(huggingface_hub.hf_hub_download))
    monkeypatch.setattr(huggingface_hub, "snapshot_download", recording(huggingface_hub.snapshot_download))
    loaded = AutoModelForCausalLM.from_pretrained("org/repo", **options)
    _same_model(model, loaded)
    config_call, snapshot_call = calls
    assert config_call["subfolder"] == "zip2zip" and snapshot_call["allow_patterns"] == ["zip2zip/*"]
    for name in sorted(hub_options - {"subfolder"}):
        for call in (config_call, snapshot_call):
            assert call[name] == passed[name], name


def test_a_checkpoint_in_a_subfolder_of_a_folder_loads(tmp_path, saved) -> None:
    model, folder = saved
    shutil.copytree(folder, tmp_path / "outer" / "inner")
    _same_model(model, AutoModelForCausalLM.from_pretrained(tmp_path / "outer", subfolder="inner"))
    with pytest.raises(ValueError, match="has no subfolder 'absent'"):
        zip2zip.Zip2ZipForCausalLM.from_pretrained(tmp_path / "outer", subfolder="absent")
    with pytest.raises(ValueError, match="relative folder"):
        zip2zip.Zip2ZipForCausalLM.from_pretrained(tmp_path / "outer", subfolder="../outer")


def test_an_option_that_cannot_apply_is_named_in_one_line(saved) -> None:
    _, folder = saved
    with pytest.raises(TypeError, match=r"\['low_cpu_mem_usage'\]") as error:
        AutoModelForCausalLM.from_pretrained(folder, low_cpu_mem_usage=True)
    assert "\n" not in str(error.value)


def test_a_cached_base_model_id_is_not_a_checkpoint(offline_cache, tmp_path) -> None:
    base = tmp_path / "base"
    tiny_base(vocab_size=VOCAB).save_pretrained(base)
    _cache(offline_cache, "org/tiny-base", base)
    assert locate_checkpoint("org/tiny-base") is None


def test_an_id_missing_offline_is_one_clear_line(offline_cache) -> None:
    with pytest.raises(ValueError, match=r"org/absent is not in the Hugging Face cache") as error:
        zip2zip.Zip2ZipForCausalLM.from_pretrained("org/absent")
    assert "\n" not in str(error.value) and error.value.__cause__ is None


def test_a_missing_folder_is_not_taken_for_a_hub_id(tmp_path) -> None:
    with pytest.raises(ValueError, match="no such folder"):
        locate_checkpoint(tmp_path / "models" / "typo")


def test_a_relative_typo_under_a_local_folder_is_a_missing_folder(
    offline_cache, tmp_path, monkeypatch
) -> None:
    """``models/nope`` looks like a hub id, but ``models/`` is a folder here: say the folder is missing."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    with pytest.raises(ValueError, match="models/nope: no such folder"):
        zip2zip.Zip2ZipForCausalLM.from_pretrained("models/nope")


def test_save_pretrained_takes_transformers_safe_serialization(tmp_path, saved) -> None:
    model, _ = saved
    assert (
        model.save_pretrained(tmp_path / "again", safe_serialization=True) / "zip2zip_config.json"
    ).is_file()
    with pytest.raises(ValueError, match="safetensors only"):
        model.save_pretrained(tmp_path / "pickled", safe_serialization=False)


class _FakeApi:
    """Records the calls ``push_to_hub`` makes and the files of the folder it uploads."""

    calls: ClassVar[list[tuple[str, dict]]] = []

    def __init__(self, token: object = None) -> None:
        self.calls.append(("init", {"token": token}))

    def create_repo(self, repo_id: str, **options: object) -> None:
        self.calls.append(("create_repo", {"repo_id": repo_id, **options}))

    def upload_folder(self, *, folder_path: str, **options: object) -> str:
        files = sorted(p.name for p in Path(folder_path).iterdir())
        self.calls.append(("upload_folder", {"files": files, **options}))
        return "commit-info"


def test_push_to_hub_uploads_what_save_pretrained_writes(monkeypatch) -> None:
    _FakeApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", _FakeApi)
    model = _model("org/tiny-base")
    assert model.push_to_hub("me/tiny-zip2zip", private=True, token="t") == "commit-info"
    assert _FakeApi.calls == [
        ("init", {"token": "t"}),
        ("create_repo", {"repo_id": "me/tiny-zip2zip", "private": True, "exist_ok": True}),
        (
            "upload_folder",
            {
                "files": ["README.md", "config.json", "hyper_encoders.safetensors", "zip2zip_config.json"],
                "repo_id": "me/tiny-zip2zip",
                "revision": None,
                "commit_message": "Upload zip2zip checkpoint",
            },
        ),
    ]


def test_push_to_hub_refuses_a_local_base_folder(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(huggingface_hub, "HfApi", _FakeApi)
    with pytest.raises(ValueError, match="not a hub id"):
        _model(str(tmp_path)).push_to_hub("me/tiny-zip2zip")
