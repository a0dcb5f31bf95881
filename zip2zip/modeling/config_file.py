"""The one strict reader of the JSON config files a checkpoint holds, ours and the authors'.

A config file decides which model loads, so every value is taken as JSON typed it or refused: a bool is a
JSON ``true``/``false`` (``"false"`` is a string, and ``bool("false")`` is True), an integer a JSON integer
(``96.9`` is not silently 96), every key is known, and every error is one line naming the file and the key.
The file itself must be a regular file (a symlink to one is fine: the hub cache is made of them) of at most
``MAX_CONFIG_BYTES``, valid UTF-8 JSON without duplicate keys, NaN or deep nesting. This module reads and
checks; what the values mean is the config classes' business.
"""

from __future__ import annotations

import json
import math
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

MAX_CONFIG_BYTES = 1 << 20  # a config is a few hundred bytes; this bounds what a crafted one makes us read
MAX_NESTING = 16  # our deepest config nests 3 levels; this keeps a crafted one far from RecursionError

REQUIRED: Any = object()


class ConfigFileError(ValueError):
    """A config file that cannot be read as the model it describes; the message names the file."""


def read_json_object(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``, or ConfigFileError in one line saying what is wrong with the file."""
    try:
        info = path.stat()  # follows a symlink: what matters is what it points at
    except FileNotFoundError:
        kind = "a symlink to a missing file" if path.is_symlink() else "missing"
        raise ConfigFileError(f"{path} is {kind}") from None
    except OSError as error:
        raise ConfigFileError(f"{path} cannot be read: {error.strerror} (a symlink loop?)") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigFileError(f"{path} is not a regular file (a directory, device or pipe); expected JSON")
    with path.open("rb") as file:
        raw = file.read(MAX_CONFIG_BYTES + 1)
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigFileError(f"{path} is larger than {MAX_CONFIG_BYTES} bytes: not a config file")
    try:
        data = json.loads(
            raw.decode("utf-8"), object_pairs_hook=_refuse_duplicates, parse_constant=_refuse_constant
        )
    except UnicodeDecodeError as error:
        raise ConfigFileError(f"{path} is not UTF-8 text (byte {error.start}); expected JSON") from None
    except json.JSONDecodeError as error:
        raise ConfigFileError(
            f"{path} is not valid JSON ({error.msg} at line {error.lineno}, column {error.colno}): "
            "truncated or edited by hand? Restore it from the saved checkpoint"
        ) from None
    except RecursionError:
        raise ConfigFileError(f"{path}: JSON nested too deeply to be a config") from None
    except _BadJSON as error:
        raise ConfigFileError(f"{path}: {error}") from None
    if not isinstance(data, dict):
        raise ConfigFileError(f"{path} must hold a JSON object, not {_json_type(data)}")
    depth = _nesting(data)
    if depth > MAX_NESTING:
        raise ConfigFileError(f"{path} nests {depth} levels deep; a config nests at most {MAX_NESTING}")
    return data


class _BadJSON(ValueError):
    pass


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """JSON allows a key twice and Python keeps the last; other readers keep the first: refuse it."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _BadJSON(f"key {key!r} appears twice")
        out[key] = value
    return out


def _refuse_constant(name: str) -> None:
    raise _BadJSON(f"{name} is not a JSON number")


def _nesting(value: Any) -> int:
    """Depth of nested objects and lists, computed without recursion (``[[...]]`` 10**5 deep stays cheap)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def _json_type(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    names.update({list: "a list", dict: "an object", type(None): "null"})
    return names.get(type(value), type(value).__name__)


def _shown(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


class ConfigSection:
    """One JSON object of a config file, read key by key with its type; ``finish`` names keys never read.

    ``source`` is what errors name (the file); ``where`` the path to this object inside it (``encoder.``).
    """

    def __init__(self, data: Any, source: str, where: str = "") -> None:
        if not isinstance(data, dict):
            raise ConfigFileError(f"{source}: {where.rstrip('.') or 'the file'} must be a JSON object")
        self.data, self.source, self.where = data, source, where
        self._read: set[str] = set()

    def error(self, key: str, problem: str) -> ConfigFileError:
        value = f"={_shown(self.data[key])}" if key in self.data else ""
        return ConfigFileError(f"{self.source}: {self.where}{key}{value} {problem}")

    def has(self, key: str) -> bool:
        return key in self.data

    def _value(self, key: str, default: Any, check: Callable[[Any], bool], expected: str) -> Any:
        self._read.add(key)
        if key not in self.data:
            if default is REQUIRED:
                raise ConfigFileError(f"{self.source}: {self.where}{key} is missing ({expected})")
            return default
        value = self.data[key]
        if not check(value):
            raise self.error(key, f"is {_json_type(value)}; expected {expected}")
        return value

    def integer(
        self,
        key: str,
        *,
        default: Any = REQUIRED,
        low: int = 0,
        high: int | None = None,
        allow_null: bool = False,
    ) -> int:
        """A JSON integer in ``low..high`` (``high`` None: unbounded); null when ``allow_null`` or the default is."""
        nullable = allow_null or default is None
        expected = f"an integer in {low}..{'' if high is None else high}{' or null' if nullable else ''}"
        value = self._value(key, default, lambda v: _is_int(v) or (v is None and nullable), expected)
        if value is not None and not (low <= value and (high is None or value <= high)):
            raise self.error(key, f"is out of range; expected {expected}")
        return value  # type: ignore[no-any-return]

    def boolean(self, key: str, *, default: Any = REQUIRED) -> bool:
        return self._value(key, default, lambda v: isinstance(v, bool), "true or false")  # type: ignore[no-any-return]

    def number(self, key: str, *, default: Any = REQUIRED) -> float:
        """A finite JSON number (integer or not), never a boolean."""
        ok = lambda v: (_is_int(v) or isinstance(v, float)) and math.isfinite(v)  # noqa: E731
        return float(self._value(key, default, ok, "a finite number"))

    def string(
        self,
        key: str,
        *,
        default: Any = REQUIRED,
        choices: tuple[str | None, ...] = (),
        allow_null: bool = False,
    ) -> Any:
        """A JSON string (or null when ``allow_null``, the default or ``choices`` allow it), one of ``choices``
        if given."""
        allowed = set(choices) if choices else None
        nullable = allow_null or default is None or None in (allowed or ())
        ok = lambda v: isinstance(v, str) or (v is None and nullable)  # noqa: E731
        expected = f"one of {sorted(choices, key=str)}" if choices else "a string"
        value = self._value(key, default, ok, expected)
        if allowed is not None and value not in allowed:
            raise self.error(key, f"is not {expected}")
        return value

    def integer_list(self, key: str, *, default: Any = REQUIRED, high: int | None = None) -> list[int]:
        expected = f"a list of integers in 0..{'' if high is None else high}"
        ok = lambda v: isinstance(v, list) and all(_is_int(i) for i in v)  # noqa: E731
        values: list[int] = self._value(key, default, ok, expected)
        if any(i < 0 or (high is not None and i > high) for i in values):
            raise self.error(key, f"has an id out of range; expected {expected}")
        return values

    def string_list(self, key: str, *, default: Any = REQUIRED) -> list[str]:
        ok = lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v)  # noqa: E731
        return self._value(key, default, ok, "a list of strings")  # type: ignore[no-any-return]

    def section(self, key: str, *, default: Any = REQUIRED) -> ConfigSection:
        value = self._value(key, default, lambda v: isinstance(v, dict), "a JSON object")
        return ConfigSection(value, self.source, f"{self.where}{key}.")

    def ignore(self, *keys: str) -> None:
        """Keys that are known but do not change the model (e.g. recorded for humans)."""
        self._read.update(keys)

    def finish(self) -> None:
        """Refuse keys no reader asked for: a misspelt setting would otherwise be silently left at its default."""
        unknown = sorted(set(self.data) - self._read)
        if unknown:
            known = ", ".join(sorted(self._read))
            raise ConfigFileError(
                f"{self.source}: unknown key(s) {', '.join(self.where + k for k in unknown)} "
                f"(known here: {known}); remove or correct them"
            )


def first_line(error: BaseException) -> str:
    """An error from a library (transformers, peft, tokenizers) as one line: its type and first line."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else 'no message'}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
