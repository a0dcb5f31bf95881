"""What a checkpoint folder holds once read and checked, ours or the authors': the model builds itself from it.

Persistence (``checkpoint``, ``upstream_checkpoint``) reads files into these parts and never constructs the
model; ``Zip2ZipForCausalLM.from_pretrained`` builds the model from them. So imports run one way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import nn

from zip2zip.modeling.config import Zip2ZipConfig


@dataclass(frozen=True)
class CheckpointParts:
    config: Zip2ZipConfig
    config_file: Path  # where the config was read from, for errors
    base_model: nn.Module  # the base causal LM, with the checkpoint's LoRA adapter applied if it has one
    encoder_file: Path | None = None  # the trained hyper-encoders; None when there are none (compression off)
    # The authors' tied layout: the file holds one weight set (input_encoder.*) that both tables run through.
    one_encoder_weight_set: bool = False
    encoder_description: str = "this model's encoders"  # what the file must match, for errors
    encoder_hint: str = ""  # the likely cause of a mismatch, for errors
