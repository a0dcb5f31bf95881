"""Offline corpora: deterministic seeded samples within budget, grouping/truncation rules, provenance."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import pytest

from zip2zip.data.corpora import (
    CORPORA,
    group_items,
    load_corpus,
    sample_documents,
    truncate_utf8,
    yaml_safe_loader,
)
from zip2zip.data.tokenizers import MissingAssetError


def _load(name: str, **kw):
    kw = {"num_docs": 5, "max_total_bytes": 200_000, "source": "offline", "seed": 0, **kw}
    try:
        return load_corpus(name, **kw)
    except MissingAssetError as exc:
        pytest.skip(f"offline text for {name!r} not installed: {exc}")


def test_truncate_utf8_never_splits_a_character() -> None:
    assert truncate_utf8("ab\ncd", 4) == "ab\n"
    assert truncate_utf8("héé", 4) == "hé"  # 'é' is 2 bytes: the cut would split the second one
    assert truncate_utf8("short", 100) == "short"


def test_group_items_reaches_min_size() -> None:
    assert group_items(["aa", "bb", "cc"], 5, sep=" ") == ["aa bb", "cc"]
    assert group_items([], 5) == []


def test_sample_is_seeded_round_robin_and_bounded() -> None:
    pool = {"a": [f"a{i}" for i in range(10)], "b": [f"b{i}" for i in range(10)]}
    one = sample_documents(pool, num_docs=6, max_total_bytes=1000, max_doc_bytes=100, seed=1)
    assert one == sample_documents(pool, num_docs=6, max_total_bytes=1000, max_doc_bytes=100, seed=1)
    assert one != sample_documents(pool, num_docs=6, max_total_bytes=1000, max_doc_bytes=100, seed=2)
    assert [d[0] for d in one] == list("ababab")
    assert len(sample_documents(pool, num_docs=6, max_total_bytes=5, max_doc_bytes=100, seed=1)) == 2


@pytest.mark.parametrize("name", ["code", "chat", "multilingual", "web"])
def test_offline_corpus_deterministic(name: str) -> None:
    first, second = _load(name), _load(name)
    assert first.doc_sha256 == second.doc_sha256 and first.source == "offline"
    assert len(first.docs) == 5 and all(d.strip() for d in first.docs)
    assert all(len(d.encode()) <= 16384 for d in first.docs)
    assert first.doc_sha256[0] == hashlib.sha256(first.docs[0].encode()).hexdigest()
    assert _load(name, seed=1).doc_sha256 != first.doc_sha256


def test_math_corpus_seeded() -> None:
    first = _load("math", num_docs=2, min_doc_bytes=256)
    assert first.docs == _load("math", num_docs=2, min_doc_bytes=256).docs
    assert first.docs[0].startswith("Question: ") and "\nAnswer: " in first.docs[0]
    assert first.assets["modules_used"]


def test_web_keeps_attribution() -> None:
    assert "CC BY-SA" in _load("web").assets["attribution"]


def test_multilingual_mixes_scripts() -> None:
    docs = _load("multilingual", num_docs=30).docs
    assert sum(any(ord(c) > 0x0400 for c in d) for d in docs) >= 10  # Cyrillic, CJK, Devanagari, ...


def test_budget_and_validation() -> None:
    corpus = _load("web", num_docs=100, max_total_bytes=10_000)
    assert corpus.num_bytes <= 10_000 and len(corpus.docs) < 100
    with pytest.raises(ValueError, match="Did you mean 'web'"):
        load_corpus("wbe", num_docs=1, max_total_bytes=1)
    with pytest.raises(ValueError, match="source"):
        load_corpus("web", num_docs=1, max_total_bytes=1, source="cloud")
    assert set(CORPORA) == {"code", "math", "chat", "multilingual", "web"}


def test_the_fast_yaml_loader_reads_every_chatterbot_file_as_the_python_one() -> None:
    yaml = pytest.importorskip("yaml")
    spec = importlib.util.find_spec("chatterbot_corpus")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("chatterbot-corpus is not installed")
    root = Path(next(iter(spec.submodule_search_locations))) / "data"
    for path in sorted(root.rglob("*.yml")):
        text = path.read_text(encoding="utf-8")
        assert yaml.load(text, Loader=yaml_safe_loader()) == yaml.safe_load(text), path
