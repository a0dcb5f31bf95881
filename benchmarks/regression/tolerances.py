"""The one tolerance table of the regression check: per metric, how far "now" may be from the baseline, and why.

Rules are tried in order; the first whose benchmark and field patterns (``fnmatch`` globs) match a metric
decides. A metric no rule matches is an error of the check itself (``NO RULE``): adding a metric to a
benchmark forces a decision here. Four kinds:

* ``exact``: same value (counts, bytes per token, codec outputs, content hashes);
* ``close``: ``math.isclose`` with a relative (and absolute) tolerance, for floats that come out of model
  arithmetic, whose reductions may round differently with another thread count, CPU or library build;
* ``ratio``: ``now / baseline`` within ``[1/factor, factor]``, for same-run timing ratios only;
* ``ignore``: recorded but never compared (absolute timings and memory, which measure the machine).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fnmatch import fnmatchcase

from .metrics import Value

KINDS = ("exact", "close", "ratio", "ignore")


@dataclass(frozen=True)
class Tolerance:
    kind: str
    rel: float = 0.0  # close
    abs: float = 0.0  # close
    factor: float = 1.0  # ratio

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"tolerance kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if self.kind == "ratio" and not self.factor > 1:
            raise ValueError(f"ratio tolerance factor={self.factor} must be > 1")

    def describe(self) -> str:
        if self.kind == "close":
            return f"rel {self.rel:g}" + (f", abs {self.abs:g}" if self.abs else "")
        if self.kind == "ratio":
            return f"x{self.factor:g} either way"
        return {"exact": "exact", "ignore": "not compared"}[self.kind]

    def accepts(self, baseline: Value, now: Value) -> bool:
        """Whether ``now`` is within this tolerance of ``baseline`` (``ignore`` accepts anything). A NaN on either
        side is within none: NaN is no measurement, and two of them are not "unchanged"."""
        if self.kind == "ignore":
            return True
        if self.kind == "exact" or not _both_numbers(baseline, now):
            return baseline == now  # NaN == NaN is False
        assert isinstance(baseline, int | float) and isinstance(now, int | float)
        if self.kind == "close":
            return baseline == now or math.isclose(now, baseline, rel_tol=self.rel, abs_tol=self.abs)
        if baseline <= 0 or now <= 0:  # a timing ratio is positive; anything else is a broken measurement
            return False
        return 1 / self.factor <= now / baseline <= self.factor


def _both_numbers(a: Value, b: Value) -> bool:
    return all(isinstance(x, int | float) and not isinstance(x, bool) for x in (a, b))


@dataclass(frozen=True)
class Rule:
    benchmark: str  # glob over benchmark names
    field: str  # glob over the metric's field name (its last name part)
    tolerance: Tolerance
    reason: str
    row: str = "*"  # glob over the row part of the name, e.g. "*decode_mode=greedy*"

    def matches(self, benchmark: str, field: str, row: str = "") -> bool:
        return (
            fnmatchcase(benchmark, self.benchmark)
            and fnmatchcase(field, self.field)
            and fnmatchcase(row, self.row)
        )


EXACT = Tolerance("exact")
IGNORE = Tolerance("ignore")
# Model arithmetic: bits/byte, log-likelihoods, losses. Two runs here are bit-identical; 1e-4 leaves room
# for another thread count or CPU of the same kind, and is far below any change worth a look.
MODEL_FLOAT = Tolerance("close", rel=1e-4, abs=1e-9)
# Same-run timing ratios: interleaved in one process, so the machine's speed cancels out, but short runs
# on a shared machine still move them by tens of percent; only a 3x change either way is a regression.
TIMING_RATIO = Tolerance("ratio", factor=3.0)

_ABSOLUTE_TIME = "absolute time measures the machine and its load; only same-run ratios are compared"
_COUNT = "a count: the same inputs and code give the same number on any machine"
_MODEL_FLOAT = "model arithmetic: float reductions may round differently across threads/CPUs (rel 1e-4)"
_TIMING_RATIO = (
    "same-run timing ratio (interleaved in one process); x3 bounds leave room for a shared machine"
)

RULES: tuple[Rule, ...] = (
    # ---- never compared: absolute timings and memory -------------------------------------------------
    Rule("*", "*_s", IGNORE, _ABSOLUTE_TIME),
    Rule("*", "*_ms", IGNORE, _ABSOLUTE_TIME),
    Rule("*", "*_ms_per_step", IGNORE, _ABSOLUTE_TIME),
    Rule("*", "*_per_s", IGNORE, _ABSOLUTE_TIME),
    Rule("*", "*_s_median", IGNORE, _ABSOLUTE_TIME),
    Rule("codec", "ours_*", IGNORE, _ABSOLUTE_TIME + " (a codec's rate in base ids/s)"),
    Rule("codec", "upstream_*", IGNORE, _ABSOLUTE_TIME + " (a codec's rate in base ids/s)"),
    Rule("codec", "reference_python", IGNORE, _ABSOLUTE_TIME + " (a codec's rate in base ids/s)"),
    Rule("*", "peak_memory_bytes", IGNORE, "resident memory depends on the allocator, libraries and load"),
    Rule(
        "throughput",
        "*_gain_pct",
        IGNORE,
        "100 x (speedup - 1): the speedup it restates is compared as a ratio",
    ),
    Rule(
        "codec",
        "speedup_numpy_vs_reference_python",
        IGNORE,
        "a sub-millisecond call over a tens-of-ms one: CPU contention moves it 20-70x (measured: 51x idle, "
        "1136x under load); the compiled path vs the upstream codec is the timing ratio compared",
    ),
    # ---- same-run timing ratios ------------------------------------------------------------------------
    Rule("codec", "speedup_*", TIMING_RATIO, _TIMING_RATIO + ": project codec vs the reference codec"),
    Rule("throughput", "*speedup*", TIMING_RATIO, _TIMING_RATIO + ": zip2zip vs the base model"),
    Rule("throughput", "decode_step_rate_ratio", TIMING_RATIO, _TIMING_RATIO + ": zip2zip vs the base model"),
    Rule("decode_step", "*_ratio_vs_base", TIMING_RATIO, _TIMING_RATIO + ": zip2zip vs the base model"),
    # ---- what a random-weight model chose greedily ------------------------------------------------------------
    Rule(
        "decode_step",
        "num_[eh][ny]*",  # num_entries_created, num_hypertokens_fed
        IGNORE,
        "counts of what a random-weight model emitted greedily: its near-tied logits flip with the CPU's float "
        "rounding (tiny: 2 vs 3 hypertokens fed on two machines, same code and versions); forced rows compare "
        "them exactly",
        row="*decode_mode=greedy*",
    ),
    # ---- exact: counts, token efficiency, codec outputs, rendered files -------------------------------------
    Rule(
        "efficiency",
        "num_entries_*",
        EXACT,
        "codebook-policy sweep: entries created, reused and evicted are counts of a deterministic codec",
        row="*setting=policy_sweep*",
    ),
    Rule(
        "efficiency",
        "entry_reuse_fraction",
        EXACT,
        "codebook-policy sweep: reused entries over created entries, a ratio of two exact counts",
        row="*setting=policy_sweep*",
    ),
    Rule("*", "num_*", EXACT, _COUNT),
    Rule("*", "new_base_tokens", EXACT, _COUNT),
    Rule(
        "efficiency",
        "*",
        EXACT,
        "bytes/token, gains and reuse are ratios of counts of a deterministic tokenizer and codec",
    ),
    Rule(
        "*",
        "*compression_ratio",
        EXACT,
        "base ids per compressed id: a ratio of counts (greedy generation is deterministic on one thread)",
    ),
    Rule("downstream", "lm_eval_task_version", EXACT, "the task definition: a change is a different task"),
    Rule("training", "learning_rates.*", EXACT, "the schedule's arithmetic in Python floats"),
    Rule(
        "paper_tables",
        "sha256",
        EXACT,
        "out/ must be what build renders from the committed results, byte for byte (PDFs carry no "
        "CreationDate; PNG/PDF name the matplotlib version, so another matplotlib shows here)",
    ),
    # ---- close: model arithmetic ---------------------------------------------------------------------------
    Rule("perplexity", "bits_per_byte", MODEL_FLOAT, _MODEL_FLOAT),
    Rule("perplexity", "byte_perplexity", MODEL_FLOAT, _MODEL_FLOAT),
    Rule("perplexity", "nll_*", MODEL_FLOAT, _MODEL_FLOAT),
    Rule(
        "perplexity",
        "canonical_*",
        MODEL_FLOAT,
        _MODEL_FLOAT + " (scores renormalised over canonical parses)",
    ),
    Rule(
        "perplexity",
        "multiview_*",
        MODEL_FLOAT,
        _MODEL_FLOAT + " (each code's probability summed over its segmentations)",
    ),
    Rule("perplexity", "first_token_*", MODEL_FLOAT, _MODEL_FLOAT + " (the multi-view first-token bound)"),
    Rule(
        "*",
        "impossible_code_mass",
        MODEL_FLOAT,
        "softmax mass on codes the parse cannot produce: " + _MODEL_FLOAT,
    ),
    Rule(
        "perplexity",
        "byte_perplexity_increase_pct",
        Tolerance("close", rel=1e-4, abs=1e-3),
        _MODEL_FLOAT + "; abs 0.001 percentage points near 0",
    ),
    Rule("downstream", "acc*", MODEL_FLOAT, "accuracy over few items: " + _MODEL_FLOAT),
    Rule("downstream", "exact_match_*", MODEL_FLOAT, "accuracy over few items: " + _MODEL_FLOAT),
    Rule("training", "*loss", MODEL_FLOAT, _MODEL_FLOAT),
    Rule("training", "nll_per_base_token", MODEL_FLOAT, _MODEL_FLOAT),
    Rule("training", "*reconstruction_accuracy", MODEL_FLOAT, _MODEL_FLOAT),
    Rule("training", "grad_norms.*", MODEL_FLOAT, _MODEL_FLOAT),
    Rule("diagnose", "*_nll", MODEL_FLOAT, _MODEL_FLOAT + " (a part of the student's or teacher's NLL)"),
    Rule("diagnose", "first_token_kl", MODEL_FLOAT, _MODEL_FLOAT),
)


def rule_for(benchmark: str, field: str, rules: tuple[Rule, ...] = RULES, *, row: str = "") -> Rule | None:
    """The first rule matching the metric, or None (the check reports ``NO RULE``)."""
    return next((r for r in rules if r.matches(benchmark, field, row)), None)
