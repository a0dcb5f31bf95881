"""zip2zip: inference-time adaptive tokenization via online LZW compression of token ids."""

from __future__ import annotations

from .codebook import Codebook
from .codec import BatchEncoded, Decoded, Encoded, LZWCodec
from .config import CompressionConfig
from .lzw import LZWStream, compress, decompress

__version__ = "0.1.0"

# The model side needs torch; it is imported on first use so that `import zip2zip` (the codec) stays light.
_LAZY_EXPORTS = {
    "DecodingConfig": "generation",
    "HyperEncoderConfig": "model_config",
    "Zip2ZipConfig": "model_config",
    "Zip2ZipForCausalLM": "model",
    "Zip2ZipTokenizer": "tokenization",
    "generate": "generation",
}


def __getattr__(name: str) -> object:
    if name in _LAZY_EXPORTS:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'zip2zip' has no attribute {name!r}")


__all__ = [
    "BatchEncoded",
    "Codebook",
    "CompressionConfig",
    "Decoded",
    "DecodingConfig",
    "Encoded",
    "HyperEncoderConfig",
    "LZWCodec",
    "LZWStream",
    "Zip2ZipConfig",
    "Zip2ZipForCausalLM",
    "Zip2ZipTokenizer",
    "__version__",
    "compress",
    "decompress",
    "generate",
]
