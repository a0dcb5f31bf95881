"""Crafted-checkpoint fuzz: mutate the types, sizes, files and links of checkpoints of both formats and
check that each loads with the original's logits or fails with one line naming a file of the checkpoint.

Run as ``python tests/modeling/_checkpoint_fuzz.py WORKDIR NUM_CASES SEED LIMIT_BYTES``; it sets ``RLIMIT_AS`` to
``LIMIT_BYTES`` first (so no case may allocate beyond it), runs every case in this one process and prints
a JSON summary as its last line. ``test_checkpoint_fuzz.py`` runs it (a few cases by default, >= 5,000 with
``-m slow``). The originals: our checkpoint (LoRA + encoders, a tiny Qwen2 base), and the authors' fixtures
format 1 with LoRA, format 1 without (``has_adapter: false``) and format 2 (self-contained).

Every mutation makes the checkpoint invalid or leaves it equivalent (same weights, same meaning): a value of
another JSON type, a size out of range or not matching the weights, a damaged, missing, extra or linked file,
a base reference to nowhere, to a checkpoint, to a decoy in the working directory. Valid edits that make
another model (another base that fits, M=3 -> 4 where the weights cannot tell) are out of scope: no file
format can refuse them.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import signal
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent  # _model_factories.py and fixtures/
FIXTURES = TESTS / "fixtures" / "upstream"
CONFIG = "zip2zip_config.json"
KINDS = ("ours", "v1_lora", "v1_plain", "v2")
_VARIANTS = {
    "v1_lora": "v1_transformer_untied_lora",
    "v1_plain": "v1_rla_causal_untied",
    "v2": "v2_rla_selfcontained",
}


# ---- originals -----------------------------------------------------------------------------------------
def build_originals(work: Path) -> dict[str, Path]:
    """The four original checkpoints under ``work/originals``, bases under ``work/bases`` (absolute references)."""
    import torch
    from _model_factories import compression, tiny_base
    from peft import LoraConfig

    from zip2zip.modeling.config import HyperEncoderConfig
    from zip2zip.modeling.model import Zip2ZipPreTrainedModel

    bases, originals = work / "bases", work / "originals"
    for name in ("base_untied", "base_tied"):
        shutil.copytree(FIXTURES / name, bases / name)
    tiny_base("qwen2").save_pretrained(bases / "ours_base")
    model = Zip2ZipPreTrainedModel.from_pretrained(
        bases / "ours_base", compression=compression(), hyper_encoder=HyperEncoderConfig(num_heads=4)
    )
    with torch.no_grad():
        model.input_encoder.out_proj.weight.normal_(0, 0.2)
        model.output_encoder.out_proj.weight.normal_(0, 0.2)
    model.add_lora(LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    model.save_pretrained(originals / "ours")
    for kind, variant in _VARIANTS.items():
        shutil.copytree(FIXTURES / variant, originals / kind)
        if kind != "v2":
            _edit_json(
                originals / kind / CONFIG,
                lambda d: d.update(base_model_name_or_path=str(bases / d["base_model_name_or_path"])),
            )
    # the working directory of every case: decoys a loader must not pick up
    cwd = work / "cwd"
    _modified_copy(bases / "base_untied", cwd / "decoy_base")
    _modified_copy(bases / "base_untied", cwd / "org" / "decoy")
    (cwd / "json").mkdir()
    (cwd / "json" / "__init__.py").write_text("")
    return {kind: originals / kind for kind in KINDS}


def _modified_copy(base: Path, to: Path) -> None:
    from safetensors.torch import load_file, save_file

    shutil.copytree(base, to)
    tensors = load_file(str(to / "model.safetensors"))
    tensors = {k: v + 0.25 if v.is_floating_point() else v for k, v in tensors.items()}
    save_file(tensors, str(to / "model.safetensors"), metadata={"format": "pt"})


def _edit_json(file: Path, change: Callable[[Any], Any]) -> None:
    data = json.loads(_read_text(file))
    change(data)
    file.write_text(json.dumps(data, indent=2))


def logits_of(folder: Path) -> Any:
    """Load ``folder`` and score one fixed id stream with every entry offered (one forward)."""
    import torch

    from zip2zip.codec.codebook import Codebook
    from zip2zip.codec.lzw import compress
    from zip2zip.modeling.model import Zip2ZipPreTrainedModel

    model = Zip2ZipPreTrainedModel.from_pretrained(folder, dtype=torch.float32).eval()
    ids = [5, 6, 7, 5, 6, 7, 5, 6, 8, 9, 5, 6, 7, 10, 11, 5, 6, 7, 8, 9] * 2
    codes, entries, _ = compress(ids, model.compression)
    table = torch.from_numpy(Codebook.from_entries(model.compression, entries).table.copy())[None]
    with torch.no_grad():
        return model(torch.tensor([codes]), table).logits


# ---- mutations -----------------------------------------------------------------------------------------
# Each takes (rng, case folder, context) and returns a description; it must leave the checkpoint either
# invalid or equivalent to the original.
Mutation = Callable[[random.Random, Path, dict[str, Any]], str]

_HUGE = [2**29, 2**31, 2**40, 2**63, 10**9, 10**12, 10**19, 10**100]


def _leaves(data: Any, path: tuple = ()) -> list[tuple]:
    out = [path] if path else []
    if isinstance(data, dict):
        for k, v in data.items():
            out += _leaves(v, (*path, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _leaves(v, (*path, i))
    return out


def _read_bytes(file: Path) -> bytes:
    """A file a previous mutation left readable, else ValueError (that mutation is skipped)."""
    if file.is_symlink() or not file.is_file():
        raise ValueError(f"{file} was replaced by an earlier mutation")
    return file.read_bytes()


def _read_text(file: Path) -> str:
    return _read_bytes(file).decode("utf-8")


def _get(data: Any, path: tuple) -> Any:
    for p in path:
        data = data[p]
    return data


def _set(data: Any, path: tuple, value: Any) -> None:
    _get(data, path[:-1])[path[-1]] = value


def _other_type(rng: random.Random, value: Any) -> Any:
    """A value of another JSON type that a lax reader would coerce to something plausible."""
    if isinstance(value, bool):
        return rng.choice(
            [str(value).lower(), str(value), int(value), 1 - int(value), None, [value], "yes", 0.0]
        )
    if isinstance(value, int):
        return rng.choice(
            [
                value + 0.5,
                value - 0.1,
                float(value) + 0.9,
                str(value),
                [value],
                {"v": value},
                True,
                None,
                False,
            ]
        )
    if isinstance(value, float):
        return rng.choice([str(value), True, None, [value], "NaN"])
    if isinstance(value, str):
        return rng.choice([1, True, None, [value], {"v": value}, value.upper() + "_", ""])
    if value is None:
        return rng.choice(["null", "None", 0, False, "", []])
    if isinstance(value, list):
        return rng.choice([json.dumps(value), {"0": value}, None, [*value, "x"], [*value, 1.5], [[*value]]])
    return rng.choice([json.dumps(value), [value], None, 1])


def mutate_type(rng: random.Random, folder: Path, ctx: dict[str, Any]) -> str:
    file = folder / rng.choice(ctx["json_files"])
    data = json.loads(_read_text(file))
    paths = [p for p in _leaves(data) if not _is_free_text(p)]
    path = rng.choice(paths)
    new = _other_type(rng, _get(data, path))
    if new is None and path[-1] in _NULLABLE:
        new = "null"  # null is a valid value there (derive it): another model, not a crafted one
    _set(data, path, new)
    file.write_text(json.dumps(data))
    return f"type {file.name}:{'.'.join(map(str, path))}={json.dumps(new)[:40]}"


# Settings whose null is valid and means "derive it" (e.g. num_heads from the width)
_NULLABLE = {"num_heads", "intermediate_size", "width", "model_hidden_size", "position_encoding"}


def _is_free_text(path: tuple) -> bool:
    """Values peft or transformers keep as given and that do not change the model."""
    return bool(path) and path[0] in {"peft_version", "transformers_version", "revision", "megatron_core"}


_SIZE_KEYS = {
    "initial_vocab_size",
    "max_codebook_size",
    "max_subtokens",
    "pad_token_id",
    "hidden_size",
    "num_layers",
    "num_heads",
    "intermediate_size",
    "width",
    "num_hidden_layers",
    "model_hidden_size",
    "r",
    "format_version",
}


def mutate_size(rng: random.Random, folder: Path, ctx: dict[str, Any]) -> str:
    """An integer setting to a size out of range, or one the weights do not have."""
    file = folder / CONFIG
    data = json.loads(_read_text(file))
    paths = [p for p in _leaves(data) if p[-1] in _SIZE_KEYS or (len(p) > 1 and p[-2] == "disabled_ids")]
    path = rng.choice(paths)
    old = _get(data, path)
    shape_sizes = {
        "num_layers",
        "intermediate_size",
        "width",
        "num_hidden_layers",
        "hidden_size",
        "model_hidden_size",
    }
    choices = [-1, -(2**63), 0, *_HUGE, 1025, 2**20 + 1, 2**30]
    if path[-1] in shape_sizes and isinstance(old, int):  # in range, but not what the weights hold
        choices += [old + 1, old * 2, old + 16, max(1, old - 1)]
    if isinstance(path[-1], int):  # a disabled id
        choices = [-1, 10**6, 2**31, 96 + 1000]
    if path[-1] == "max_codebook_size":  # any C in range is a valid edit (the weights do not depend on it)
        choices = [c for c in choices if c < 0 or c > 2**20]
    new = rng.choice([c for c in choices if c != old])
    _set(data, path, new)
    file.write_text(json.dumps(data))
    return f"size {'.'.join(map(str, path))}={new}"


def mutate_keys(rng: random.Random, folder: Path, ctx: dict[str, Any]) -> str:
    """Delete a required key, add an unknown one, or misspell one (a setting silently left at its default)."""
    file = folder / CONFIG
    data = json.loads(_read_text(file))
    objects = [p for p in [(), *_leaves(data)] if isinstance(_get(data, p), dict)]
    where = rng.choice(objects)
    obj = _get(data, where)
    action = rng.choice(["add", "rename", "delete"])
    key = rng.choice(sorted(obj)) if obj else None
    if action == "delete" and key in _OPTIONAL.get(ctx["kind"], set()):
        action = (
            "rename"  # deleting a key that has a default is a valid edit (another model), not a crafted one
        )
    if action == "add" or key is None:
        name = rng.choice(
            ["causal", "Causal", "extra", "lora", "tie_encoder", "max_codebook_sizes", "format"]
        )
        obj[name + ("_x" if name in obj or rng.random() < 0.5 else "")] = rng.choice([True, 1, "x", None])
    elif action == "rename":
        obj[key.upper() if key != key.upper() else key + "_"] = obj.pop(key)
    else:
        del obj[key]
    file.write_text(json.dumps(data))
    return f"keys {action} {'.'.join(map(str, where))}:{key}"


# Keys a format lets a writer leave out (with the meaning of their default): deleting one is a valid edit.
_AUTHORS_OPTIONAL = {
    "causal",
    "residual",
    "tie_encoders",
    "position_encoding",
    "model_hidden_size",
    "intermediate_size",
}
_OPTIONAL = {
    "ours": {"member_positions", "causal", "residual", "position_mode", "extra_head_rows"},
    "v1_lora": _AUTHORS_OPTIONAL | {"position_mode", "format_version"},
    "v1_plain": _AUTHORS_OPTIONAL | {"position_mode", "format_version"},
    "v2": _AUTHORS_OPTIONAL,
}


def mutate_text(rng: random.Random, folder: Path, ctx: dict[str, Any]) -> str:
    file = folder / rng.choice(ctx["json_files"] + ctx["base_files"])
    text = _read_text(file)
    how = rng.choice(
        ["truncate", "byte", "deep", "duplicate", "nan", "empty", "bom", "utf16", "array", "huge"]
    )
    if how == "truncate":
        file.write_text(text[: rng.randrange(len(text))])
    elif how == "byte":
        i = rng.randrange(len(text))
        file.write_bytes(
            text[:i].encode() + bytes([rng.choice([0, 0x80, 0xFF, 0x7B, 0x22])]) + text[i:].encode()
        )
    elif how == "deep":
        depth = rng.choice([50, 1000, 10**5])
        file.write_text(text.replace("{", '{"deep": ' + "[" * depth + "]" * depth + ", ", 1))
    elif how == "duplicate":
        data = json.loads(text)
        key = rng.choice(sorted(data))
        body = json.dumps(data)
        file.write_text(body[:-1] + f", {json.dumps(key)}: {json.dumps(_other_type(rng, data[key]))}}}")
    elif how == "nan":
        file.write_text(text.replace("0", "NaN", 1) if "0" in text else "NaN")
    elif how == "empty":
        file.write_text("")
    elif how == "bom":
        file.write_bytes(b"\xef\xbb\xbf" + text.encode())
    elif how == "utf16":
        file.write_bytes(text.encode("utf-16"))
    elif how == "array":
        file.write_text(f"[{text}]")
    else:
        file.write_text(text[:-1] + ', "pad": "' + "x" * (2 << 20) + '"}')
    return f"text {file.name} {how}"


def mutate_file(rng: random.Random, folder: Path, ctx: dict[str, Any]) -> str:
    """A file deleted, truncated, emptied, replaced by a folder, or by a link to nowhere, itself, a device, or
    another file of the checkpoint."""
    files = sorted(
        p for p in folder.rglob("*") if p.is_file() and not p.is_symlink() and p.name != "README.md"
    )
    file = rng.choice(files)
    how = rng.choice(["delete", "truncate", "empty", "folder", "dangling", "loop", "device", "swap", "fifo"])
    data = _read_text(file).encode() if file.suffix == ".json" else _read_bytes(file)
    file.unlink()
    if how == "truncate":
        file.write_bytes(data[: rng.randrange(1, max(2, len(data)))])
    elif how == "empty":
        file.write_bytes(b"")
    elif how == "folder":
        file.mkdir()
    elif how == "dangling":
        file.symlink_to(folder / "nowhere")
    elif how == "loop":
        file.symlink_to(file)
    elif how == "device":
        file.symlink_to("/dev/zero")
    elif how == "fifo":
        os.mkfifo(file)
    elif how == "swap":
        others = [f for f in files if f != file]
        file.symlink_to(rng.choice(others))
    return f"file {file.relative_to(folder)} {how}"


def mutate_stray(rng: random.Random, folder: Path, ctx: dict[str, Any]) -> str:
    """A file a loader might read that the checkpoint should not hold."""
    name = rng.choice(
        [
            "adapter_model.bin",
            "meta.pt",
            "model.safetensors",
            "adapter_config.json",
            "adapter/adapter_model.bin",
            "adapter",
            "config.json",
            "encoders.safetensors",
            "hyper_encoders.safetensors",
            "zip2zip_encoders.safetensors",
            "adapter_model.safetensors",
        ]
    )
    target = folder / name
    if target.exists():
        return "stray noop"
    target.parent.mkdir(parents=True, exist_ok=True)
    if name == "adapter":
        target.mkdir()
    elif name == "config.json":
        target.write_text(json.dumps({"model_type": "zip2zip", "architectures": ["Zip2ZipForCausalLM"]}))
    elif name.endswith(".safetensors"):
        source = next(iter(sorted(folder.glob("*.safetensors"))), None)
        if source is None:
            return "stray noop"
        shutil.copy(source, target)
    elif name == "adapter_config.json":
        target.write_text(json.dumps({"peft_type": "LORA", "r": 4, "target_modules": ["q_proj"]}))
    else:
        target.write_bytes(b"\x80\x04K\x01.")
    return f"stray {name}"


def mutate_link(rng: random.Random, folder: Path, ctx: dict[str, Any]) -> str:
    """The base reference to nowhere, to a checkpoint (itself, another), or to a decoy of the working directory."""
    file = folder / CONFIG
    data = json.loads(_read_text(file))
    other = ctx["originals"][rng.choice(KINDS)]
    choice = rng.choice(
        [
            ".",
            "../" + folder.name,
            str(folder),
            str(other),
            "decoy_base",
            "org/decoy",
            "nowhere/at/all",
            "../nowhere",
            "package:json",
            "package:no_such_package_zip2zip",
            "package:os.path",
            "package:",
            str(folder / CONFIG),
            "/dev/zero",
            "",
            "./",
            "org/decoy/",
        ]
    )
    if ctx["kind"] == "v2" and choice == ".":
        choice = "./"
    data["base_model_name_or_path"] = choice
    file.write_text(json.dumps(data))
    return f"link base={choice!r}"


def mutate_config_link(rng: random.Random, folder: Path, ctx: dict[str, Any]) -> str:
    """The config (or the whole checkpoint folder's files) behind symlinks to identical copies: equivalent."""
    file = folder / rng.choice(ctx["json_files"])
    blob = folder.parent / f"blob-{file.name}"
    shutil.copy(file, blob)
    file.unlink()
    file.symlink_to(blob)
    return f"equivalent link {file.name}"


def mutate_equivalent(rng: random.Random, folder: Path, ctx: dict[str, Any]) -> str:
    """Rewrite the config with the same meaning: another layout, key order, or a README beside it."""
    file = folder / CONFIG
    data = json.loads(_read_text(file))
    how = rng.choice(["indent", "reversed", "readme", "disabled-order"])
    if how == "reversed":
        data = dict(reversed(list(data.items())))
    if how == "disabled-order":
        data["compression"]["disabled_ids"] = list(reversed(data["compression"]["disabled_ids"]))
    if how == "readme":
        (folder / "README.md").write_text("notes")
    file.write_text(json.dumps(data, indent=rng.choice([None, 0, 4])))
    return f"equivalent {how}"


MUTATIONS: dict[str, tuple[Mutation, int]] = {  # name -> (mutation, weight)
    "type": (mutate_type, 6),
    "size": (mutate_size, 4),
    "keys": (mutate_keys, 2),
    "text": (mutate_text, 2),
    "file": (mutate_file, 3),
    "stray": (mutate_stray, 1),
    "link": (mutate_link, 2),
    "config-link": (mutate_config_link, 1),
    "equivalent": (mutate_equivalent, 1),
}


# ---- the run -------------------------------------------------------------------------------------------
def classify(folder: Path, reference: Any) -> tuple[str, str]:
    """("same" | "refused" | "DIFFERENT" | "BAD-ERROR", detail)."""
    import torch

    signal.alarm(_CASE_TIMEOUT_S)
    try:
        logits = logits_of(folder)
    except (ValueError, TypeError) as error:
        message = str(error)
        if "\n" in message or (str(folder) not in message and str(folder.parent) not in message):
            return "BAD-ERROR", f"{type(error).__name__}: {message[:300]}"
        return "refused", message[:200]
    except (Exception, RecursionError, MemoryError) as error:
        return "BAD-ERROR", f"{type(error).__name__}: {str(error)[:300]} | {_where(error)}"
    finally:
        signal.alarm(0)
    if logits.shape == reference.shape and torch.equal(logits, reference):
        return "same", ""
    return "DIFFERENT", f"shape {tuple(logits.shape)} vs {tuple(reference.shape)}"


_CASE_TIMEOUT_S = 120  # a case loads a tiny model in well under a second: longer means it hangs (a pipe read)


def _timed_out(signum: int, frame: Any) -> None:
    raise TimeoutError(f"the case ran past {_CASE_TIMEOUT_S} s (hung reading a file?)")


def _where(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    return " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in frames[-3:])


_SKIPPED = (OSError, ValueError, IndexError, KeyError, TypeError, AttributeError, RecursionError)


def run(work: Path, num_cases: int, seed: int) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    originals = build_originals(work)
    references = {kind: logits_of(folder) for kind, folder in originals.items()}
    os.chdir(work / "cwd")
    sys.path.insert(0, "")  # as ``python -m`` from here would: a planted json/ must not be taken as installed
    names = list(MUTATIONS)
    weights = [MUTATIONS[n][1] for n in names]
    outcomes: Counter[str] = Counter()
    by_mutation: Counter[str] = Counter()
    failures: list[dict[str, Any]] = []
    cases = work / "cases"
    start = time.perf_counter()
    for i in range(num_cases):
        rng = random.Random(f"{seed}-{i}")
        kind = rng.choice(KINDS)
        if cases.exists():
            shutil.rmtree(cases)
        cases.mkdir()
        folder = cases / "ckpt"
        shutil.copytree(originals[kind], folder)
        # values inside the base model's own files (format 2's config.json, tokenizer files) are transformers'
        # formats: only damaged as files here, their values are out of scope
        json_files = [CONFIG] + [str(p.relative_to(folder)) for p in folder.rglob("adapter_config.json")]
        base_files = [
            str(p.relative_to(folder)) for p in folder.glob("*.json") if str(p.name) not in json_files
        ]
        ctx = {"kind": kind, "json_files": json_files, "base_files": base_files, "originals": originals}
        applied = []
        for name in rng.choices(names, weights, k=rng.choice([1, 1, 1, 2, 3])):
            try:
                applied.append(MUTATIONS[name][0](rng, folder, ctx))
            except _SKIPPED as error:  # an earlier mutation broke the file this one reads
                applied.append(f"{name} skipped ({type(error).__name__})")
        outcome, detail = classify(folder, references[kind])
        outcomes[outcome] += 1
        for name in applied:
            by_mutation[f"{name.split(' ')[0]}:{outcome}"] += 1
        if outcome in ("DIFFERENT", "BAD-ERROR"):
            failures.append(
                {"case": i, "kind": kind, "mutations": applied, "outcome": outcome, "detail": detail}
            )
    return {
        "num_cases": num_cases,
        "seed": seed,
        "outcomes": dict(outcomes),
        "by_mutation": dict(sorted(by_mutation.items())),
        "failures": failures[:40],
        "num_failures": len(failures),
        "seconds": round(time.perf_counter() - start, 1),
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }


def main(argv: list[str]) -> None:
    work, num_cases, seed, limit = Path(argv[0]), int(argv[1]), int(argv[2]), int(argv[3])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGALRM, _timed_out)
    sys.path[:0] = [str(HERE), str(TESTS)]
    import warnings

    warnings.filterwarnings("ignore")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    print(json.dumps(run(work, num_cases, seed)))


if __name__ == "__main__":
    main(sys.argv[1:])
