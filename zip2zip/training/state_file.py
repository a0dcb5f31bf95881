"""Nested training state (optimizer, scheduler, RNG) to one safetensors file and back, without pickle.

``torch.save``/``torch.load`` pickle: loading a pickled file can call any Python function it names, so a
checkpoint from elsewhere could run code on ``--resume``. Here the tensors go into a safetensors file and
the structure around them (dicts with int or str keys, lists, tuples, numbers, strings, ``None``) into
JSON in that file's metadata; loading builds only those types. Other objects (numpy arrays, custom
classes) are refused on save: the caller converts them first. This module knows nothing about training.

Example: ``{"step": 3, "betas": (0.9, 0.99), 0: tensor}`` -> tensor ``"0"`` plus the metadata JSON
``{"dict": [["step", 3], ["betas", {"tuple": [0.9, 0.99]}], [0, {"tensor": "0"}]]}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

_STRUCTURE_KEY = "structure"
_PRIMITIVES = (str, int, float, bool, type(None))


def save_state(path: Path, state: Any) -> None:
    """Write ``state`` (see the module docstring for the types allowed) to ``path``; tensors go to CPU.

    ``state`` is ``Any``: an arbitrary tree of JSON values and tensors (an optimizer's ``state_dict``).
    """
    tensors: dict[str, torch.Tensor] = {}
    structure = _encode(state, tensors, where="state")
    save_file(tensors, str(path), metadata={_STRUCTURE_KEY: json.dumps(structure)})


def load_state(path: Path) -> Any:
    """Read what ``save_state`` wrote; raises ValueError if the file is not such a state file."""
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata() or {}
        if _STRUCTURE_KEY not in metadata:
            raise ValueError(f"{path} is a safetensors file but not a saved training state (no structure)")
        tensors = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118 (safe_open is no dict)
    return _decode(json.loads(metadata[_STRUCTURE_KEY]), tensors, path)


def _encode(value: Any, tensors: dict[str, torch.Tensor], *, where: str) -> Any:
    if isinstance(value, torch.Tensor):
        name = str(len(tensors))
        tensors[name] = value.detach().cpu().contiguous().clone()  # clone: no shared storage in the file
        return {"tensor": name}
    if isinstance(value, _PRIMITIVES):
        return value
    if isinstance(value, list):
        return [_encode(v, tensors, where=f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, tuple):
        return {"tuple": [_encode(v, tensors, where=f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, dict):
        pairs = []
        for k, v in value.items():
            if not isinstance(k, str | int) or isinstance(k, bool):
                raise TypeError(f"{where}: dict key {k!r} is a {type(k).__name__}; only str and int keys")
            pairs.append([k, _encode(v, tensors, where=f"{where}[{k!r}]")])
        return {"dict": pairs}
    raise TypeError(
        f"{where} is a {type(value).__name__}; a state file holds only tensors, dicts, lists, tuples, "
        "numbers, strings and None (convert it first, e.g. a numpy array to a list)"
    )


def _decode(node: Any, tensors: dict[str, torch.Tensor], path: Path) -> Any:
    if isinstance(node, _PRIMITIVES):
        return node
    if isinstance(node, list):
        return [_decode(v, tensors, path) for v in node]
    if isinstance(node, dict) and len(node) == 1:
        ((tag, body),) = node.items()
        if tag == "tensor" and body in tensors:
            return tensors[body]
        if tag == "tuple" and isinstance(body, list):
            return tuple(_decode(v, tensors, path) for v in body)
        if tag == "dict" and isinstance(body, list):
            return {_key(pair, path): _decode(pair[1], tensors, path) for pair in body}
    raise ValueError(f"{path}: unexpected entry {str(node)[:80]!r} in its structure (damaged file?)")


def _key(pair: Any, path: Path) -> str | int:
    if isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str | int):
        return pair[0]
    raise ValueError(f"{path}: unexpected dict entry {str(pair)[:80]!r} in its structure (damaged file?)")
