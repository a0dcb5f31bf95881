"""Distillation terms of zip2zip.training.distillation: the decompressed text, the first-token marginal, the
LZW tree levels of the split term, the teacher (LoRA off, no gradient) and the hook into the training loss."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
import torch

from tests._model_factories import PAD, VOCAB, compression, repetitive_ids, tiny_base, tiny_zip2zip
from zip2zip.codec.lzw_codec import LZWCodec
from zip2zip.modeling.config import HyperEncoderConfig
from zip2zip.modeling.lora import build_lora_config
from zip2zip.modeling.model import Zip2ZipPreTrainedModel
from zip2zip.training.cli import parse_command_line
from zip2zip.training.config import TrainConfig
from zip2zip.training.distillation import (
    TEACHER_ADAPTER,
    DistillationWeights,
    _level_kl,
    code_text,
    first_token_kl,
    first_token_marginal,
    load_teacher_adapter,
    teacher_hidden,
    teacher_log_probs,
)
from zip2zip.training.loss import TrainBatch, Zip2ZipTrainingModule, collate_chunks, train_step

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _batch(num: int = 2, length: int = 40) -> TrainBatch:
    codec = LZWCodec.from_config(compression())
    chunks = []
    for i in range(num):
        enc = codec.encode(repetitive_ids(length - 7 * i, seed=i, alphabet=5))
        chunks.append((enc.ids, enc.codebook.table, enc.entry_positions))
    return collate_chunks(chunks, pad_token_id=PAD, max_subtokens=3)


def _with_lora(model: Zip2ZipPreTrainedModel, *, seed: int = 7) -> Zip2ZipPreTrainedModel:
    model.add_lora(build_lora_config(model.causal_lm, rank=4, alpha=8))
    torch.manual_seed(seed)
    with torch.no_grad():  # LoRA's B starts at zero: make the adapted model differ from its base
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 0.5)
    return model


def _module(weights: DistillationWeights | None) -> Zip2ZipTrainingModule:
    return Zip2ZipTrainingModule(
        _with_lora(tiny_zip2zip()), None, reconstruction_weight=0.0, distillation=weights
    )


def test_code_text_decompresses_each_chunk_and_locates_its_codes() -> None:
    batch = _batch()
    text = code_text(*batch.as_tuple()[:3], v=VOCAB, pad=PAD)
    codec = LZWCodec.from_config(compression())
    for row in range(2):
        n = int(batch.attention_mask[row].sum())
        expected = codec.decode(batch.input_ids[row, :n].numpy()).tolist()
        assert text.base_ids[row, : len(expected)].tolist() == expected
        assert int(text.base_mask[row].sum()) == len(expected)
        lengths = (text.code_members[row, :n] >= 0).sum(-1).tolist()
        assert text.starts[row, :n].tolist() == [0, *itertools.accumulate(lengths[:-1])]


def test_first_token_marginal_sums_the_joint_softmax_by_first_token() -> None:
    g = torch.Generator().manual_seed(0)
    s = 6
    table = torch.randint(3, VOCAB, (2, s, 3), generator=g)
    table[0, 4:] = PAD  # empty slots
    logits = torch.randn(2, 5, VOCAB + s, generator=g)
    logits[0, :, VOCAB + 4 :] = float("-inf")
    probs = logits.softmax(-1)
    marginal = first_token_marginal(probs, table, v=VOCAB)
    expected = probs[..., :VOCAB].clone()
    for b in range(2):
        for k in range(s):
            expected[b, :, table[b, k, 0]] += probs[b, :, VOCAB + k]
    torch.testing.assert_close(marginal, expected)
    torch.testing.assert_close(marginal.sum(-1), torch.ones(2, 5))


def test_first_token_kl_is_zero_when_the_marginal_is_the_teacher() -> None:
    """Teacher p over V base ids; the student splits p(t) between base t and the codes starting with t in
    arbitrary proportions: its marginal is p, so the first-token KL is 0 (and not when it is perturbed)."""
    g = torch.Generator().manual_seed(1)
    table = torch.tensor([[[5, 6, PAD], [5, 7, PAD], [8, 5, PAD]]])  # [1, S=3, M]
    teacher = torch.randn(1, 1, VOCAB, generator=g).log_softmax(-1)
    p = teacher.exp()
    probs = torch.zeros(1, 1, VOCAB + 3)
    probs[..., :VOCAB] = p
    probs[..., 5] = 0.2 * p[..., 5]
    probs[..., VOCAB] = 0.5 * p[..., 5]
    probs[..., VOCAB + 1] = 0.3 * p[..., 5]
    probs[..., 8] = 0.9 * p[..., 8]
    probs[..., VOCAB + 2] = 0.1 * p[..., 8]
    assert abs(float(first_token_kl(probs, teacher, table, v=VOCAB))) < 1e-6
    moved = float(probs[0, 0, 5])
    probs[..., VOCAB + 2] += moved  # base 5's share moved to a code starting with 8
    probs[..., 5] = 0.0
    p5, p8 = float(p[0, 0, 5]), float(p[0, 0, 8])
    expected = p5 * math.log(p5 / (p5 - moved)) + p8 * math.log(p8 / (p8 + moved))
    assert float(first_token_kl(probs, teacher, table, v=VOCAB)) == pytest.approx(expected, rel=1e-4)


# Entries (1, 2), (1, 3), (1, 2, 4); the true text from the next code's start is 1, 2, 4.
_TABLE = torch.tensor([[[1, 2, PAD], [1, 3, PAD], [1, 2, 4]]])
_WINDOW = torch.tensor([[[1, 2, 4]]])
_LIVE = torch.ones(1, 1, 3, dtype=torch.bool)


def _teacher(**probs: float) -> torch.Tensor:
    """Log-probabilities ``[1, 1, V]`` with the given ids' mass (keys t<id>) and the rest spread evenly."""
    p = torch.full((VOCAB,), (1 - sum(probs.values())) / (VOCAB - len(probs)))
    for key, value in probs.items():
        p[int(key[1:])] = value
    return p.log().view(1, 1, VOCAB)


def _student(base_1: float, e12: float, e13: float, e124: float) -> torch.Tensor:
    """Joint softmax ``[1, 1, V + 3]``: the given masses, the rest on base id 9."""
    probs = torch.zeros(1, 1, VOCAB + 3)
    probs[0, 0, 1], probs[0, 0, VOCAB:] = base_1, torch.tensor([e12, e13, e124])
    probs[0, 0, 9] = 1 - base_1 - e12 - e13 - e124
    return probs


def _levels(probs: torch.Tensor, level1: torch.Tensor, level2: torch.Tensor) -> tuple[float, float]:
    kls = [
        float(_level_kl(probs, teacher, _TABLE, _WINDOW, _LIVE, level=level, v=VOCAB, pad=PAD))
        for level, teacher in ((1, level1), (2, level2))
    ]
    return kls[0], kls[1]


def test_split_levels_follow_lzw_longest_match() -> None:
    """After 1 the teacher gives 2 p=0.5 and 3 p=0.3: LZW emits a code starting with (1, 2) w.p. 0.5, (1, 3)
    w.p. 0.3 and 1 alone w.p. 0.2. After (1, 2) it gives 4 p=0.6: (1, 2, 4) w.p. 0.6, (1, 2) alone 0.4.
    A student with exactly these conditional splits (any first-token mass c) has KL 0 at both levels."""
    after_1, after_12 = _teacher(t2=0.5, t3=0.3), _teacher(t4=0.6)
    c = 0.4
    level1, level2 = _levels(_student(0.2 * c, 0.5 * 0.4 * c, 0.3 * c, 0.5 * 0.6 * c), after_1, after_12)
    assert abs(level1) < 1e-6 and abs(level2) < 1e-6
    # (1, 2, 4) given (1, 2): student 0.5 instead of 0.6; the (1, 2) group keeps its 0.5 of first token 1
    level1, level2 = _levels(_student(0.2 * c, 0.25 * c, 0.3 * c, 0.25 * c), after_1, after_12)
    assert abs(level1) < 1e-6
    assert level2 == pytest.approx(0.4 * math.log(0.4 / 0.5) + 0.6 * math.log(0.6 / 0.5), rel=1e-5)
    # group (1, 3) at 0.4 and 1 alone at 0.1 of first token 1
    level1, _ = _levels(_student(0.1 * c, 0.25 * c, 0.4 * c, 0.25 * c), after_1, after_12)
    expected = 0.2 * math.log(0.2 / 0.1) + 0.5 * math.log(0.5 / 0.5) + 0.3 * math.log(0.3 / 0.4)
    assert level1 == pytest.approx(expected, rel=1e-5)


def test_a_code_that_is_not_live_is_no_choice() -> None:
    """(1, 3) not offered at this position: LZW cannot emit it, the teacher's p(3) counts for 1 alone."""
    live = torch.tensor([[[True, False, True]]])
    probs = _student(0.5 * 0.4, 0.5 * 0.4, 0.0, 0.0)
    kl = _level_kl(probs, _teacher(t2=0.5, t3=0.3), _TABLE, _WINDOW, live, level=1, v=VOCAB, pad=PAD)
    assert abs(float(kl)) < 1e-6


def test_the_teacher_is_the_base_model_with_lora_off_and_gets_no_gradient() -> None:
    model = _with_lora(tiny_zip2zip())
    batch = _batch()
    text = code_text(*batch.as_tuple()[:3], v=VOCAB, pad=PAD)
    for p in model.parameters():
        p.requires_grad_(True)
    hidden = teacher_hidden(model, text)
    assert not hidden.requires_grad
    positions = torch.arange(text.base_ids.shape[1]).expand_as(text.base_ids)
    teacher = teacher_log_probs(model, hidden, positions)
    base = tiny_base("llama")  # the same seed: the weights under the adapter
    with torch.no_grad():
        plain = base(input_ids=text.base_ids, attention_mask=text.base_mask).logits[..., :VOCAB]
        adapted = model.causal_lm(input_ids=text.base_ids, attention_mask=text.base_mask).logits[..., :VOCAB]
    real = text.base_mask.bool()
    torch.testing.assert_close(teacher[real], plain.log_softmax(-1)[real], atol=1e-5, rtol=1e-5)
    assert (teacher[real] - adapted.log_softmax(-1)[real]).abs().max() > 1e-2  # the adapter does matter


def _adapted_checkpoint_model(base: Path, *, max_codebook_size: int, seed: int) -> Zip2ZipPreTrainedModel:
    model = Zip2ZipPreTrainedModel.from_pretrained(
        base,
        compression=compression(max_codebook_size=max_codebook_size),
        hyper_encoder=HyperEncoderConfig(num_heads=4),
    )
    return _with_lora(model, seed=seed)


def _trainable(model: Zip2ZipPreTrainedModel) -> list[str]:
    return [name for name, p in model.named_parameters() if p.requires_grad]


def test_a_teacher_adapter_is_the_teacher_and_leaves_the_student_as_it_was(tmp_path: Path) -> None:
    """distill_teacher=<checkpoint>: the teacher's log-probs are the checkpoint's own model's; the student's
    forward, its trainable parameters and what it saves are those it had without the teacher."""
    tiny_base("llama").save_pretrained(tmp_path / "base")
    control = _adapted_checkpoint_model(tmp_path / "base", max_codebook_size=0, seed=11)
    control.save_pretrained(tmp_path / "control")
    student = _adapted_checkpoint_model(tmp_path / "base", max_codebook_size=64, seed=7)
    text = code_text(*_batch().as_tuple()[:3], v=VOCAB, pad=PAD)
    real = text.base_mask.bool()
    with torch.no_grad():
        before = student.causal_lm(input_ids=text.base_ids, attention_mask=text.base_mask).logits
        expected = control.causal_lm(input_ids=text.base_ids, attention_mask=text.base_mask).logits
    trainable = _trainable(student)

    load_teacher_adapter(student, tmp_path / "control")
    positions = torch.arange(text.base_ids.shape[1]).expand_as(text.base_ids)
    teacher = teacher_log_probs(student, teacher_hidden(student, text), positions)
    torch.testing.assert_close(
        teacher[real], expected[..., :VOCAB].log_softmax(-1)[real], atol=1e-5, rtol=1e-5
    )
    with torch.no_grad():
        after = student.causal_lm(input_ids=text.base_ids, attention_mask=text.base_mask).logits
    assert torch.equal(before, after) and not torch.equal(before, expected)
    assert _trainable(student) == trainable  # the teacher's adapter is frozen, the student's trainable

    folder = student.save_pretrained(tmp_path / "student")
    assert not (folder / "adapter" / TEACHER_ADAPTER).exists()
    reloaded = Zip2ZipPreTrainedModel.from_pretrained(folder)
    with torch.no_grad():
        again = reloaded.causal_lm(input_ids=text.base_ids, attention_mask=text.base_mask).logits
    torch.testing.assert_close(again, before)


def test_a_teacher_adapter_that_cannot_teach_is_refused(tmp_path: Path) -> None:
    tiny_base("llama").save_pretrained(tmp_path / "base")
    compressed = _adapted_checkpoint_model(tmp_path / "base", max_codebook_size=64, seed=11)
    compressed.save_pretrained(tmp_path / "compressed")
    student = _adapted_checkpoint_model(tmp_path / "base", max_codebook_size=64, seed=7)
    with pytest.raises(ValueError, match="compressed checkpoint"):
        load_teacher_adapter(student, tmp_path / "compressed")
    with pytest.raises(ValueError, match="nowhere is not a zip2zip checkpoint"):
        load_teacher_adapter(student, tmp_path / "nowhere")
    with pytest.raises(ValueError, match="without distillation"):
        TrainConfig(distill_teacher=str(tmp_path / "compressed"))


def test_the_command_line_refuses_a_teacher_that_cannot_teach_before_the_run(tmp_path: Path, capsys) -> None:
    flags = ["--preset", "smoke", "--distill-first-token-weight", "1", "--distill-teacher"]
    with pytest.raises(SystemExit) as stop:
        parse_command_line([*flags, str(tmp_path / "nowhere")])
    assert stop.value.code == 2
    assert "nowhere is not a zip2zip checkpoint" in capsys.readouterr().err
    config, _ = parse_command_line([*flags, str(ROOT / "models" / "smollm2-cpu-control")])
    assert config.distill_teacher.endswith("smollm2-cpu-control")


def test_weight_zero_leaves_the_loss_bit_identical_and_logs_nothing_new() -> None:
    batch = _batch()
    plain = _module(None)(*batch.as_tuple())
    off = _module(DistillationWeights(0.0, 0.0))(*batch.as_tuple())
    assert torch.equal(plain["loss"], off["loss"]) and plain.keys() == off.keys()
    on = _module(DistillationWeights(1.0, 0.5))(*batch.as_tuple())
    expected = (
        plain["loss"]
        + (on["distill_first_kl_sum"] + 0.5 * on["distill_split_kl_sum"]) / on["num_distill_positions"]
    )
    torch.testing.assert_close(on["loss"], expected)
    assert float(on["distill_first_kl_sum"]) > 0 and float(on["distill_split_kl_sum"]) > 0


def test_distillation_gradients_reach_the_student_and_are_logged() -> None:
    batch = _batch()
    module = _module(DistillationWeights(1.0, 1.0)).train()
    trained = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=1e-3)
    stats = train_step(module, [batch], optimizer=optimizer, max_grad_norm=None, reconstruction_weight=0.0)
    logged = stats.to_dict()
    assert logged["first_token_kl"] > 0 and logged["split_kl"] > 0
    assert logged["loss"] == pytest.approx(logged["lm_loss"] + logged["distillation_loss"])
    module.zero_grad()
    out = module(*batch.as_tuple())
    distill = (out["loss"] - out["lm_nll_sum"] / out["num_targets"]).sum()
    distill.backward()  # the distillation part alone
    assert any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in trained)


def test_negative_weights_are_refused() -> None:
    with pytest.raises(ValueError, match="must be >= 0"):
        DistillationWeights(-1.0, 0.0)


def test_distillation_under_another_codebook_policy_is_refused() -> None:
    TrainConfig(distill_first_token_weight=1.0)  # freeze: accepted
    TrainConfig(codebook_policy="lru")  # no distillation: accepted
    with pytest.raises(ValueError, match="'lru' with distillation"):
        TrainConfig(codebook_policy="lru", distill_split_weight=1.0)


def test_distillation_with_the_canonical_loss_is_refused() -> None:
    TrainConfig(canonical_loss=True)  # accepted alone
    with pytest.raises(ValueError, match="canonical_loss with distillation"):
        TrainConfig(canonical_loss=True, distill_first_token_weight=1.0)
