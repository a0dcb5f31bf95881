"""Registry lookups: one message for every typo, and one helper that every registry uses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from zip2zip.registry import check_name, closest_name, lookup, unknown_name_message

ROOT = Path(__file__).resolve().parent.parent


def test_message_names_the_value_the_known_names_and_the_closest() -> None:
    message = unknown_name_message("corpus", "wikitxt", ["code", "math", "wikitext"])
    assert message == "unknown corpus 'wikitxt'. Known: code, math, wikitext. Did you mean 'wikitext'?"


def test_no_suggestion_when_nothing_is_close() -> None:
    message = unknown_name_message("tokenizer", "zzz", ["llama3", "qwen2"], also="a Hugging Face id/path")
    assert message == "unknown tokenizer 'zzz'. Known: llama3, qwen2, or a Hugging Face id/path."


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("wikitext103", "wikitext"), ("Llama3", "llama3"), ("lama3", "llama3"), ("xyz", None)],
)
def test_closest_name(typed: str, expected: str | None) -> None:
    assert closest_name(typed, ["wikitext", "llama3", "pile"]) == expected


def test_lookup_and_check_name() -> None:
    registry = {"code": 1, "web": 2}
    assert lookup(registry, "web", kind="corpus") == 2
    with pytest.raises(ValueError, match=r"^unknown corpus 'wbe'\. Known: code, web\. Did you mean 'web'\?$"):
        lookup(registry, "wbe", kind="corpus")
    assert check_name("web", registry, kind="corpus") == "web"
    with pytest.raises(ValueError, match="Did you mean 'code'"):
        check_name("cod", registry, kind="corpus")


def test_every_close_match_lookup_goes_through_the_registry_helper() -> None:
    """A second hand-written "did you mean" drifts in wording and behaviour; there is one helper."""
    own_lookups = [
        str(path.relative_to(ROOT))
        for folder in ("zip2zip", "benchmarks", "paper_tables")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path.name != "registry.py" and re.search(r"get_close_matches|[Dd]id you mean", path.read_text())
    ]
    assert own_lookups == []
