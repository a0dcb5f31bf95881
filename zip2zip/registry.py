"""Name lookups shared by every registry (tokenizers, corpora, hyper-encoders, presets, benchmark options).

One message for every miss, so a typo reads the same wherever it is made::

    unknown corpus 'wikitxt'. Known: code, math, wikitext. Did you mean 'wikitext'?

This module holds no registry itself and imports nothing heavy (no torch), so command lines can check
names before any work starts.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import TypeVar

T = TypeVar("T")


def closest_name(name: str, known: Iterable[str]) -> str | None:
    """The known name ``name`` most likely misspells, or None: ``closest_name("wikitxt", ["wikitext"])``
    -> ``"wikitext"``. Case is ignored (``"Llama3"`` -> ``"llama3"``)."""
    by_lower = {k.lower(): k for k in known}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1)
    return by_lower[close[0]] if close else None


def suggestion(name: str, known: Iterable[str]) -> str:
    """The sentence ending every unknown-name message: ``" Did you mean 'wikitext'?"``, or ``""``."""
    close = closest_name(name, known)
    return f" Did you mean {close!r}?" if close else ""


def unknown_name_message(kind: str, name: str, known: Iterable[str], *, also: str = "") -> str:
    """One line naming the bad value, the known names and the closest one.

    ``also`` describes accepted values outside the list (e.g. ``"a Hugging Face id/path"``).
    """
    known = list(known)
    listed = ", ".join(known) + (f", or {also}" if also else "")
    return f"unknown {kind} {name!r}. Known: {listed}.{suggestion(name, known)}"


def lookup(registry: Mapping[str, T], name: str, *, kind: str) -> T:
    """``registry[name]``, or a ValueError with :func:`unknown_name_message` (never a bare KeyError)."""
    if name in registry:
        return registry[name]
    raise ValueError(unknown_name_message(kind, name, registry))


def check_name(name: str, known: Iterable[str], *, kind: str) -> str:
    """``name`` if it is one of ``known``, else a ValueError with :func:`unknown_name_message`."""
    known = list(known)
    if name not in known:
        raise ValueError(unknown_name_message(kind, name, known))
    return name
