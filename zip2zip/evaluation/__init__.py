"""The evaluation layer: token-efficiency metrics, timing and what it times (decoders, device sync, peak memory,
the decode-step roofline), byte-level perplexity of documents, result files and the lm-eval model type.
Builds on every layer but training.
"""

from __future__ import annotations

from zip2zip.evaluation.result_table import load_results, result_frame

__all__ = ["load_results", "result_frame"]
