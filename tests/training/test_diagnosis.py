"""The loss diagnosis of zip2zip.training.diagnosis, against the training loss and a plain forward pass."""

from __future__ import annotations

import pytest
import torch

from tests._model_factories import VOCAB, compression, repetitive_ids, tiny_base, tiny_zip2zip
from zip2zip.modeling.model import Zip2ZipPreTrainedModel
from zip2zip.training.diagnosis import compress_window, diagnose_window
from zip2zip.training.loss import Zip2ZipTrainingModule


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _teacher() -> Zip2ZipPreTrainedModel:
    """An uncompressed model (C = 0) on another random base of the same vocabulary."""
    base = tiny_base("llama", seed=3)
    return Zip2ZipPreTrainedModel.from_base(base, compression=compression(max_codebook_size=0)).eval()


def test_sums_agree_with_the_training_loss_and_a_plain_forward() -> None:
    student, teacher = tiny_zip2zip(), _teacher()
    window = repetitive_ids(60, seed=1, alphabet=5)
    sums = diagnose_window(student, teacher, window)
    batch = compress_window(student, window)
    out = Zip2ZipTrainingModule(student, None, reconstruction_weight=0.0)(*batch.as_tuple())
    assert sums["num_steps"] == float(out["num_targets"])
    assert sums["num_hypertoken_steps"] == float(out["num_hyper_targets"]) > 0
    assert sums["student_code_nll"] == pytest.approx(float(out["lm_nll_sum"]), rel=1e-5)
    assert sums["student_hypertoken_nll"] == pytest.approx(float(out["hyper_nll_sum"]), rel=1e-5)
    # the steps predict every base token after the first code's; the teacher pays for each once
    first_code_length = len(window) - int(out["num_target_base_ids"])
    with torch.no_grad():
        logits = teacher.causal_lm(input_ids=torch.tensor([window])).logits[0, :, :VOCAB]
    token_nll = -logits.log_softmax(-1)[:-1].gather(-1, torch.tensor(window[1:])[:, None]).squeeze(-1)
    assert sums["teacher_code_nll"] == pytest.approx(
        float(token_nll[first_code_length - 1 :].sum()), rel=1e-5
    )
    # a code's first base token costs at most the code, on both sides; a KL is never negative
    assert sums["student_first_nll"] <= sums["student_code_nll"]
    assert sums["teacher_first_nll"] < sums["teacher_code_nll"]
    assert sums["first_token_kl"] > 0


def test_a_window_without_a_step_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        diagnose_window(tiny_zip2zip(), _teacher(), [5])
