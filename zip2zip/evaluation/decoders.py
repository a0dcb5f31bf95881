"""The two decoders timed benchmarks hand to :func:`zip2zip.evaluation.timing.time_decode`: the bare HF causal LM
and ``Zip2ZipForCausalLM``. Both do the same work per step: argmax over the last logits (the one
device->host read per step), optionally replaced by a forced id per row (EOS is never checked), one
forward of the whole batch with the KV cache. Clock, sync and step counting live in ``time_decode``;
nothing here reads the clock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from transformers import DynamicCache

from zip2zip.inference.generation import DecodeState, encode_step_entries, feed_streams, prefill, run_step
from zip2zip.modeling.model import Zip2ZipPreTrainedModel, kv_cache_keyword


class _Decoder:
    """What both decoders share: the batch of prompts, the step limit and how a step picks its ids."""

    def __init__(
        self, prompts: Sequence[Sequence[int]], *, max_steps: int, forced: Sequence[Sequence[int]] | None
    ) -> None:
        if forced is not None and (
            len(forced) != len(prompts) or any(len(row) < max_steps for row in forced)
        ):
            raise ValueError(
                f"forced ids: need {len(prompts)} rows of >= {max_steps} ids (max_steps), "
                f"got row lengths {[len(row) for row in forced]}"
            )
        self._prompts = prompts
        self._max_steps = max_steps
        self._forced = forced
        self._logits = torch.empty(0)  # [B, vocab] after each forward

    @property
    def batch_size(self) -> int:
        return len(self._prompts)

    @property
    def max_steps(self) -> int:
        return self._max_steps

    def _select(self, index: int) -> list[int]:
        """One id per row: the argmax, or the forced id of step ``index`` (the argmax is taken either way)."""
        chosen = self._logits.argmax(-1).tolist()  # [B]: the one device->host read per step
        return chosen if self._forced is None else [row[index] for row in self._forced]

    def is_done(self) -> bool:
        return False


class BaseDecoder(_Decoder):
    """Bare causal LM: prefill equal-length base-id prompts, then one base id per row per step."""

    def __init__(
        self,
        model: Any,
        prompts: Sequence[Sequence[int]],
        *,
        max_steps: int,
        forced: Sequence[Sequence[int]] | None = None,
    ) -> None:
        super().__init__(prompts, max_steps=max_steps, forced=forced)
        device = model.device
        self._model = model
        self._prompt_ids = torch.tensor(prompts, device=device)  # [B, P]
        batch_size, self._length = self._prompt_ids.shape
        num_columns = self._length + max_steps
        self._mask = torch.ones((batch_size, num_columns), dtype=torch.long, device=device)  # [B, P + K]
        self._prompt_positions = torch.arange(self._length, device=device).expand(batch_size, -1)  # [B, P]
        self._next_positions = self._prompt_positions[:, -1:] + 1  # [B, 1]
        self._cache: DynamicCache | None = None
        self._num_columns = 0  # ids in the cache after the current forward
        self.emitted_ids: list[list[int]] = [[] for _ in range(batch_size)]  # row -> ids fed so far

    @torch.no_grad()
    def _forward(self, ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """One forward of ``ids`` ``[B, n]`` appended to the cache -> last logits ``[B, V]``."""
        self._num_columns += ids.shape[1]
        out = self._model(
            input_ids=ids,
            attention_mask=self._mask[:, : self._num_columns],
            position_ids=positions,
            use_cache=True,
            logits_to_keep=1,
            **{kv_cache_keyword(type(self._model)): self._cache},
        )
        return out.logits[:, -1]  # [B, V]

    def prefill(self) -> None:
        self._cache = DynamicCache(config=self._model.config)
        self._num_columns = 0
        self._next_positions = self._prompt_positions[:, -1:] + 1
        self.emitted_ids = [[] for _ in range(self.batch_size)]
        self._logits = self._forward(self._prompt_ids, self._prompt_positions)

    def step(self, index: int, lap: Callable[[str], None]) -> None:
        ids = self._select(index)
        lap("select")
        for row, i in zip(self.emitted_ids, ids, strict=True):
            row.append(i)
        step_ids = torch.tensor(ids, device=self._prompt_ids.device)[:, None]  # [B, 1]
        self._logits = self._forward(step_ids, self._next_positions)
        self._next_positions = self._next_positions + 1
        lap("model")


class Zip2ZipDecoder(_Decoder):
    """``Zip2ZipForCausalLM`` through ``zip2zip.inference.generation``'s step parts: prefill unpadded compressed
    prompts, then one id (base or hyper) per row per step. Laps: select, codec (feeding the streams),
    encoder (new entries), model (embedding + decoder + joint head). With ``base_token_budget`` it is
    done once every row has decoded that many base ids."""

    def __init__(
        self,
        model: Zip2ZipPreTrainedModel,
        prompts: Sequence[Sequence[int]],
        *,
        max_steps: int,
        forced: Sequence[Sequence[int]] | None = None,
        base_token_budget: int | None = None,
    ) -> None:
        super().__init__(prompts, max_steps=max_steps, forced=forced)
        self._model = model
        self._budget = base_token_budget
        self._state: DecodeState | None = None
        self.num_hypertokens_fed = 0
        # What the steps cost beyond the base model's, summed over steps: encoder passes (one per side
        # that had entries to encode), entries encoded, and the head's hypertoken columns (the live count
        # of the fullest row, which the joint head scores for every row).
        self.num_encoder_calls = 0
        self.num_entries_encoded = 0
        self.num_head_slots = 0

    @property
    def state(self) -> DecodeState:
        if self._state is None:
            raise ValueError("no decode state before prefill(): run the decoder through time_decode first")
        return self._state

    @property
    def decoded_base_ids(self) -> list[list[int]]:
        """Per row, the base ids decoded after the prompt (a hypertoken counts all its base ids)."""
        state = self.state
        return [s.base_ids[n:] for s, n in zip(state.streams, state.num_prompt_base_tokens, strict=True)]

    @property
    def num_entries_created(self) -> int:
        """Codebook entries created while decoding, summed over rows (evicted or cleared ones included)."""
        state = self.state
        return sum(len(s.history) for s in state.streams) - sum(state.num_prompt_entries)

    @property
    def num_entries_removed(self) -> int:
        """Codebook entries evicted (``lru``) or cleared (``reset``) while decoding, summed over rows."""
        return sum(
            1
            for stream, prompt in zip(self.state.streams, self._prompts, strict=True)
            for record in stream.history
            if record.removed_at is not None and record.removed_at >= len(prompt)
        )

    def prefill(self) -> None:
        self._logits, self._state = prefill(self._model, self._prompts, max_new_steps=self._max_steps)
        self.num_hypertokens_fed = 0
        self.num_encoder_calls = self.num_entries_encoded = self.num_head_slots = 0

    def step(self, index: int, lap: Callable[[str], None]) -> None:
        model, state = self._model, self.state
        ids = self._select(index)
        lap("select")
        new, needed = feed_streams(model, state, ids)
        lap("codec")
        passes = encode_step_entries(model, state, new, needed)
        lap("encoder")
        self._logits = run_step(model, state, ids)
        lap("model")
        self.num_hypertokens_fed += sum(1 for i in ids if i >= model.compression.initial_vocab_size)
        self.num_encoder_calls += len(passes)
        self.num_entries_encoded += sum(passes)
        self.num_head_slots += state.hyper_cache.num_active_slots

    def is_done(self) -> bool:
        if self._budget is None:
            return False
        state = self.state
        return all(
            len(s.base_ids) - n >= self._budget
            for s, n in zip(state.streams, state.num_prompt_base_tokens, strict=True)
        )
