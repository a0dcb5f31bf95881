"""Where a compressed model's loss goes: its code NLL split by first base token, against a teacher's NLL of
the same base tokens (``benchmarks/diagnose.py`` runs it over corpora).

Per compressed step (a position that predicts the next code): the student's code NLL ``-log p(code)`` is
``first + rest``, with ``first = -log q(first base token of the code)`` (``q``: the student's first-token
marginal, ``distillation.first_token_marginal``) and ``rest = -log p(code | its first token)``. The teacher
(an uncompressed model scoring the same base ids) pays ``first`` = its NLL of that first base token and
``rest`` = its NLL of the code's other base tokens. Also KL(teacher's next token || student's first-token
marginal) and both models' NLL over the steps whose target is a hypertoken. All values are sums (nats) over
the steps of one window; ratios are the caller's. Nothing here trains or loads anything.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from zip2zip.codec.lzw_codec import LZWCodec
from zip2zip.modeling.lm_head import slot_mask_from_positions
from zip2zip.modeling.model import IGNORE_INDEX, Zip2ZipPreTrainedModel, check_parallel_policy
from zip2zip.training.distillation import code_text, first_token_kl, first_token_marginal, next_code_windows
from zip2zip.training.loss import TrainBatch, collate_chunks, next_code_targets

# the sums one window contributes (nats, except the counts)
SUMS = (
    "num_steps",
    "num_hypertoken_steps",
    "num_base_tokens",
    "student_code_nll",
    "student_first_nll",
    "teacher_code_nll",
    "teacher_first_nll",
    "first_token_kl",
    "student_hypertoken_nll",
    "teacher_hypertoken_nll",
)


def compress_window(model: Zip2ZipPreTrainedModel, base_ids: Sequence[int]) -> TrainBatch:
    """One window of base ids, LZW-compressed with a fresh codebook under the model's compression."""
    comp = model.compression
    check_parallel_policy(comp)
    encoded = LZWCodec.from_config(comp).encode(np.asarray(base_ids, dtype=np.int64))
    chunk = (encoded.ids, encoded.codebook.table, encoded.entry_positions)
    return collate_chunks([chunk], pad_token_id=comp.pad_token_id, max_subtokens=comp.max_subtokens)


@torch.no_grad()
def student_log_probs(model: Zip2ZipPreTrainedModel, batch: TrainBatch) -> torch.Tensor:
    """The joint log-softmax ``[B, T, V + C]`` the training loss scores (same slot visibility)."""
    v = model.compression.initial_vocab_size
    targets = next_code_targets(batch.input_ids, batch.attention_mask)
    position_ids = (batch.attention_mask.cumsum(-1) - 1).clamp_min(0)
    hyper_in, hyper_out = model.encode_codebook(batch.codebook_table)
    hidden = model.run_decoder(
        model.embed(batch.input_ids, hyper_in), attention_mask=batch.attention_mask, position_ids=position_ids
    )
    slot_mask = slot_mask_from_positions(
        batch.entry_positions, batch.input_ids.shape[1], targets=targets, initial_vocab_size=v
    )
    return torch.log_softmax(model.logits(hidden, hyper_out, slot_mask).float(), dim=-1)


@torch.no_grad()
def teacher_log_probs_over(
    model: Zip2ZipPreTrainedModel, base_ids: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """An uncompressed model's next-base-token log-probabilities at every base position ``[B, N, V]``."""
    v = model.compression.initial_vocab_size
    position_ids = (mask.cumsum(-1) - 1).clamp_min(0)
    hidden = model.run_decoder(
        model.input_embeddings(base_ids), attention_mask=mask, position_ids=position_ids
    )
    return torch.log_softmax(model.logits(hidden, None, None)[..., :v].float(), dim=-1)


def diagnose_window(
    student: Zip2ZipPreTrainedModel, teacher: Zip2ZipPreTrainedModel, base_ids: Sequence[int]
) -> dict[str, float]:
    """The ``SUMS`` of one window of base ids (at least 2): student compressed, teacher uncompressed."""
    if len(base_ids) < 2:
        raise ValueError(f"a window of {len(base_ids)} base ids has no step to score; pass at least 2")
    v = student.compression.initial_vocab_size
    if teacher.compression.initial_vocab_size != v:
        raise ValueError("student and teacher must share the base vocabulary (the same base model)")
    batch = compress_window(student, base_ids)
    log_probs = student_log_probs(student, batch)  # [1, T, V + C]
    table = batch.codebook_table
    text = code_text(batch.input_ids, batch.attention_mask, table, v=v, pad=student.compression.pad_token_id)
    teacher_lp = teacher_log_probs_over(teacher, text.base_ids, text.base_mask)  # [1, N, V]
    starts, window = next_code_windows(text, table.shape[-1])  # [1, T], [1, T, M]
    targets = next_code_targets(batch.input_ids, batch.attention_mask)
    scored = targets != IGNORE_INDEX
    code_nll = -log_probs.gather(-1, targets.clamp_min(0)[..., None]).squeeze(-1)
    probs = log_probs.exp()
    first = window[..., 0].clamp_min(0)
    first_nll = -first_token_marginal(probs, table, v=v).gather(-1, first[..., None]).squeeze(-1).log()
    before_start = teacher_lp.gather(
        1, (starts - 1).clamp(0, teacher_lp.shape[1] - 1)[..., None].expand(-1, -1, v)
    )
    kl = first_token_kl(probs, before_start, table, v=v)
    # teacher NLL of base token p (p >= 1) given 0..p-1, and of each code's tokens via prefix sums
    token_nll = -teacher_lp[:, :-1].gather(-1, text.base_ids[:, 1:, None]).squeeze(-1)  # [1, N - 1]
    token_nll = torch.cat([token_nll.new_zeros(1, 1), token_nll * text.base_mask[:, 1:]], dim=1)
    cumulative = torch.cat([token_nll.new_zeros(1, 1), token_nll.cumsum(-1)], dim=1)  # [1, N + 1]
    code_lengths = (text.code_members >= 0).sum(-1)
    next_lengths = torch.cat([code_lengths[:, 1:], code_lengths.new_zeros(1, 1)], dim=1)
    n = cumulative.shape[1] - 1
    teacher_code = cumulative.gather(1, (starts + next_lengths).clamp(max=n)) - cumulative.gather(
        1, starts.clamp(max=n)
    )
    teacher_first = token_nll.gather(1, starts.clamp(max=token_nll.shape[1] - 1))
    hyper = scored & (targets >= v)

    def total(values: torch.Tensor, where: torch.Tensor = scored) -> float:
        return float(values[where].sum())

    return {
        "num_steps": float(scored.sum()),
        "num_hypertoken_steps": float(hyper.sum()),
        "num_base_tokens": float(text.base_mask.sum()),
        "student_code_nll": total(code_nll),
        "student_first_nll": total(first_nll),
        "teacher_code_nll": total(teacher_code),
        "teacher_first_nll": total(teacher_first),
        "first_token_kl": total(kl),
        "student_hypertoken_nll": total(code_nll, hyper),
        "teacher_hypertoken_nll": total(teacher_code, hyper),
    }
