"""Online-compressed generation: ``prefill``, ``decode_step`` and ``generate``.

Each batch row has its own streaming LZW decoder (``zip2zip.codec.lzw.LZWStream``) and its own slots in a
``HyperCache``. Prefill feeds the compressed prompt to the streams, encodes the output-side vectors of
every entry the prompt created (one batched encoder call) and the input-side vectors of the hypertokens
the prompt actually uses, then runs the base model once. Each step then: picks one id per row from the
joint vocabulary (one device->host read, the only sync), feeds it to the row's stream, encodes just the
entries that step created (output side, batched over rows) and any hypertoken read as input for the
first time (input side), and runs one decoder step with the KV cache.

Positions follow ``position_mode`` (``modeling.positions``): ``compressed`` counts steps; ``base_token_end``
(the authors' zip2zip++) puts a code at its last base token: a step at the row's decoded base-token count - 1.

The head never offers the LZW "same-step" code (see ``lm_head.slot_mask_from_positions``; under ``lru``
with a full codebook that is the victim's id, hidden from the head), so every id it can emit already exists
in that row's codebook; the embedding, the head and the stream agree on the live hypertokens at every step.
Under ``lru`` and ``reset`` a step that replaces entries re-encodes just the refilled slots (a reset only
lowers the live count); an id names the entry its slot held when it was read, even if that same step (or,
in a prompt, a later id) replaces it. Batched generation equals per-row generation: rows only share
tensor shapes (left padding is masked out, positions come from the mask, slots are per row).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from transformers import DynamicCache
from transformers.generation.logits_process import (
    LogitsProcessorList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from zip2zip.codec.codebook import Codebook
from zip2zip.codec.lzw import Entry, LZWStream, as_ids
from zip2zip.inference.cache_filling import (
    feed_prompt_id,
    names_live_slot,
    prompt_hyper_embeds,
    read_entry,
    refill_row,
    same_step_slot,
    write_inputs,
    write_outputs,
)
from zip2zip.inference.canonical import CanonicalTracker, mask_impossible
from zip2zip.inference.decoding import DecodingConfig, GenerationConfigLike, as_decoding_config
from zip2zip.inference.hyper_cache import HyperCache
from zip2zip.inference.tokenization import BaseTokenizer, Zip2ZipTokenizer, as_zip2zip_tokenizer, compress_ids
from zip2zip.modeling.model import Zip2ZipPreTrainedModel


@dataclass
class DecodeState:
    """Everything a decoding step carries over from the previous one."""

    streams: list[LZWStream]
    hyper_cache: HyperCache
    past_key_values: DynamicCache
    attention_mask: torch.Tensor  # [B, capacity]: prompt mask then ones for generated steps
    length: int  # columns of attention_mask in use
    next_positions: torch.Tensor  # [B] position id of the next input (``compressed`` positions)
    is_active: list[bool]  # rows whose stream still takes ids (finished rows are fed pad)
    num_prompt_entries: list[int] = field(default_factory=list)
    num_prompt_base_tokens: list[int] = field(default_factory=list)


@dataclass
class GeneratedRow:
    """One row's generation: ids, text, final codebook and counts (prompt excluded unless named)."""

    base_ids: list[int]
    text: str | None
    compressed_ids: list[int]  # one id per model step
    codebook: Codebook  # after generation (prompt entries first)
    finish_reason: str  # "eos", "stop_string" or "length"
    num_prompt_base_tokens: int
    num_prompt_codes: int
    num_steps: int
    num_base_tokens: int
    num_hypertokens_emitted: int  # steps whose id was a hypertoken
    num_distinct_hypertokens_emitted: int  # distinct entries reused by the model
    num_hypertokens_created: int  # entries created during generation


@dataclass
class GenerationOutput:
    rows: list[GeneratedRow]

    @property
    def texts(self) -> list[str | None]:
        return [r.text for r in self.rows]


# ----------------------------------------------------------------------------------- prefill / step
@torch.no_grad()
def prefill(
    model: Zip2ZipPreTrainedModel, prompts: Sequence[Sequence[int]], *, max_new_steps: int
) -> tuple[torch.Tensor, DecodeState]:
    """Run compressed prompts (one list of codes per row, unpadded) -> next-id logits ``[B, V + C]``.

    The batch is left-padded internally; ``max_new_steps`` sizes the attention-mask buffer.
    """
    comp = model.compression
    v = comp.initial_vocab_size
    if not prompts or any(len(p) == 0 for p in prompts):
        raise ValueError("every prompt needs at least one id (e.g. the BOS id); got an empty batch or row")
    weight = model.input_embeddings.weight
    prompts = [as_ids(codes, f"prompts[{row}]") for row, codes in enumerate(prompts)]
    streams = [LZWStream(comp) for _ in prompts]
    reads = [
        [feed_prompt_id(stream, code, v) for code in codes]
        for stream, codes in zip(streams, prompts, strict=True)
    ]
    cache = HyperCache(
        batch_size=len(prompts),
        max_codebook_size=comp.max_codebook_size,
        hidden_size=model.config.hidden_size,
        dtype=weight.dtype,
        device=weight.device,
    )
    new = [(row, k, e) for row, stream in enumerate(streams) for k, e in enumerate(stream.entries)]
    for row, stream in enumerate(streams):
        cache.set_live(row, stream.num_entries, [])
        cache.blocked_slots[row] = same_step_slot(stream, v)
    write_outputs(model, cache, new)
    b, length = len(prompts), max(len(p) for p in prompts)
    ids = torch.full((b, length), comp.pad_token_id, dtype=torch.long)
    mask = torch.ones((b, length + max_new_steps), dtype=torch.long)
    for row, codes in enumerate(prompts):
        ids[row, length - len(codes) :] = torch.tensor(list(codes), dtype=torch.long)
        mask[row, : length - len(codes)] = 0
    hyper_embeds = prompt_hyper_embeds(model, cache, streams, prompts, reads, ids)
    position_ids = _prompt_position_ids(model, prompts, reads, mask[:, :length])  # [B, L]
    ids, mask, position_ids = ids.to(weight.device), mask.to(weight.device), position_ids.to(weight.device)
    past = DynamicCache(config=model.causal_lm.config)
    hidden = model.run_decoder(
        model.embed(ids, hyper_embeds),
        attention_mask=mask[:, :length],
        position_ids=position_ids,
        past_key_values=past,
    )
    # head rows beyond the tokenizer (kept for the authors' checkpoints) are never emitted
    logits = model.logits(hidden[:, -1:], cache.output_view(), cache.slot_mask())[
        :, 0, : comp.total_vocab_size
    ]
    state = DecodeState(
        streams=streams,
        hyper_cache=cache,
        past_key_values=past,
        attention_mask=mask,
        length=length,
        next_positions=position_ids[:, -1] + 1,
        is_active=[True] * b,
        num_prompt_entries=[len(s.history) for s in streams],
        num_prompt_base_tokens=[len(s.base_ids) for s in streams],
    )
    return logits, state


def _prompt_position_ids(
    model: Zip2ZipPreTrainedModel,
    prompts: Sequence[Sequence[int]],
    reads: list[list[Entry | None]],
    mask: torch.Tensor,
) -> torch.Tensor:
    """Positions ``[B, L]`` of the left-padded prompts as ``model.forward`` gives them (padding at 0)."""
    if model.config.position_mode == "compressed":
        return (mask.cumsum(-1) - 1).clamp_min(0)
    positions = torch.zeros_like(mask)
    for row, codes in enumerate(prompts):  # a hypertoken spans the entry it named when read
        spans = [1 if entry is None else len(entry) for entry in reads[row]]
        positions[row, mask.shape[1] - len(codes) :] = torch.tensor(spans).cumsum(0) - 1
    return positions  # [B, L]


def _step_position_ids(model: Zip2ZipPreTrainedModel, state: DecodeState) -> torch.Tensor:
    """``[B, 1]`` positions of the ids a step feeds (already fed to the streams); advances the state."""
    if model.config.position_mode == "compressed":
        positions = state.next_positions
    else:  # the fed code ends at the row's last decoded base token
        counts = [len(s.base_ids) for s in state.streams]
        positions = torch.tensor(counts, device=state.next_positions.device) - 1
    state.next_positions = positions + 1
    return positions[:, None]


def _check_step(state: DecodeState, ids: Sequence[int]) -> None:
    """Refuse a step before any row moves: one id per row, room in the mask, and every active row's id
    existing in that row's codebook. Feeding row by row and failing on a later row would leave the earlier
    rows' streams one id ahead of their KV cache (and of a prefill of the accepted ids)."""
    if len(ids) != len(state.streams):
        raise ValueError(f"decode_step got {len(ids)} ids for a batch of {len(state.streams)}")
    if state.length >= state.attention_mask.shape[1]:
        raise ValueError(
            f"more decode steps than prefill(max_new_steps=...) allowed ({state.length} columns)"
        )
    for row, code in enumerate(ids):
        if state.is_active[row]:
            try:
                state.streams[row].expand(code)  # side-effect free; raises as feed would
            except (TypeError, ValueError) as error:
                raise type(error)(f"decode_step: row {row}: {error}") from None


def feed_streams(
    model: Zip2ZipPreTrainedModel, state: DecodeState, ids: Sequence[int]
) -> tuple[list[tuple[int, int, Entry]], list[tuple[int, int, Entry]]]:
    """Host half of a step: feed each active row's id to its stream; return (new entries, inputs to encode).

    The whole step is checked first (``_check_step``): a refused step leaves the state exactly as it was."""
    _check_step(state, ids)
    v = model.compression.initial_vocab_size
    cache = state.hyper_cache
    cache.reads_replaced_entry[:] = False
    new: list[tuple[int, int, Entry]] = []
    needed: list[tuple[int, int, Entry]] = []
    for row, code in enumerate(ids):
        if not state.is_active[row]:
            continue
        stream = state.streams[row]
        read = read_entry(stream, code, v)
        new.extend(refill_row(cache, row, stream, stream.feed(code), v))
        if read is None:
            continue
        if not names_live_slot(stream, code - v, read):  # this very step replaced or dropped it
            cache.reads_replaced_entry[row] = True
            needed.append((row, cache.replaced_entry_slot, read))
        elif not cache.is_input_encoded[row, code - v]:
            needed.append((row, code - v, read))
    return new, needed


@torch.no_grad()
def encode_step_entries(
    model: Zip2ZipPreTrainedModel,
    state: DecodeState,
    new: list[tuple[int, int, Entry]],
    needed: list[tuple[int, int, Entry]],
) -> list[int]:
    """Encoder part of a step: output side of the new entries, input side of first-time reads. Returns the
    entries each encoder pass encoded (a pass per side with any)."""
    passes = [write_outputs(model, state.hyper_cache, new), write_inputs(model, state.hyper_cache, needed)]
    return [n for n in passes if n]


@torch.no_grad()
def run_step(model: Zip2ZipPreTrainedModel, state: DecodeState, ids: Sequence[int]) -> torch.Tensor:
    """Model part of a step (embedding, decoder with KV cache, joint head) -> ``[B, V + C]``. ``ids`` must
    have been fed to the streams (``feed_streams``, which also checked that the mask has room for them):
    ``base_token_end`` positions are read from the streams."""
    cache = state.hyper_cache
    pad, v = model.compression.pad_token_id, model.compression.initial_vocab_size
    replaced = v + cache.replaced_entry_slot  # the id under which a row reads its replaced-entry slot
    step_ids = torch.tensor(
        [
            [replaced if is_replaced else code if active else pad]
            for code, active, is_replaced in zip(
                ids, state.is_active, cache.reads_replaced_entry, strict=True
            )
        ],
        device=cache.input_embeds.device,
    )  # [B, 1]
    state.length += 1
    reads_hyper = any(code >= v for code in ids)  # host-side check
    hidden = model.run_decoder(
        model.embed(step_ids, cache.input_embeds if reads_hyper else None),
        attention_mask=state.attention_mask[:, : state.length],
        position_ids=_step_position_ids(model, state),
        past_key_values=state.past_key_values,
    )
    return model.logits(hidden, cache.output_view(), cache.slot_mask())[
        :, 0, : model.compression.total_vocab_size
    ]


def forward_step(
    model: Zip2ZipPreTrainedModel,
    state: DecodeState,
    ids: Sequence[int],
    new: list[tuple[int, int, Entry]],
    needed: list[tuple[int, int, Entry]],
) -> torch.Tensor:
    """Device half of a step: encode what ``feed_streams`` found, run one decoder step -> ``[B, V + C]``."""
    encode_step_entries(model, state, new, needed)
    return run_step(model, state, ids)


def decode_step(model: Zip2ZipPreTrainedModel, state: DecodeState, ids: Sequence[int]) -> torch.Tensor:
    """Feed one id per row (ignored for inactive rows) and return the next logits ``[B, V + C]``.

    A step the state cannot take (wrong number of ids, no room left, an id a row's codebook does not hold
    yet) raises before any row moves, naming the row and the id; the state is then as before the call."""
    new, needed = feed_streams(model, state, ids)
    return forward_step(model, state, ids, new, needed)


# ----------------------------------------------------------------------------------- sampling
def _warpers(config: DecodingConfig) -> LogitsProcessorList:
    warpers = LogitsProcessorList()
    if config.do_sample:
        if config.temperature != 1.0:
            warpers.append(TemperatureLogitsWarper(config.temperature))
        if config.top_k is not None:
            warpers.append(TopKLogitsWarper(config.top_k))
        if config.top_p is not None and config.top_p < 1.0:
            warpers.append(TopPLogitsWarper(config.top_p))
    return warpers


def select_next(
    logits: torch.Tensor,
    config: DecodingConfig,
    warpers: LogitsProcessorList,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """``[B, V + C]`` -> ``[B]`` ids: argmax, or a sample after temperature/top-k/top-p (HF warpers)."""
    if not config.do_sample:
        return logits.argmax(dim=-1)
    scores = warpers(None, logits.float())  # type: ignore[arg-type]  # these warpers ignore input_ids
    probs = torch.softmax(scores, dim=-1)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]


# ----------------------------------------------------------------------------------- generate
def _eos_ids(
    model: Zip2ZipPreTrainedModel, tokenizer: Zip2ZipTokenizer | None, config: DecodingConfig
) -> set[int]:
    if config.eos_token_ids is not None:
        return set(config.eos_token_ids)
    ids: set[int] = set()
    if tokenizer is not None and tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    gen_config = getattr(model.causal_lm, "generation_config", None)
    eos = getattr(gen_config, "eos_token_id", None)
    if eos is not None:
        ids.update([eos] if isinstance(eos, int) else eos)
    return {i for i in ids if i < model.compression.initial_vocab_size}


def _as_batch(prompts: str | Sequence[Any]) -> Sequence[Any]:
    """A lone prompt (text, or ids incl. a 1-D array) as a batch of one; a batch as it is. Any scalar
    first item means ids, so ``[1.5, 2]`` is one prompt whose float is rejected, not a batch of floats."""
    if isinstance(prompts, str) or (
        len(prompts) and not isinstance(prompts[0], str) and np.ndim(prompts[0]) == 0
    ):
        return [prompts]
    return prompts


def generate(
    model: Zip2ZipPreTrainedModel,
    prompts: str | Sequence[str] | Sequence[Sequence[int]],
    *,
    tokenizer: Zip2ZipTokenizer | BaseTokenizer | None = None,
    config: DecodingConfig | GenerationConfigLike | None = None,
    add_special_tokens: bool = True,
) -> GenerationOutput:
    """Generate from text prompts (needs ``tokenizer``) or base-id prompts, batched and left-padded.

    ``tokenizer`` may be the base Hugging Face tokenizer (wrapped with the model's compression settings)
    and ``config`` a ``transformers.GenerationConfig`` (see ``decoding.decoding_config_from_hf``).

    Returns per row the generated base ids, their text (if a tokenizer is given), the ids the model
    emitted, the final codebook and counts. EOS ids come from ``config``, else the tokenizer and the
    base model's generation config; EOS is never inside a hypertoken (special ids are disabled).
    Greedy output does not depend on the batch it runs in; sampling draws from one seeded generator
    for the whole batch, so sampled rows depend on the batch composition.
    """
    config = as_decoding_config(config)
    comp = model.compression
    tokenizer = as_zip2zip_tokenizer(
        tokenizer, comp, allow_unused_base_ids=model.config.vocab_may_exceed_tokenizer
    )
    if tokenizer is not None and tokenizer.compression != comp:
        raise ValueError(
            "tokenizer/model mismatch: the tokenizer's compression config "
            f"{tokenizer.compression.to_dict()} differs from the model's {comp.to_dict()}"
        )
    base_prompts = _base_prompts(prompts, tokenizer, add_special_tokens=add_special_tokens)
    codes = [compress_ids(p, comp).ids for p in base_prompts]
    logits, state = prefill(model, codes, max_new_steps=config.max_new_tokens)
    emitted, reasons = _decode(model, state, logits, tokenizer=tokenizer, config=config)
    return GenerationOutput(
        [
            _row_result(model, state, r, emitted[r], reasons[r], codes[r], tokenizer, config)
            for r in range(len(codes))
        ]
    )


def _base_prompts(
    prompts: str | Sequence[str] | Sequence[Sequence[int]],
    tokenizer: Zip2ZipTokenizer | None,
    *,
    add_special_tokens: bool,
) -> list[list[int]]:
    """Every prompt as base ids: text through ``tokenizer`` (required then), id lists checked as they are."""
    base_prompts: list[list[int]] = []
    for prompt in _as_batch(prompts):
        if isinstance(prompt, str):
            if tokenizer is None:
                raise ValueError("text prompts need tokenizer=Zip2ZipTokenizer(...); or pass base ids")
            base_prompts.append(tokenizer.encode_base(prompt, add_special_tokens=add_special_tokens))
        else:
            base_prompts.append(as_ids(prompt, f"prompts[{len(base_prompts)}]"))
    return base_prompts


def _decode(
    model: Zip2ZipPreTrainedModel,
    state: DecodeState,
    logits: torch.Tensor,
    *,
    tokenizer: Zip2ZipTokenizer | None,
    config: DecodingConfig,
) -> tuple[list[list[int]], list[str]]:
    """Decode steps after the prefill's ``logits`` until every row stops: per row its ids and why it stopped."""
    eos = set() if config.ignore_eos else _eos_ids(model, tokenizer, config)
    warpers = _warpers(config)
    generator = None
    if config.do_sample:
        generator = torch.Generator(device=logits.device).manual_seed(config.seed)
    b = len(state.streams)
    emitted: list[list[int]] = [[] for _ in range(b)]
    reasons = ["length"] * b
    trackers = [CanonicalTracker(stream) for stream in state.streams] if config.canonical else None
    for _ in range(config.max_new_tokens):
        if trackers is not None:
            logits = mask_impossible(logits, trackers, state.is_active)
        next_ids = select_next(logits, config, warpers, generator).tolist()  # the one host sync per step
        new, needed = feed_streams(model, state, next_ids)
        for row, code in enumerate(next_ids):
            if not state.is_active[row]:
                continue
            emitted[row].append(code)
            reason = _finish_reason(
                state.streams[row],
                state.num_prompt_base_tokens[row],
                code,
                len(emitted[row]),
                eos,
                config,
                tokenizer,
            )
            if reason is not None:
                reasons[row] = reason
                state.is_active[row] = False
        if not any(state.is_active):
            break
        logits = forward_step(model, state, next_ids, new, needed)
    return emitted, reasons


def _finish_reason(
    stream: LZWStream,
    num_prompt_base: int,
    code: int,
    num_steps: int,
    eos: set[int],
    config: DecodingConfig,
    tokenizer: Zip2ZipTokenizer | None,
) -> str | None:
    if code in eos:
        return "eos"
    if config.stop_strings:
        if tokenizer is None:
            raise ValueError("stop_strings need a tokenizer to turn ids into text")
        text = tokenizer.decode_base(stream.base_ids[num_prompt_base:])
        if any(s in text for s in config.stop_strings):
            return "stop_string"
    done = num_steps if config.budget_unit == "steps" else len(stream.base_ids) - num_prompt_base
    return "length" if done >= config.max_new_tokens else None


def _row_result(
    model: Zip2ZipPreTrainedModel,
    state: DecodeState,
    row: int,
    emitted: list[int],
    reason: str,
    prompt_codes: list[int],
    tokenizer: Zip2ZipTokenizer | None,
    config: DecodingConfig,
) -> GeneratedRow:
    stream = state.streams[row]
    v = model.compression.initial_vocab_size
    base_ids = stream.base_ids[state.num_prompt_base_tokens[row] :]
    if config.budget_unit == "base_tokens":
        base_ids = base_ids[: config.max_new_tokens]
    hyper = [c for c in emitted if c >= v]
    return GeneratedRow(
        base_ids=base_ids,
        text=None if tokenizer is None else tokenizer.decode_base(base_ids, skip_special_tokens=True),
        compressed_ids=emitted,
        codebook=Codebook.from_entries(model.compression, list(stream.entries)),
        finish_reason=reason,
        num_prompt_base_tokens=state.num_prompt_base_tokens[row],
        num_prompt_codes=len(prompt_codes),
        num_steps=len(emitted),
        num_base_tokens=len(base_ids),
        num_hypertokens_emitted=len(hyper),
        num_distinct_hypertokens_emitted=len(set(hyper)),
        num_hypertokens_created=stream.num_entries - state.num_prompt_entries[row],
    )
