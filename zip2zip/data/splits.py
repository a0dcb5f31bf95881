"""Which documents training holds out: one rule by content hash, and the document limits it applies to.

Shared by training-data preparation (``training_chunks``: the train / held-out split) and the evaluation
corpora (``eval_corpora``: offline stand-ins score only held-out documents), so that evaluation text never
depends on how training data is chunked or cached. This module loads no documents.
"""

from __future__ import annotations

HELDOUT_FRACTION = 0.05  # default share of documents held out for validation and evaluation
MIN_DOC_BYTES = 2048  # documents training samples are at least this long ...
MAX_DOC_BYTES = 16384  # ... and cut to at most this many bytes
DOCUMENT_SEED = 0  # default seed of the training pipeline's document sampling


def is_heldout(doc_sha256: str, heldout_fraction: float) -> bool:
    """Deterministic split by document hash: held out iff the first 8 hex digits / 16^8 < fraction.

    Example: ``is_heldout("0a000000...", 0.05)`` is True (0x0a000000 / 16^8 = 0.039 < 0.05).
    """
    return int(doc_sha256[:8], 16) / 16**8 < heldout_fraction
