"""Training data: documents -> base ids -> chunks of exactly ``seq_len`` compressed ids, cached on disk.

Pipeline: sample documents per domain with mixture weights (``corpora.load_corpus``: the paper's hub
datasets when reachable and ``source`` allows, else the offline packaged text), split them into train /
held-out by a hash of each document (disjoint by construction; the held-out hashes are recorded for
perplexity later), tokenize with the base tokenizer, and cut every document with
``chunking.chunk_document`` (fresh codebook per chunk, no base id lost). Chunks are stored as flat numpy
arrays in ``.npz`` shards under ``<cache_root>/<key>/<split>/``; ``key`` hashes (tokenizer files, document
hashes, V, C, M, pad, disabled ids, the codebook policy unless ``freeze``, seq_len). Shards are written
atomically, so an interrupted run resumes where it stopped; two threads process shards in parallel (the
tokenizer's Rust core and the numba LZW kernels release the GIL).

With compression off (``max_codebook_size=0``) chunks are plain base-id windows of ``seq_len``: the
continual-pretraining control reads the same documents. This module does not batch or shuffle.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zip2zip.codec.config import CODEBOOK_POLICIES, CompressionConfig
from zip2zip.codec.lzw_codec import LZWCodec
from zip2zip.config_cli import option
from zip2zip.data.chunking import chunk_document
from zip2zip.data.splits import DOCUMENT_SEED, HELDOUT_FRACTION, MAX_DOC_BYTES, MIN_DOC_BYTES, is_heldout
from zip2zip.data.tokenizers import Tokenizer, cache_dir, get_tokenizer
from zip2zip.registry import check_name

DOMAINS = ("code", "math", "chat", "multilingual", "web")
SPLITS = ("train", "heldout")
CACHE_FORMAT_VERSION = 1


@dataclass(frozen=True)
class DataConfig:
    """What to train on. ``mixture_weights`` (same order as ``corpora``) split ``data_bytes``; ``None`` =
    equal weights (the paper's Table 14 proportions are not reproduced here). ``TrainConfig`` extends it,
    so each field is also a flag of ``python -m zip2zip.training``."""

    tokenizer: str = option("smollm2", "tokenizer registry name or Hugging Face id; must match model")
    corpora: tuple[str, ...] = option(DOMAINS, "training corpora, comma-separated (e.g. code,math)")
    mixture_weights: tuple[float, ...] | None = option(
        None, "share of data_bytes per corpus, comma-separated in the order of corpora; none = equal shares"
    )
    data_source: str = option(
        "offline",
        "offline (packaged text), hub (Hugging Face datasets; unreachable = error) or auto (hub if reachable)",
    )
    data_bytes: int = option(4_000_000, "bytes of text to read, over all corpora")
    heldout_fraction: float = option(
        HELDOUT_FRACTION, "fraction of documents (chosen by content hash) held out for validation"
    )
    min_doc_bytes: int = option(MIN_DOC_BYTES, "documents shorter than this many bytes are not sampled")
    max_doc_bytes: int = option(MAX_DOC_BYTES, "documents are cut to at most this many bytes")
    seq_len: int = option(256, "compressed ids per training sequence")
    max_subtokens: int = option(3, "M: most base ids one hypertoken stands for")
    max_codebook_size: int = option(2048, "C: most hypertokens per sequence's codebook")
    codebook_policy: str = option(
        "freeze",
        "when the codebook is full: freeze (the paper), lru (evict) or reset (clear); see CompressionConfig",
    )
    use_compression: bool = option(
        True, "train on LZW-compressed ids; false = the continual-pretraining control"
    )
    seed: int = option(
        DOCUMENT_SEED, "seed of the document sampling, the data order and every random initialisation"
    )

    def __post_init__(self) -> None:
        if not self.corpora:
            raise ValueError("corpora is empty; pick some of " + ", ".join(DOMAINS))
        if self.mixture_weights is not None:
            if len(self.mixture_weights) != len(self.corpora):
                raise ValueError(
                    f"mixture_weights {self.mixture_weights} must have one weight per corpus {self.corpora}"
                )
            if any(w < 0 for w in self.mixture_weights) or sum(self.mixture_weights) <= 0:
                raise ValueError(f"mixture_weights {self.mixture_weights} must be >= 0 with a positive sum")
        if not 0 < self.heldout_fraction < 1:
            raise ValueError(f"heldout_fraction={self.heldout_fraction} must be in (0, 1)")
        if self.seq_len < 2:
            raise ValueError(f"seq_len={self.seq_len} must be >= 2 (one input and one target)")
        if self.data_bytes < 1:
            raise ValueError(f"data_bytes={self.data_bytes} must be positive")
        if self.max_subtokens < 1 or self.max_codebook_size < 0:
            raise ValueError(
                f"max_subtokens={self.max_subtokens}, max_codebook_size={self.max_codebook_size}: need M >= 1 "
                "and C >= 0 (the paper: M=3, C=2048; --no-compression for the control)"
            )
        check_name(self.codebook_policy, CODEBOOK_POLICIES, kind="codebook policy")
        if not 0 <= self.min_doc_bytes <= self.max_doc_bytes or self.max_doc_bytes < 1:
            raise ValueError(
                f"min_doc_bytes={self.min_doc_bytes}, max_doc_bytes={self.max_doc_bytes}: need "
                "0 <= min_doc_bytes <= max_doc_bytes and max_doc_bytes >= 1"
            )

    def weights(self) -> list[float]:
        raw = self.mixture_weights or tuple(1.0 for _ in self.corpora)
        return [w / sum(raw) for w in raw]


@dataclass(frozen=True)
class Document:
    domain: str
    text: str
    sha256: str


# ---- tokenizer and codec -------------------------------------------------------------------------


def compression_config(tokenizer: Tokenizer, config: DataConfig) -> CompressionConfig:
    """The codec settings of the data (and of the model trained on it): V, pad and specials from the tokenizer.

    Compression off keeps M (so the model layout is unchanged) and sets C = 0: the stream passes through.
    """
    return CompressionConfig(
        initial_vocab_size=tokenizer.vocab_size,
        pad_token_id=tokenizer.pad_token_id,
        max_subtokens=config.max_subtokens,
        max_codebook_size=config.max_codebook_size if config.use_compression else 0,
        disabled_ids=tokenizer.special_ids,
        codebook_policy=config.codebook_policy,
    )


# ---- documents -----------------------------------------------------------------------------------


def load_documents(config: DataConfig) -> tuple[list[Document], dict[str, Any]]:
    """Documents of every domain (``weight * data_bytes`` each) and their provenance per domain."""
    from zip2zip.data.corpora import load_corpus

    docs: list[Document] = []
    provenance: dict[str, Any] = {}
    for name, weight in zip(config.corpora, config.weights(), strict=True):
        budget = int(weight * config.data_bytes)
        if budget <= 0:
            continue
        corpus = load_corpus(
            name,
            num_docs=budget // config.min_doc_bytes + 1,
            max_total_bytes=budget,
            min_doc_bytes=config.min_doc_bytes,
            max_doc_bytes=config.max_doc_bytes,
            seed=config.seed,
            source=config.data_source,
        )
        docs += [Document(name, t, h) for t, h in zip(corpus.docs, corpus.doc_sha256, strict=True)]
        provenance[name] = {
            "num_docs": len(corpus.docs),
            "num_bytes": corpus.num_bytes,
            "sha256": corpus.sha256,
            "assets": corpus.assets,
        }
    return docs, provenance


# ---- chunk storage -------------------------------------------------------------------------------


@dataclass
class ChunkArrays:
    """Chunks as flat arrays; chunk i = ``ids[id_offsets[i]:id_offsets[i+1]]``, entries likewise.

    Under ``lru`` and ``reset`` entries are versions (``chunking``) and the two version arrays are set.
    """

    ids: np.ndarray  # [total_codes] int64
    id_offsets: np.ndarray  # [num_chunks + 1]
    table: np.ndarray  # [total_entries, M] pad-filled member ids
    entry_positions: np.ndarray  # [total_entries]
    entry_offsets: np.ndarray  # [num_chunks + 1]
    doc_index: np.ndarray  # [num_chunks] index into the split's document list
    base_start: np.ndarray  # [num_chunks]
    base_stop: np.ndarray  # [num_chunks]
    removal_positions: np.ndarray | None = None  # [total_entries] under lru and reset
    hidden_versions: np.ndarray | None = None  # [total_codes] under lru and reset

    def __len__(self) -> int:
        return len(self.doc_index)

    def __getitem__(self, i: int) -> tuple[np.ndarray, ...]:
        """``(ids [n], table [k, M], entry_positions [k])`` of chunk i, then ``removal_positions [k]`` and
        ``hidden_versions [n]`` under lru and reset."""
        a, b = self.id_offsets[i], self.id_offsets[i + 1]
        c, d = self.entry_offsets[i], self.entry_offsets[i + 1]
        if self.removal_positions is None or self.hidden_versions is None:
            return self.ids[a:b], self.table[c:d], self.entry_positions[c:d]
        return (
            self.ids[a:b],
            self.table[c:d],
            self.entry_positions[c:d],
            self.removal_positions[c:d],
            self.hidden_versions[a:b],
        )

    @property
    def num_codes(self) -> int:
        return len(self.ids)

    @property
    def num_base_ids(self) -> int:
        return int((self.base_stop - self.base_start).sum())

    @classmethod
    def concatenate(cls, parts: Sequence[ChunkArrays], max_subtokens: int) -> ChunkArrays:
        if not parts:
            z = np.zeros(0, np.int64)
            return cls(
                z,
                np.zeros(1, np.int64),
                np.zeros((0, max_subtokens), np.int64),
                z,
                np.zeros(1, np.int64),
                z,
                z,
                z,
            )

        def offsets(key: str) -> np.ndarray:
            lengths = np.concatenate([np.diff(getattr(p, key)) for p in parts])
            return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)

        def versioned(key: str) -> np.ndarray | None:
            arrays = [getattr(p, key) for p in parts]
            return None if any(a is None for a in arrays) else np.concatenate(arrays)

        return cls(
            ids=np.concatenate([p.ids for p in parts]),
            id_offsets=offsets("id_offsets"),
            table=np.concatenate([p.table for p in parts]),
            entry_positions=np.concatenate([p.entry_positions for p in parts]),
            entry_offsets=offsets("entry_offsets"),
            doc_index=np.concatenate([p.doc_index for p in parts]),
            base_start=np.concatenate([p.base_start for p in parts]),
            base_stop=np.concatenate([p.base_stop for p in parts]),
            removal_positions=versioned("removal_positions"),
            hidden_versions=versioned("hidden_versions"),
        )


def chunk_documents(
    base_ids: Sequence[Sequence[int]], codec: LZWCodec, seq_len: int, *, first_doc_index: int = 0
) -> ChunkArrays:
    """Chunk each document (``chunking.chunk_document``) and pack the chunks into ``ChunkArrays``."""
    ids, tables, positions, doc_index, starts, stops = [], [], [], [], [], []
    removals, hidden = [], []
    for d, doc in enumerate(base_ids):
        for chunk in chunk_document(np.asarray(doc, np.int64), codec, seq_len):
            ids.append(chunk.ids)
            tables.append(chunk.codebook.table)
            positions.append(chunk.entry_positions)
            if chunk.removal_positions is not None and chunk.hidden_versions is not None:
                removals.append(chunk.removal_positions)
                hidden.append(chunk.hidden_versions)
            doc_index.append(first_doc_index + d)
            starts.append(chunk.base_start)
            stops.append(chunk.base_stop)
    m = codec.config.max_subtokens

    def offsets(arrays: list[np.ndarray]) -> np.ndarray:
        return np.concatenate([[0], np.cumsum([len(a) for a in arrays])]).astype(np.int64)

    def cat(arrays: list[np.ndarray], shape: tuple[int, ...] = (0,)) -> np.ndarray:
        return np.concatenate(arrays).astype(np.int64) if arrays else np.zeros(shape, np.int64)

    return ChunkArrays(
        ids=cat(ids),
        id_offsets=offsets(ids),
        table=cat(tables, (0, m)).reshape(-1, m),
        entry_positions=cat(positions),
        entry_offsets=offsets(tables),
        doc_index=np.asarray(doc_index, np.int64),
        base_start=np.asarray(starts, np.int64),
        base_stop=np.asarray(stops, np.int64),
        removal_positions=None if codec.config.codebook_policy == "freeze" else cat(removals),
        hidden_versions=None if codec.config.codebook_policy == "freeze" else cat(hidden),
    )


def _save_npz_atomic(path: Path, arrays: ChunkArrays) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
    os.close(fd)
    np.savez(tmp, **{k: a for k, a in asdict(arrays).items() if a is not None})
    os.replace(tmp, path)


def _load_npz(path: Path) -> ChunkArrays:
    with np.load(path) as data:
        return ChunkArrays(**{k: data[k] for k in data.files})


def _write_json_atomic(path: Path, payload: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.json")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


# ---- the prepared dataset ------------------------------------------------------------------------


@dataclass
class PreparedData:
    """Train and held-out chunks, the codec settings they were made with, and a manifest."""

    train: ChunkArrays
    heldout: ChunkArrays
    compression: CompressionConfig
    directory: Path
    manifest: dict[str, Any] = field(default_factory=dict)


def cache_key(
    tokenizer: Tokenizer, compression: CompressionConfig, config: DataConfig, docs: list[Document]
) -> str:
    """sha256 over everything the chunks depend on (first 16 hex digits)."""
    payload = {
        "format": CACHE_FORMAT_VERSION,
        "tokenizer": {"name": tokenizer.name, "provenance": tokenizer.provenance},
        "compression": compression.to_dict(),
        "seq_len": config.seq_len,
        "heldout_fraction": config.heldout_fraction,
        "docs": hashlib.sha256("\n".join(f"{d.domain}:{d.sha256}" for d in docs).encode()).hexdigest(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def prepare_data(
    config: DataConfig,
    *,
    cache_root: Path | str | None = None,
    num_workers: int = 2,
    docs_per_shard: int = 64,
    show_progress: bool = True,
    documents: list[Document] | None = None,
) -> PreparedData:
    """Build (or reuse, or finish building) the chunk cache for ``config`` and load it.

    ``documents`` replaces corpus loading (tests). ``cache_root`` defaults to ``~/.cache/zip2zip/train_data``.
    """
    tokenizer = get_tokenizer(config.tokenizer)
    compression = compression_config(tokenizer, config)
    provenance: dict[str, Any] = {"documents": "given by the caller"}
    if documents is None:
        documents, provenance = load_documents(config)
    root = Path(cache_root) if cache_root is not None else cache_dir() / "train_data"
    directory = root / cache_key(tokenizer, compression, config, documents)
    manifest_path = directory / "manifest.json"
    splits = _split_documents(documents, config.heldout_fraction)
    codec = LZWCodec.from_config(compression, num_threads=1)
    jobs = _shard_jobs(directory, splits, docs_per_shard)
    todo = [j for j in jobs if not j[0].is_file()]  # finished shards are kept: resumable
    if todo:
        _build_shards(
            todo,
            tokenizer=tokenizer,
            codec=codec,
            seq_len=config.seq_len,
            num_jobs=len(jobs),
            num_workers=num_workers,
            show_progress=show_progress,
        )
    loaded = {
        split: ChunkArrays.concatenate(
            [_load_npz(p) for p, _, _ in jobs if p.parent.name == split], compression.max_subtokens
        )
        for split in SPLITS
    }
    manifest = _manifest(config, tokenizer, compression, provenance, splits, loaded)
    if not manifest_path.is_file():
        _write_json_atomic(manifest_path, manifest)
    return PreparedData(loaded["train"], loaded["heldout"], compression, directory, manifest)


# A shard to build: its file, its documents and the index of its first document in the split.
_ShardJob = tuple[Path, list[Document], int]


def _split_documents(documents: list[Document], heldout_fraction: float) -> dict[str, list[Document]]:
    """Train and held-out documents (by hash, so a document keeps its split); both must be non-empty."""
    splits = {
        "train": [d for d in documents if not is_heldout(d.sha256, heldout_fraction)],
        "heldout": [d for d in documents if is_heldout(d.sha256, heldout_fraction)],
    }
    if not splits["train"] or not splits["heldout"]:
        raise ValueError(
            f"{len(documents)} documents give {len(splits['train'])} train / {len(splits['heldout'])} held-out: "
            "raise data_bytes or heldout_fraction so both splits are non-empty"
        )
    return splits


def _shard_jobs(directory: Path, splits: dict[str, list[Document]], docs_per_shard: int) -> list[_ShardJob]:
    """Every shard of every split, ``docs_per_shard`` documents each (split directories created)."""
    jobs = []
    for split, docs in splits.items():
        (directory / split).mkdir(parents=True, exist_ok=True)
        for s, lo in enumerate(range(0, len(docs), docs_per_shard)):
            path = directory / split / f"shard-{s:05d}.npz"
            jobs.append((path, docs[lo : lo + docs_per_shard], lo))
    return jobs


def _build_shards(
    todo: list[_ShardJob],
    *,
    tokenizer: Tokenizer,
    codec: LZWCodec,
    seq_len: int,
    num_jobs: int,
    num_workers: int,
    show_progress: bool,
) -> None:
    """Tokenize, compress and chunk the ``todo`` shards on ``num_workers`` threads, each written atomically."""
    from tqdm.auto import tqdm

    def run(job: _ShardJob) -> None:
        path, docs, lo = job
        base_ids = tokenizer.encode_batch([d.text for d in docs])
        _save_npz_atomic(path, chunk_documents(base_ids, codec, seq_len, first_doc_index=lo))

    with ThreadPoolExecutor(max(1, num_workers)) as pool:
        bar = tqdm(
            total=num_jobs,
            initial=num_jobs - len(todo),
            desc="chunking",
            unit="shard",
            disable=not show_progress,
        )
        for _ in pool.map(run, todo):
            bar.update(1)
        bar.close()


def _manifest(
    config: DataConfig,
    tokenizer: Tokenizer,
    compression: CompressionConfig,
    provenance: dict[str, Any],
    splits: dict[str, list[Document]],
    loaded: dict[str, ChunkArrays],
) -> dict[str, Any]:
    """What the cache holds and how it was made: config, tokenizer, codec, corpora and per-split counts."""
    return {
        "format": CACHE_FORMAT_VERSION,
        "config": asdict(config),
        "tokenizer": {"name": tokenizer.name, "provenance": tokenizer.provenance},
        "compression": compression.to_dict(),
        "corpora": provenance,
        "splits": {
            split: {
                "num_docs": len(splits[split]),
                "num_chunks": len(loaded[split]),
                "num_codes": loaded[split].num_codes,
                "num_base_ids": loaded[split].num_base_ids,
                "num_bytes": sum(len(d.text.encode("utf-8")) for d in splits[split]),
                "doc_sha256": [d.sha256 for d in splits[split]] if split == "heldout" else None,
            }
            for split in SPLITS
        },
    }
