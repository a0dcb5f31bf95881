"""The model card (``README.md``) of a zip2zip checkpoint, written from the files beside it.

A checkpoint pushed to the hub is read by people who have never seen this project: the card says what the
folder holds, which base weights it wraps (the hub copy, and the offline copy our loader uses), the
compression it was trained for, how it was trained and what it reached (from ``train_log.json`` when the
folder has one), and how to load it with zip2zip, transformers and peft. It replaces peft's empty template
in ``adapter/``. Everything is read from the folder, so ``write_model_card`` can refresh any checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zip2zip.modeling.base_models import BASE_MODELS, BaseReference
from zip2zip.modeling.config import CONFIG_FILE_NAME, PACKAGE_SCHEME

TRAIN_LOG_FILE = "train_log.json"
CARD_FILE = "README.md"


def write_model_card(directory: Path | str) -> Path:
    """Write ``directory/README.md`` (and ``adapter/README.md`` if there is an adapter); returns the card path."""
    directory = Path(directory)
    config = json.loads((directory / CONFIG_FILE_NAME).read_text(encoding="utf-8"))
    log_path = directory / TRAIN_LOG_FILE
    log = json.loads(log_path.read_text(encoding="utf-8")) if log_path.is_file() else None
    card = directory / CARD_FILE
    card.write_text(_card(config, log, _offline_copy(config)), encoding="utf-8")
    if (directory / "adapter").is_dir():
        (directory / "adapter" / CARD_FILE).write_text(_adapter_card(config), encoding="utf-8")
    return card


def _offline_copy(config: dict[str, Any]) -> str | None:
    """Where the referenced base's weights load without the hub, if the registry knows a copy of them."""
    if not config.get("base_model_name_or_path"):
        return None
    reference = BaseReference(
        config["base_model_name_or_path"], config.get("base_gguf_file"), config.get("base_revision")
    )
    for spec in BASE_MODELS.values():
        if spec.names(reference) and spec.offline is not None and spec.offline != reference:
            return spec.offline.name_or_path
    return None


def _card(config: dict[str, Any], log: dict[str, Any] | None, offline_copy: str | None) -> str:
    base = config.get("base_model_name_or_path") or "(not recorded)"
    comp = config["compression"]
    contents = config.get("contents", [])
    is_hub_base = "/" in base and not base.startswith(("/", ".", PACKAGE_SCHEME))
    front = ["---", "library_name: zip2zip", "tags:", "- zip2zip", "- lzw", "- hypertokens"]
    if is_hub_base:
        front.append(f"base_model: {base}")
    front.append("---")
    kind = (
        "a continual-pretraining control: the same LoRA training with compression off (C = 0)"
        if comp["max_codebook_size"] == 0
        else "a zip2zip model: a causal LM that reads and writes LZW-compressed token streams (hypertokens)"
    )
    lines = [
        *front,
        "",
        "# zip2zip checkpoint",
        "",
        f"This folder is {kind}, as in *zip2zip: Inference-Time Adaptive Tokenization via Online "
        "Compression* (arXiv 2506.01084). It holds " + _contents_text(contents) + "; the base weights are "
        "referenced, not copied.",
        "",
        "## Base model",
        "",
        *_base_lines(config, base, offline_copy),
        "",
        "## Compression",
        "",
        f"- base vocabulary V = {comp['initial_vocab_size']:,} ids; hypertoken ids start at V",
        f"- at most M = {comp['max_subtokens']} base tokens per hypertoken, codebook of C = "
        f"{comp['max_codebook_size']:,} entries per sequence, policy `{comp.get('codebook_policy', 'freeze')}`",
        f"- {len(comp.get('disabled_ids', []))} {_disabled_kind(comp)} are never merged; pad id {comp['pad_token_id']}",
        "",
    ]
    if log is not None:
        lines += [*_training_lines(log), ""]
    lines += _loading_lines(config if is_hub_base else None)
    return "\n".join(lines) + "\n"


def _disabled_kind(comp: dict[str, Any]) -> str:
    """What the disabled ids are: the tokenizer's specials, plus its digit ids under digit protection."""
    return "special and digit ids (digit protection)" if comp.get("protect_digits") else "special ids"


def _contents_text(contents: list[str]) -> str:
    parts = {"adapter": "a LoRA adapter (`adapter/`, peft)", "hyper_encoders": "the hyper-encoders"}
    named = [parts.get(c, c) for c in contents] or ["no weights (an untrained wrapper)"]
    return " and ".join(named)


def _base_lines(config: dict[str, Any], base: str, offline_copy: str | None) -> list[str]:
    lines = [f"- `{base}`"]
    if config.get("base_gguf_file"):
        lines[0] += f", file `{config['base_gguf_file']}` (de-quantised to float when loaded)"
    if config.get("base_revision"):
        lines.append(f"- revision `{config['base_revision']}`")
    if offline_copy:
        lines.append(
            f"- offline copy of the same file: `{offline_copy}` (an installed package); zip2zip loads it "
            "from there without network, and from the hub otherwise"
        )
    return lines


def _training_lines(log: dict[str, Any]) -> list[str]:
    config, summary = log.get("config", {}), log.get("summary", {})
    lines = ["## Training", ""]
    if log.get("command"):
        lines.append(f"- command: `{_shown_command(log['command'])}`")
    lines.append(
        f"- {summary.get('num_steps_done', '?')} steps, {summary.get('num_train_base_tokens', 0):,} base tokens "
        f"({summary.get('num_train_codes', 0):,} codes), preset `{config.get('preset', '?')}`, "
        f"corpora {', '.join(config.get('corpora') or [])}"
    )
    lines.append(
        f"- LoRA rank {config.get('lora_rank', '?')}, learning rate {config.get('learning_rate', '?')}, "
        f"reconstruction weight {config.get('reconstruction_weight', '?')}"
    )
    heldout = summary.get("final_heldout")
    if heldout:
        lines += [
            "",
            f"Held-out evaluation ({heldout.get('num_chunks', '?')} chunks the training split never saw):",
            "",
            "| nats / base token | nats / code | reconstruction accuracy |",
            "|---|---|---|",
            f"| {heldout['nll_per_base_token']:.3f} | {heldout['lm_loss']:.3f} | "
            f"{_number(heldout.get('reconstruction_accuracy'))} |",
        ]
    lines += ["", f"Every step, the environment and the data manifest are in `{TRAIN_LOG_FILE}`."]
    return lines


def _shown_command(command: str | list[str]) -> str:
    """The training command as a user types it (the log records the script as ``__main__.py``)."""
    words = command.split() if isinstance(command, str) else list(command)
    if words and Path(words[0]).name == "__main__.py":
        words[:1] = ["python", "-m", "zip2zip.training"]
    return " ".join(words)


def _number(value: Any) -> str:
    return "--" if value is None else f"{value:.3f}"


def _loading_lines(hub_config: dict[str, Any] | None) -> list[str]:
    """How to load the checkpoint; ``hub_config``: the config, when its base is a hub id peft can load."""
    lines = [
        "## How to load",
        "",
        "```python",
        "import zip2zip  # registers the zip2zip model type with transformers' Auto classes",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        "",
        'model = AutoModelForCausalLM.from_pretrained("<this folder or hub id>")',
        'tok = AutoTokenizer.from_pretrained("<this folder or hub id>")  # saved with the checkpoint',
        'ids = tok(["def fib(n):"], return_tensors="pt")',
        "print(tok.batch_decode(model.generate(**ids, max_new_tokens=32)))",
        'loss = model(**ids, labels=ids["input_ids"]).loss  # nats per base token',
        "```",
        "",
        "The adapter alone is a peft LoRA adapter of the base model; without the hyper-encoders it cannot read "
        "hypertokens, so it is the zip2zip model's base half only. "
        + (
            "peft loads it onto the base:" if hub_config else "Its base is not a hub id: load the base first."
        ),
    ]
    if hub_config is not None:
        options = [f'"{hub_config["base_model_name_or_path"]}"']
        options += [
            f'{key}="{hub_config[f"base_{key}"]}"'
            for key in ("gguf_file", "revision")
            if hub_config.get(f"base_{key}")
        ]
        lines += [
            "",
            "```python",
            "from peft import PeftModel",
            "",
            f"base = AutoModelForCausalLM.from_pretrained({', '.join(options)})",
            'lora = PeftModel.from_pretrained(base, "<this folder>/adapter")',
            "```",
        ]
    return lines


def _adapter_card(config: dict[str, Any]) -> str:
    base = config.get("base_model_name_or_path") or "(not recorded)"
    return "\n".join(
        [
            "---",
            "library_name: peft",
            *([f"base_model: {base}"] if "/" in base and not base.startswith(("/", ".")) else []),
            "---",
            "",
            "# LoRA adapter of a zip2zip checkpoint",
            "",
            f"The LoRA half of the zip2zip checkpoint in the parent folder, on `{base}`"
            + (f" (file `{config['base_gguf_file']}`)" if config.get("base_gguf_file") else "")
            + ". Load the whole checkpoint (the parent folder) to use hypertokens; see its README.md.",
            "",
        ]
    )
