"""The command line of ``python -m zip2zip.training``: a flag per ``TrainConfig`` field, ``--preset`` for the
defaults, ``--resume`` and ``--no-progress``; ``main`` runs ``loop.run`` and prints a one-line summary.

Parsing only: what a run does is ``loop``'s job.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import sys
import typing
from collections.abc import Sequence
from typing import Any

from transformers import HfArgumentParser
from transformers.hf_argparser import DataClassType, string_to_bool

from zip2zip.training.config import PRESETS, TrainConfig
from zip2zip.training.loop import run

DEFAULT_PRESET = "smollm2-cpu"


class _ArgumentParser(HfArgumentParser):
    """Errors in one line: the usage of ~60 flags, which argparse prints first, would bury the message."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Every flag's default after its help; the preset list in the epilog keeps its line breaks."""


def _parse_value(kind: Any, text: str) -> Any:
    """``text`` as a value of the field type ``kind``: ``none`` for an optional field, a comma-separated
    list for a tuple, true/false (yes/no, 1/0) for a bool. Example: ``tuple[float, ...] | None``,
    ``"2,1"`` -> ``(2.0, 1.0)``."""
    args = typing.get_args(kind)
    if type(None) in args:
        if text.lower() == "none":
            return None
        kind = next(a for a in args if a is not type(None))
    if typing.get_origin(kind) is tuple:
        return tuple(_parse_value(typing.get_args(kind)[0], item) for item in text.split(",") if item)
    if kind is bool:
        return string_to_bool(text)
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: {text!r}") from None


def build_parser(preset: str = DEFAULT_PRESET) -> HfArgumentParser:
    """A flag per ``TrainConfig`` field (HfArgumentParser), defaulting to ``preset``'s value.

    HfArgumentParser types an ``X | None`` field as ``X`` and a tuple as a string's characters, so those
    flags get ``_parse_value`` (``none``, comma-separated lists); a bool field also gets ``--no-<flag>``.
    """
    presets = "\n".join(f"  {name:<18} {desc}" for name, (desc, _) in PRESETS.items())
    parser = _ArgumentParser(
        DataClassType(TrainConfig),
        prog="python -m zip2zip.training",
        description="LoRA continued pretraining on LZW-compressed text (zip2zip), or the uncompressed control.",
        epilog=f"presets:\n{presets}\n\nEvery TrainConfig field is a flag; the defaults shown are those of "
        f"--preset (default {DEFAULT_PRESET}; `--preset NAME --help` shows NAME's). Lists are comma-separated "
        "(--corpora code,math); optional fields take none. Runs under `accelerate launch` / torchrun unchanged.",
        formatter_class=_HelpFormatter,
    )
    hints = typing.get_type_hints(TrainConfig)
    for action in parser._actions:  # argparse has no public accessor for its actions
        kind = hints.get(action.dest)
        if action.dest == "preset":
            action.choices = list(PRESETS)
        elif action.type is not None and (
            type(None) in typing.get_args(kind) or typing.get_origin(kind) is tuple
        ):
            action.type = functools.partial(_parse_value, kind)
    for f in dataclasses.fields(TrainConfig):  # HfArgumentParser adds --no-x only where the default is True
        flag = f.name.replace("_", "-")
        if hints[f.name] is bool and f.default is False:
            parser.add_argument(f"--no-{flag}", dest=f.name, action="store_false", help=f"--{flag} false")
    parser.add_argument(
        "--no-compression",
        dest="use_compression",
        action="store_false",
        help="continual-pretraining control: same documents and steps, compression off (--use-compression false)",
    )
    parser.add_argument("--resume", action="store_true", help="continue from the latest step-* checkpoint")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(**{**dataclasses.asdict(PRESETS[preset][1]), "preset": preset})
    return parser


def parse_command_line(argv: Sequence[str] | None = None) -> tuple[TrainConfig, argparse.Namespace]:
    """The run's config (``--preset`` gives the defaults, flags override them) and the other flags.

    A bad value exits with status 2 and a one-line message, as argparse does, also when the values parse
    but do not form a valid config (e.g. ``warmup_steps >= num_steps``).
    """
    first = argparse.ArgumentParser(add_help=False)
    first.add_argument("--preset", default=DEFAULT_PRESET)
    preset = first.parse_known_args(argv)[0].preset
    parser = build_parser(preset if preset in PRESETS else DEFAULT_PRESET)  # the full parser names a typo
    args = parser.parse_args(argv)
    try:
        config = TrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)})
    except ValueError as error:
        parser.error(str(error))
    return config, args


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
