"""The command line of ``python -m zip2zip.training``: a flag per ``TrainConfig`` field
(:mod:`zip2zip.config_cli`), ``--preset`` for the defaults, ``--resume`` and ``--no-progress``; ``main`` runs
``loop.run`` and prints a one-line summary.

Parsing only: what a run does is ``loop``'s job.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zip2zip.config_cli import ConfigCommandLine
from zip2zip.training.config import PRESETS, TrainConfig
from zip2zip.training.loop import run
from zip2zip.training.teacher_checkpoint import read_teacher_config

DEFAULT_PRESET = "smollm2-cpu"


def build_command_line() -> ConfigCommandLine[TrainConfig]:
    """A flag per ``TrainConfig`` field, defaulting to ``--preset``'s values, plus the run's own flags."""
    presets = "\n".join(f"  {name:<18} {desc}" for name, (desc, _) in PRESETS.items())
    command = ConfigCommandLine(
        TrainConfig,
        prog="python -m zip2zip.training",
        description="LoRA continued pretraining on LZW-compressed text (zip2zip), or the uncompressed control.",
        epilog=f"presets:\n{presets}\n\nEvery TrainConfig field is a flag; the defaults shown are those of "
        f"--preset (default {DEFAULT_PRESET}; `--preset NAME --help` shows NAME's). Lists are comma-separated "
        "(--corpora code,math); optional fields take none. Runs under `accelerate launch` / torchrun unchanged.",
        presets=lambda first: PRESETS[first.preset][1],
    )
    command.read_first("--preset", default=DEFAULT_PRESET, choices=list(PRESETS))
    command.add_argument(
        "--no-compression",
        dest="use_compression",
        action="store_false",
        help="continual-pretraining control: same documents and steps, compression off (--use-compression false)",
    )
    command.add_argument("--resume", action="store_true", help="continue from the latest step-* checkpoint")
    command.add_argument("--no-progress", action="store_true", help="no progress bars")
    return command


def parse_command_line(argv: Sequence[str] | None = None) -> tuple[TrainConfig, argparse.Namespace]:
    """The run's config (``--preset`` gives the defaults, flags override them) and the other flags.

    A bad value exits with status 2 and a one-line message, as argparse does, also when the values parse
    but do not form a valid config (e.g. ``warmup_steps >= num_steps``) or name a distillation teacher that
    cannot teach.
    """
    command = build_command_line()
    parsed = command.parse(argv)
    if parsed.config.distill_teacher != "base":
        try:  # a wrong folder is reported now, not after the data and the model are loaded
            read_teacher_config(Path(parsed.config.distill_teacher))
        except ValueError as error:
            command.error(str(error))
    return parsed.config, parsed.args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    config, args = parse_command_line(argv)
    log = run(config, resume=args.resume, show_progress=not args.no_progress)
    summary = log.get("summary")
    if summary:
        h = summary["final_heldout"]
        print(
            f"{config.preset}{'' if config.use_compression else ' (no compression)'}: held-out lm_loss "
            f"{h['lm_loss']:.4f} nats/code, {h['nll_per_base_token']:.4f} nats/base token, recon acc "
            f"{h['reconstruction_accuracy']}; {summary['train_codes_per_s']:.1f} codes/s, "
            f"{summary['train_base_tokens_per_s']:.1f} base tokens/s -> {config.resolved_output_dir()}",
            file=sys.stderr,
        )
    return log


if __name__ == "__main__":
    main()
