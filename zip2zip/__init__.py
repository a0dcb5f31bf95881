"""zip2zip: inference-time adaptive tokenization via online LZW compression of token ids."""

from __future__ import annotations

from .codebook import Codebook
from .codec import BatchEncoded, Decoded, Encoded, LZWCodec
from .config import CompressionConfig
from .lzw import LZWStream, compress, decompress

__version__ = "0.1.0"

__all__ = [
    "BatchEncoded",
    "Codebook",
    "CompressionConfig",
    "Decoded",
    "Encoded",
    "LZWCodec",
    "LZWStream",
    "__version__",
    "compress",
    "decompress",
]
