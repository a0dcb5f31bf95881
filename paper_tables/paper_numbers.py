"""The paper's published numbers, transcribed as data so tables can print paper | ours | delta.

Source: Geng et al., "zip2zip: Inference-Time Adaptive Tokenization via Online Compression", NeurIPS 2025
(arXiv 2506.01084), token-efficiency table (bytes per token, base tokenizer vs +zip2zip, M = 3), as
transcribed in ``shared/reference/paper-summary.txt``. The paper reports one decimal for bytes per token
and whole percent for the gain; cells it does not report are absent (rendered as ``--``), never guessed.
The paper's "Web" column is the upstream script's "knowledge" subset (fineweb-edu).
"""

from __future__ import annotations

SOURCE = "Geng et al., zip2zip, NeurIPS 2025 (arXiv 2506.01084), token-efficiency table"

# (tokenizer registry name, corpus registry name) -> (base bytes/token, zip2zip bytes/token, gain %)
EFFICIENCY: dict[tuple[str, str], tuple[float, float, float]] = {
    ("llama3", "code"): (4.1, 6.3, 54.0),
    ("llama3", "math"): (2.7, 4.0, 48.0),
    ("llama3", "chat"): (5.1, 6.4, 25.0),
    ("llama3", "multilingual"): (3.8, 4.7, 24.0),
    ("llama3", "web"): (4.6, 5.4, 17.0),
    ("qwen2", "code"): (4.0, 6.2, 55.0),
    ("qwen2", "math"): (2.3, 3.7, 61.0),
    ("phi4", "code"): (4.1, 6.3, 54.0),
    ("phi4", "math"): (2.7, 4.1, 52.0),
    ("gemma3", "code"): (3.3, 5.6, 70.0),
    ("gemma3", "math"): (2.3, 3.7, 61.0),
}

# Fraction of created hypertokens that are used again (paper's discussion: "only about 25%").
HYPERTOKEN_REUSE_FRACTION = 0.25

# Inference-efficiency table (Phi-3.5-4B on one H100, batch 1): setting "P+256" ->
# (baseline prefill tok/s, zip2zip prefill tok/s, baseline decode tok/s, zip2zip decode tok/s,
#  prefill gain %, decode gain %). Compare the gains, not absolute tok/s across machines. The paper's
# Apple M1 numbers are described only qualitatively ("more moderate but remain positive").
THROUGHPUT_SOURCE = (
    "Geng et al., zip2zip, NeurIPS 2025 (arXiv 2506.01084), inference-efficiency table (Phi-3.5-4B, H100)"
)
THROUGHPUT: dict[str, tuple[float, float, float, float, float, float]] = {
    "256+256": (700.9, 936.6, 56.2, 61.4, 33.6, 9.3),
    "512+256": (1347.2, 2722.1, 54.4, 79.8, 102.6, 46.6),
    "1024+256": (2689.4, 4326.7, 52.8, 61.5, 60.9, 16.6),
    "2048+256": (4993.2, 9258.1, 53.1, 61.9, 85.4, 16.5),
}
