"""zip2zip checkpoints on the Hugging Face hub: an id -> a local snapshot folder, and a saved folder -> a hub repo.

``locate_checkpoint`` tells a zip2zip checkpoint (its folder, local or a hub snapshot, holds
``zip2zip_config.json``) from a base model (anything else), going through the hub cache the way
transformers does, so ``HF_HUB_OFFLINE=1``, ``HF_HUB_CACHE`` and ``local_files_only`` behave as
transformers users expect. ``upload_folder`` pushes a folder ``save_pretrained`` wrote. The file
format is ``checkpoint``'s.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from zip2zip.modeling.checkpoint import ENCODER_WEIGHTS_FILE, is_checkpoint
from zip2zip.modeling.config import (
    CONFIG_FILE_NAME,
    HF_CONFIG_FILE_NAME,
    MODEL_TYPE,
    PACKAGE_SCHEME,
    is_hub_id,
)
from zip2zip.modeling.config_file import read_json_object
from zip2zip.modeling.load_options import HubOptions
from zip2zip.modeling.upstream_checkpoint import ENCODER_FILES


def locate_checkpoint(name_or_path: str | Path, hub: HubOptions | None = None) -> Path | None:
    """The local folder of the zip2zip checkpoint ``name_or_path`` names, or None if it names a base model.

    ``hub.subfolder`` is a folder inside the local folder or hub repository that holds the checkpoint. A hub
    id is looked up on the hub (or only in its cache when offline) with every option of ``hub``, and the
    whole checkpoint is fetched. Raises ValueError, in one line, for a path that does not exist, a hub id
    that does not exist, or one that is neither in the cache nor reachable.
    """
    hub = hub or HubOptions()
    path = Path(name_or_path)
    if path.exists():
        folder = path / hub.subfolder
        if hub.subfolder and not folder.is_dir():
            raise ValueError(f"{path} has no subfolder {hub.subfolder!r}")
        if is_checkpoint(folder):
            return folder
        _refuse_incomplete_checkpoint(folder)
        return None
    name = str(name_or_path)
    if name.startswith(PACKAGE_SCHEME):
        return None  # a base model inside an installed package (see config.resolve_base_location)
    if not is_hub_id(name) or Path(name.split("/")[0]).is_dir():
        # "models/typo" names a folder of models/ (here), not the hub organisation "models"
        raise ValueError(f"{name}: no such folder, and not a Hugging Face hub id (org/name)")
    from huggingface_hub import hf_hub_download, snapshot_download, try_to_load_from_cache
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError, RepositoryNotFoundError

    options = hub.download_options()
    inside = f"{hub.subfolder}/" if hub.subfolder else ""
    try:
        hf_hub_download(name, CONFIG_FILE_NAME, subfolder=hub.subfolder or None, **options)
    except LocalEntryNotFoundError:  # offline (or unreachable) and not cached: a cached base model is fine
        cached = try_to_load_from_cache(name, inside + HF_CONFIG_FILE_NAME, hub.cache_dir, hub.revision)
        if isinstance(cached, str):
            return None
        raise ValueError(
            f"{name} is not in the Hugging Face cache and the hub is offline or unreachable: download it once "
            f"with network access (hf download {name}) or pass a local folder"
        ) from None
    except EntryNotFoundError:  # the repository exists and has no zip2zip config: a base model
        return None
    except RepositoryNotFoundError:
        raise ValueError(
            f"{name}: no such Hugging Face repository (or it is private/gated: pass token=)"
        ) from None
    allow_patterns = [inside + "*"] if inside else None
    return Path(snapshot_download(name, allow_patterns=allow_patterns, **options)) / hub.subfolder


def _refuse_incomplete_checkpoint(folder: Path) -> None:
    """A folder with a checkpoint's files (a ``config.json`` naming model type zip2zip, encoder weights) but
    without the zip2zip config is a damaged checkpoint, not a base model."""
    encoders = [name for name in (ENCODER_WEIGHTS_FILE, *ENCODER_FILES) if os.path.lexists(folder / name)]
    if encoders:
        raise ValueError(
            f"{folder} holds {encoders[0]} but no {CONFIG_FILE_NAME}: an incomplete zip2zip checkpoint "
            "(copy the whole checkpoint folder), not a base model"
        )
    file = folder / HF_CONFIG_FILE_NAME
    if (file.exists() or file.is_symlink()) and read_json_object(file).get("model_type") == MODEL_TYPE:
        raise ValueError(
            f"{file} says model_type {MODEL_TYPE!r} but {folder} has no {CONFIG_FILE_NAME}: an incomplete "
            "zip2zip checkpoint (copy the whole checkpoint folder), not a base model"
        )


def check_base_is_portable(base: str | None) -> None:
    """Refuse to upload a checkpoint whose base is a local folder: it would not load anywhere else."""
    base = base or ""
    if Path(base).exists() or not (is_hub_id(base) or base.startswith(PACKAGE_SCHEME)):
        raise ValueError(
            f"the base model {base!r} is not a hub id, so the uploaded checkpoint would not load elsewhere: "
            "upload the base model too and wrap it by its hub id (from_base(..., base_model_name_or_path=id))"
        )


def upload_folder(
    folder: Path,
    repo_id: str,
    *,
    private: bool | None = None,
    token: str | bool | None = None,
    revision: str | None = None,
    commit_message: str | None = None,
) -> Any:
    """Create ``repo_id`` if needed and upload the checkpoint ``folder`` (as ``save_pretrained`` wrote it)."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    return api.upload_folder(
        repo_id=repo_id,
        folder_path=folder,
        revision=revision,
        commit_message=commit_message or "Upload zip2zip checkpoint",
    )
