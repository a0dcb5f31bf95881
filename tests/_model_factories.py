"""Tiny random causal LMs built from configs (no downloads) and codec helpers shared by model tests."""

from __future__ import annotations

import torch
from transformers import (
    AutoModelForCausalLM,
    GemmaConfig,
    Phi3Config,
    Qwen2Config,
)

from zip2zip.codec.config import CompressionConfig
from zip2zip.modeling.base_models import TinyLlama
from zip2zip.modeling.config import HyperEncoderConfig
from zip2zip.modeling.model import Zip2ZipPreTrainedModel

# Tiny models gain nothing from intra-op threads, and on a busy 2-core machine two OpenMP threads
# spinning at every op barrier made these tests 6x slower (measured): keep torch single-threaded.
torch.set_num_threads(1)

VOCAB = 96  # base ids the codec knows (V)
MODEL_ROWS = 104  # embedding rows: padded beyond V, like Phi-3.5's 32064 rows for 32011 ids
PAD = 0
EOS = 1

_COMMON = dict(
    vocab_size=MODEL_ROWS,
    hidden_size=64,
    intermediate_size=96,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=256,
    pad_token_id=PAD,
    eos_token_id=EOS,
    bos_token_id=2,
)

ARCHITECTURES = {
    "llama": lambda: TinyLlama(**_COMMON).hf_config(),
    "phi3": lambda: Phi3Config(**_COMMON),
    "qwen2": lambda: Qwen2Config(**_COMMON),
    "gemma": lambda: GemmaConfig(**{**_COMMON, "head_dim": 16}),
}


def tiny_base(
    arch: str = "llama", *, seed: int = 0, tie: bool = False, vocab_size: int = MODEL_ROWS
) -> torch.nn.Module:
    """A random tiny causal LM in eval mode, fp32, with the attention implementation pinned to SDPA."""
    torch.manual_seed(seed)
    config = ARCHITECTURES[arch]()
    config.vocab_size = vocab_size
    config.tie_word_embeddings = tie
    model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa", dtype=torch.float32)
    return model.eval()


def compression(
    *, max_subtokens: int = 3, max_codebook_size: int = 64, codebook_policy: str = "freeze"
) -> CompressionConfig:
    return CompressionConfig(
        initial_vocab_size=VOCAB,
        pad_token_id=PAD,
        max_subtokens=max_subtokens,
        max_codebook_size=max_codebook_size,
        disabled_ids=frozenset({PAD, EOS, 2}),
        codebook_policy=codebook_policy,
    )


def tiny_zip2zip(
    arch: str = "llama",
    *,
    seed: int = 0,
    max_subtokens: int = 3,
    max_codebook_size: int = 64,
    trained: bool = True,
    tie_encoders: bool = False,
    codebook_policy: str = "freeze",
) -> Zip2ZipPreTrainedModel:
    """Tiny wrapper; ``trained=True`` perturbs the zero-initialised ``out_proj`` so encoders matter."""
    base = tiny_base(arch, seed=seed)
    model = Zip2ZipPreTrainedModel.from_base(
        base,
        compression=compression(
            max_subtokens=max_subtokens, max_codebook_size=max_codebook_size, codebook_policy=codebook_policy
        ),
        hyper_encoder=HyperEncoderConfig(num_heads=4),
        tie_encoders=tie_encoders,
    )
    if trained:
        torch.manual_seed(seed + 1)
        with torch.no_grad():
            for p in (model.input_encoder.out_proj.weight, model.output_encoder.out_proj.weight):
                p.normal_(0.0, 0.2)
    return model.eval()


def repetitive_ids(length: int, *, seed: int = 0, alphabet: int = 12) -> list[int]:
    """Base ids drawn from a small alphabet (ids 3..3+alphabet) so LZW finds many repeats."""
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(3, 3 + alphabet, (length,), generator=g)).tolist()


def tiny_tokenizer():  # -> PreTrainedTokenizerFast
    """A word-level tokenizer over the tiny vocabulary: "<pad>"=0, "</s>"=1, "<s>"=2, "w3".."w95"."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": PAD, "</s>": EOS, "<s>": 2, **{f"w{i}": i for i in range(3, VOCAB)}}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<pad>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="</s>", bos_token="<s>"
    )


def words(ids: list[int]) -> str:
    return " ".join(f"w{i}" for i in ids)
