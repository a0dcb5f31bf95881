"""``zip2zip.Zip2ZipForCausalLM``: the model class plus ``generate`` as transformers users call it.

``model.generate(**tokenizer(texts, return_tensors="pt", padding=True), max_new_tokens=20)`` returns, like
a transformers causal LM, one row per prompt holding the prompt ids as given followed by the new base ids
(decompressed: hypertokens are expanded), right-padded with the pad id. The compressed decoding itself
is ``generation.generate``; this module only translates tensors and options. The class lives here, one
layer above ``modeling.model``, because generation sits above the model.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from zip2zip.inference.base_ids_forward import forward_base_ids
from zip2zip.inference.decoding import GenerationConfigLike, decoding_config_from_hf
from zip2zip.inference.generation import generate
from zip2zip.inference.tokenization import BaseTokenizer, Zip2ZipTokenizer
from zip2zip.modeling import model


class Zip2ZipForCausalLM(model.Zip2ZipPreTrainedModel):
    """A base causal LM plus hyper-encoders (see ``zip2zip.modeling.model``), with transformers-style
    ``forward`` on base ids and ``generate``."""

    def forward(  # type: ignore[override]  # codebook_table becomes optional: base ids are compressed inside
        self,
        input_ids: torch.Tensor,
        codebook_table: torch.Tensor | None = None,
        *,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **compressed_options: Any,
    ) -> model.Zip2ZipOutput:
        """Without ``codebook_table``: ``input_ids`` are base ids, compressed here, and ``labels`` follow
        transformers (``input_ids`` with -100 on a prompt); ``loss`` is in nats per base token, so
        ``exp(loss)`` compares with the base model's perplexity (``base_ids_forward``). With it: the
        compressed-code pass of ``Zip2ZipPreTrainedModel.forward``."""
        if codebook_table is not None:
            return super().forward(
                input_ids, codebook_table, attention_mask=attention_mask, labels=labels, **compressed_options
            )
        if compressed_options:
            raise TypeError(
                f"{', '.join(sorted(compressed_options))}: options of compressed inputs (pass codebook_table=)"
            )
        return forward_base_ids(self, input_ids, attention_mask, labels)

    @torch.no_grad()
    def generate(
        self,
        inputs: torch.Tensor | None = None,
        generation_config: GenerationConfigLike | None = None,
        *,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        tokenizer: Zip2ZipTokenizer | BaseTokenizer | None = None,
        pad_token_id: int | None = None,
        **options: Any,
    ) -> torch.Tensor:
        """Prompt base ids ``[B, T]`` (any padding side, marked by ``attention_mask``) -> ``[B, T + N]`` ids.

        Options as in transformers (``max_new_tokens``, ``do_sample``, ``temperature``, ``top_k``,
        ``top_p``, ``eos_token_id``, ``stop_strings`` with ``tokenizer=``, or a ``GenerationConfig``);
        any other option raises ValueError naming it. Without ``max_new_tokens`` (here or in the
        ``GenerationConfig``) up to 128 base tokens are generated (``DecodingConfig``'s default). Sampling draws its seed from torch's global
        generator, so ``torch.manual_seed`` makes it repeatable as it does for transformers models.
        """
        ids = _prompt_ids(inputs, input_ids)  # [B, T]
        mask = torch.ones_like(ids) if attention_mask is None else attention_mask.to(ids.device)
        if token_type_ids is not None and bool(token_type_ids.any()):
            raise ValueError("token_type_ids other than 0 mean nothing to a causal LM; drop them")
        if mask.shape != ids.shape:
            raise ValueError(
                f"attention_mask {tuple(mask.shape)} does not match input_ids {tuple(ids.shape)}"
            )
        config = decoding_config_from_hf(generation_config, options)
        if config.do_sample:  # transformers samples from torch's global generator; so does this seed
            config = dataclasses.replace(config, seed=int(torch.randint(0, 2**31 - 1, ())))
        prompts = [row[keep.bool()].tolist() for row, keep in zip(ids, mask, strict=True)]
        rows = generate(self, prompts, tokenizer=tokenizer, config=config).rows
        pad = _pad_id(pad_token_id, generation_config, tokenizer, self.compression.pad_token_id)
        width = ids.shape[1] + max(len(row.base_ids) for row in rows)
        out = ids.new_full((ids.shape[0], width), pad)  # [B, T + N]
        out[:, : ids.shape[1]] = ids
        for r, row in enumerate(rows):
            out[r, ids.shape[1] : ids.shape[1] + len(row.base_ids)] = torch.tensor(
                row.base_ids, device=out.device
            )
        return out


def _prompt_ids(inputs: torch.Tensor | None, input_ids: torch.Tensor | None) -> torch.Tensor:
    if (inputs is None) == (input_ids is None):
        raise TypeError("pass the prompt ids once: generate(input_ids) or generate(input_ids=...)")
    ids = inputs if inputs is not None else input_ids
    if (
        not isinstance(ids, torch.Tensor)
        or ids.dtype not in (torch.int32, torch.int64)
        or ids.ndim not in (1, 2)
    ):
        raise TypeError(
            "input_ids must be an integer tensor [batch, length] (tokenizer(..., return_tensors='pt')); "
            "for text or id lists use zip2zip.generate"
        )
    return ids.long().reshape(-1, ids.shape[-1])


def _pad_id(
    pad_token_id: int | None,
    generation_config: GenerationConfigLike | None,
    tokenizer: Zip2ZipTokenizer | BaseTokenizer | None,
    default: int,
) -> int:
    """The id filling finished rows: given, else the generation config's, the tokenizer's, the codec's."""
    candidates = (
        pad_token_id,
        getattr(generation_config, "pad_token_id", None),
        getattr(tokenizer, "pad_token_id", None),
    )
    return next((int(c) for c in candidates if c is not None), default)
