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

# Ablation tables (Phi-3.5-4B and Phi-3-14B; continued pretraining of the sheet's setup).
# Byte-level perplexity, lower is better: model -> method -> corpus -> value. The paper gives no
# continual-pretraining row for perplexity.
PERPLEXITY_SOURCE = "Geng et al., zip2zip, NeurIPS 2025 (arXiv 2506.01084), byte-level perplexity table"
PERPLEXITY_CORPORA = ("wikitext", "pile", "mc4", "dc4")
PERPLEXITY: dict[str, dict[str, dict[str, float]]] = {
    "Phi-3.5-4B": {
        "baseline": {"wikitext": 1.58, "pile": 1.79, "mc4": 1.88, "dc4": 1.74},
        "zip2zip": {"wikitext": 1.69, "pile": 1.95, "mc4": 2.00, "dc4": 1.82},
    },
    "Phi-3-14B": {
        "baseline": {"wikitext": 1.43, "pile": 1.72, "mc4": 1.82, "dc4": 1.67},
        "zip2zip": {"wikitext": 1.56, "pile": 1.90, "mc4": 1.96, "dc4": 1.75},
    },
}
# The authors' follow-up (zip2zip++) on full WikiText for one of its models (their published numbers): byte
# perplexity of the strict parse, exact multi-view and the first-token bound; seconds for exact multi-view.
MULTIVIEW_SOURCE = "zip2zip++ (the authors' follow-up), full WikiText, one model"
MULTIVIEW_WIKITEXT = {"strict": 1.657, "multiview": 1.629, "first_token": 1.588}
MULTIVIEW_SECONDS = {"sequential": 2676.0, "tree_attention": 103.0}

# Downstream accuracy (lm-evaluation-harness): model -> method -> task -> score.
DOWNSTREAM_SOURCE = "Geng et al., zip2zip, NeurIPS 2025 (arXiv 2506.01084), downstream-task table"
DOWNSTREAM_TASKS = ("arc_challenge", "arc_easy", "hellaswag", "openbookqa", "piqa", "winogrande", "gsm8k")
DOWNSTREAM: dict[str, dict[str, dict[str, float]]] = {
    "Phi-3.5-4B": {
        "baseline": dict(zip(DOWNSTREAM_TASKS, (0.60, 0.83, 0.66, 0.46, 0.79, 0.75, 0.82), strict=True)),
        "continual_pretraining": dict(
            zip(DOWNSTREAM_TASKS, (0.60, 0.82, 0.63, 0.47, 0.82, 0.75, 0.40), strict=True)
        ),
        "zip2zip": dict(zip(DOWNSTREAM_TASKS, (0.57, 0.83, 0.61, 0.46, 0.82, 0.75, 0.15), strict=True)),
    },
    "Phi-3-14B": {
        "baseline": dict(zip(DOWNSTREAM_TASKS, (0.62, 0.80, 0.70, 0.51, 0.83, 0.76, 0.84), strict=True)),
        "continual_pretraining": dict(
            zip(DOWNSTREAM_TASKS, (0.62, 0.88, 0.66, 0.52, 0.87, 0.80, 0.52), strict=True)
        ),
        "zip2zip": dict(zip(DOWNSTREAM_TASKS, (0.62, 0.86, 0.68, 0.51, 0.85, 0.79, 0.25), strict=True)),
    },
}
