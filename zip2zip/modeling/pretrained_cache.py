"""Load each base causal LM once per run: a run that scores several models on one base (the base row, the
control and the zip2zip checkpoints) would otherwise read, and for a GGUF de-quantise, the same weights again.

Inside ``reuse_loaded_models()`` the first load of a (location, options) pair is kept as a pristine copy and
every caller gets its own deep copy of it (a caller may wrap it in LoRA or move it; the kept one never
changes). Outside it nothing is kept: a kept copy of a 7B model would double its memory, so only runs that
know they load a base repeatedly (the benchmarks) ask for it. A local folder's file sizes and modification
times are part of the key, so a base rewritten in place during a run is read again.
"""

from __future__ import annotations

import copy
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zip2zip.modeling.config_file import first_line
from zip2zip.remote_code import refusing_remote_code

if TYPE_CHECKING:
    from torch import nn

_kept: dict[tuple[Any, ...], nn.Module] | None = None  # (location, files, options) -> pristine model
_loading_base: ContextVar[str | None] = ContextVar("_loading_base", default=None)


@contextmanager
def reuse_loaded_models() -> Iterator[None]:
    """Within this block ``load_causal_lm`` loads each (location, options) once; nested blocks share it."""
    global _kept
    outer = _kept
    _kept = {} if outer is None else outer
    try:
        yield
    finally:
        _kept = outer


def load_causal_lm(name_or_path: str, *, trust_remote_code: bool, **options: Any) -> nn.Module:
    """``AutoModelForCausalLM.from_pretrained(name_or_path, **options)``, from the kept copy when there is one.

    A location that needs custom code the user did not allow is refused in one line (``remote_code``)."""
    if _kept is None:
        return _load(name_or_path, trust_remote_code=trust_remote_code, **options)
    # options left at transformers' defaults (None, False) name the same load as options not given
    given = sorted((k, repr(v)) for k, v in options.items() if v is not None and v is not False)
    key = (name_or_path, _local_files(name_or_path), trust_remote_code, tuple(given))
    if key not in _kept:
        _kept[key] = _load(name_or_path, trust_remote_code=trust_remote_code, **options)
    return copy.deepcopy(_kept[key])


def _load(name_or_path: str, *, trust_remote_code: bool, **options: Any) -> nn.Module:
    from transformers import AutoModelForCausalLM

    _refuse_special_files(Path(name_or_path))
    token = _loading_base.set(name_or_path)
    try:
        with refusing_remote_code(name_or_path):
            loaded: Any = AutoModelForCausalLM.from_pretrained(
                name_or_path, trust_remote_code=trust_remote_code, output_loading_info=True, **options
            )
    except ValueError as error:
        if "\n" in str(error):
            raise ValueError(f"{name_or_path}: cannot load this model ({first_line(error)})") from error
        raise
    except Exception as error:  # transformers' and tokenizers' errors of every type, damaged files
        raise ValueError(f"{name_or_path}: cannot load this model ({first_line(error)})") from error
    finally:
        _loading_base.reset(token)
    model, info = loaded
    # transformers initialises weights its files lack at random, with a warning: that is another model
    lacking = sorted(info.get("missing_keys", ())) + [str(k) for k in info.get("mismatched_keys", ())]
    if lacking:
        raise ValueError(
            f"{name_or_path}: its weight files lack or misshape {len(lacking)} tensors of the model its "
            f"config.json describes (e.g. {lacking[:3]}), which would be initialised at random"
        )
    return model


def _refuse_special_files(folder: Path) -> None:
    """In a local base folder, a pipe, device, broken or looping link where a file belongs would make
    transformers hang reading it or fail with a traceback: refuse it in one line naming it."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        try:
            mode = entry.stat().st_mode
        except OSError as error:
            raise ValueError(
                f"{entry} cannot be read: {error.strerror} (a broken or looping link?)"
            ) from None
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise ValueError(f"{entry} is not a regular file (a pipe or device): the model folder is damaged")


def refuse_zip2zip_base() -> None:
    """Called when transformers reaches the zip2zip Auto class: inside ``load_causal_lm`` that means a base
    model is itself a zip2zip checkpoint (a checkpoint naming itself, a cycle), which would recurse forever."""
    location = _loading_base.get()
    if location is not None:
        raise ValueError(
            f"{location}: its config.json says model_type 'zip2zip', so it is a zip2zip checkpoint, not a base "
            "model a checkpoint can wrap (a checkpoint naming itself or another checkpoint as its base?)"
        )


def _local_files(name_or_path: str) -> tuple[tuple[str, int, int], ...]:
    """(name, size, mtime) of the files of a local folder; empty for a hub id."""
    folder = Path(name_or_path)
    if not folder.is_dir():
        return ()
    return tuple(
        (f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in sorted(folder.iterdir()) if f.is_file()
    )
