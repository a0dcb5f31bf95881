"""A distillation teacher's checkpoint (``distill_teacher=<folder>``), read before a run starts: a wrong folder
is reported when the command line is read, not after the data and the model are loaded. Reads JSON only."""

from __future__ import annotations

from pathlib import Path

from zip2zip.modeling.config import ADAPTER, Zip2ZipConfig, read_checkpoint_config
from zip2zip.modeling.config_file import ConfigFileError


def read_teacher_config(checkpoint: Path) -> Zip2ZipConfig:
    """The config of ``checkpoint`` if it can teach: a zip2zip checkpoint with compression off (the teacher
    reads uncompressed text) and a LoRA adapter; ValueError saying what is wrong otherwise."""
    where = f"distill_teacher={str(checkpoint)!r}"
    try:
        config, contents = read_checkpoint_config(checkpoint)
    except ConfigFileError as error:
        raise ValueError(
            f"{where}: {error}; pass a checkpoint written by training, e.g. models/smollm2-cpu-control, or 'base'"
        ) from error
    if config.compression.max_codebook_size != 0:
        raise ValueError(
            f"{where} is a compressed checkpoint; the teacher reads uncompressed text, so its adapter must come "
            "from an uncompressed run (--no-compression, the control)"
        )
    if ADAPTER not in contents:
        raise ValueError(f"{where} was saved without a LoRA adapter, so it is the base model: pass 'base'")
    return config
