"""zip2zip: inference-time adaptive tokenization via online LZW compression of token ids."""

from __future__ import annotations

from typing import TYPE_CHECKING

from zip2zip.codec.codebook import Codebook
from zip2zip.codec.config import CompressionConfig
from zip2zip.codec.lzw import LZWStream, compress, decompress
from zip2zip.codec.lzw_codec import BatchEncoded, Decoded, Encoded, LZWCodec
from zip2zip.inference import auto_registration

__version__ = "0.1.0"

# The model side needs torch; it is imported on first use so that `import zip2zip` (the codec) stays light.
# Type checkers and IDEs see the real imports below; at run time ``__getattr__`` resolves them lazily.
if TYPE_CHECKING:
    from zip2zip.inference.causal_lm import Zip2ZipForCausalLM
    from zip2zip.inference.decoding import DecodingConfig
    from zip2zip.inference.generation import generate
    from zip2zip.inference.tokenization import Zip2ZipTokenizer
    from zip2zip.modeling.config import HyperEncoderConfig, Zip2ZipConfig

_LAZY_EXPORTS = {
    "DecodingConfig": "zip2zip.inference.decoding",
    "HyperEncoderConfig": "zip2zip.modeling.config",
    "Zip2ZipConfig": "zip2zip.modeling.config",
    "Zip2ZipForCausalLM": "zip2zip.inference.causal_lm",
    "Zip2ZipTokenizer": "zip2zip.inference.tokenization",
    "generate": "zip2zip.inference.generation",
}

# Model type "zip2zip" for AutoConfig / AutoModelForCausalLM, registered when transformers loads them.
auto_registration.install()


def __getattr__(name: str) -> object:
    if name in _LAZY_EXPORTS:
        import importlib

        return getattr(importlib.import_module(_LAZY_EXPORTS[name]), name)
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
