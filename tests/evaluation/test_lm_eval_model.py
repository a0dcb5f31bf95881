"""The ``zip2zip`` lm-eval model type: lm-eval runs it end to end, compression off equals lm-eval's ``hf`` model,
scored ids are exactly the continuation's, generation returns only the completion within its budget."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from _model_factories import (
    VOCAB,
    compression,
    repetitive_ids,
    tiny_base,
    tiny_tokenizer,
    tiny_zip2zip,
    words,
)

lm_eval = pytest.importorskip("lm_eval")

from lm_eval.api.instance import Instance  # noqa: E402
from lm_eval.models.huggingface import HFLM  # noqa: E402
from lm_eval.tasks import TaskManager  # noqa: E402

from zip2zip.codec.config import compression_config_from_tokenizer  # noqa: E402
from zip2zip.codec.lzw import LZWStream  # noqa: E402
from zip2zip.data.lm_eval_tasks import TASKS_DIR  # noqa: E402
from zip2zip.evaluation.lm_eval_model import Zip2ZipLM, default_device, main  # noqa: E402
from zip2zip.inference.scoring import score_continuations  # noqa: E402
from zip2zip.inference.scoring_parse import compress_segments  # noqa: E402
from zip2zip.modeling.model import Zip2ZipPreTrainedModel  # noqa: E402

# A tiny offline task folder: one task per request type, words of the tiny tokenizer ("w3".."w95").
_UTILS = """
import json
from pathlib import Path

import datasets


def load(data_file, **metadata):
    rows = [json.loads(x) for x in (Path(__file__).parent / data_file).read_text().splitlines() if x]
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})
"""
_YAML = {
    "tiny_choice": "output_type: multiple_choice\ndoc_to_text: '{{ctx}}'\ndoc_to_target: '{{label}}'\n"
    "doc_to_choice: '{{choices}}'\nmetric_list:\n  - metric: acc\n  - metric: acc_norm\n",
    "tiny_rolling": "output_type: loglikelihood_rolling\ndoc_to_text: ''\ndoc_to_target: '{{text}}'\n"
    "metric_list:\n  - metric: word_perplexity\n",
    "tiny_generate": "output_type: generate_until\ndoc_to_text: '{{ctx}}'\ndoc_to_target: '{{target}}'\n"
    "generation_kwargs:\n  until: ['w9 w10']\n  do_sample: false\n  max_gen_toks: 6\n"
    "metric_list:\n  - metric: exact_match\n",
}


def _docs() -> dict[str, list[dict]]:
    ctx = [
        words([3 + (7 * i + j) % 30 for j in range(n)]) for i, n in enumerate((4, 9, 30))
    ]  # 30 > max_length
    return {
        "tiny_choice": [
            {"ctx": c, "choices": [words([5, 6]), words([7]), words([8, 5, 6])], "label": i % 3}
            for i, c in enumerate(ctx)
        ],
        "tiny_rolling": [
            {"text": words([3 + (i * 5 + j) % 17 for j in range(n)])} for i, n in enumerate((6, 41))
        ],
        "tiny_generate": [{"ctx": c, "target": words([9])} for c in ctx],
    }


@pytest.fixture(scope="module")
def task_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny_tasks")
    (folder / "utils.py").write_text(_UTILS)
    for name, rows in _docs().items():
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        (folder / f"{name}.yaml").write_text(
            f"task: {name}\ncustom_dataset: !function utils.load\n"
            f"dataset_kwargs:\n  data_file: {name}.jsonl\ntest_split: test\n"
            f"{_YAML[name]}metadata:\n  version: 1.0\n"
        )
    return folder


@pytest.fixture(scope="module")
def task_manager(task_folder: Path) -> TaskManager:
    return TaskManager(include_path=str(task_folder), include_defaults=False)


def _evaluate(lm: object, manager: TaskManager) -> dict:
    out = lm_eval.simple_evaluate(
        model=lm,
        tasks=sorted(_YAML),
        task_manager=manager,
        log_samples=True,
        bootstrap_iters=0,
        verbosity="ERROR",
    )
    assert out is not None
    return out


def test_registered_and_runs_end_to_end_through_simple_evaluate(task_manager: TaskManager) -> None:
    from lm_eval.api.registry import get_model

    assert get_model("zip2zip") is Zip2ZipLM
    model, tok = tiny_zip2zip(max_codebook_size=16), tiny_tokenizer()
    out = lm_eval.simple_evaluate(
        model="zip2zip",
        model_args={"pretrained": model, "tokenizer": tok, "batch_size": 2},
        tasks=sorted(_YAML),
        task_manager=task_manager,
        bootstrap_iters=0,
    )
    assert out is not None
    assert {"acc,none", "acc_norm,none"} <= set(out["results"]["tiny_choice"])
    assert out["results"]["tiny_rolling"]["word_perplexity,none"] > 1
    assert "exact_match,none" in out["results"]["tiny_generate"]


def test_compression_off_scores_equal_lm_eval_hf_model(task_manager: TaskManager) -> None:
    """Same task, same tiny model: loglikelihood, rolling loglikelihood and greedy generations all agree."""
    # rows == V here: lm-eval normalises over every head row, zip2zip over the tokenizer's V ids only
    base, tok = tiny_base(vocab_size=VOCAB), tiny_tokenizer()
    hf = HFLM(pretrained=base, tokenizer=tok, batch_size=2, max_length=24)
    model = Zip2ZipPreTrainedModel.from_base(base, compression=compression(max_codebook_size=0)).eval()
    ours = Zip2ZipLM(model, tok, batch_size=3, max_length=24)
    expected, got = _evaluate(hf, task_manager)["samples"], _evaluate(ours, task_manager)["samples"]
    for task in _YAML:
        for theirs, mine in zip(expected[task], got[task], strict=True):
            if task == "tiny_generate":
                assert mine["resps"] == theirs["resps"]
                continue
            numbers_theirs, numbers_mine = _flatten(theirs["resps"]), _flatten(mine["resps"])
            assert [x for x in numbers_mine if not isinstance(x, bool)] == pytest.approx(
                [x for x in numbers_theirs if not isinstance(x, bool)], abs=1e-4
            )
            assert [x for x in numbers_mine if isinstance(x, bool)] == [
                x for x in numbers_theirs if isinstance(x, bool)
            ]  # is_greedy flags agree too


def _flatten(nested: object) -> list:
    """lm-eval responses (nested lists of (log-probability, is_greedy) or log-probabilities) -> flat list."""
    if isinstance(nested, list | tuple):
        return [x for item in nested for x in _flatten(item)]
    return [nested]


def _bpe_tokenizer():  # -> PreTrainedTokenizerFast
    """Byte-level BPE trained on repetitive English, so contexts create hypertokens the continuation reuses."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<pad>", "</s>", "<s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    backend.train_from_iterator(
        ["the cat sat on the mat, then the cat sat on the hat. " * 4], trainer=trainer
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="</s>", bos_token="<s>"
    )


@pytest.mark.parametrize(
    ("context", "continuation"),
    [
        pytest.param("the cat sat on the mat, the cat sat on", " the mat.", id="space-in-continuation"),
        pytest.param(
            "the cat sat on the mat, then ", "the cat sat on the hat!", id="space-moved-from-context"
        ),
        pytest.param("Question: where did the cat sit?\nAnswer:", " on the mat, then on the hat", id="qa"),
    ],
)
def test_scored_ids_decode_to_exactly_the_continuation_text(context: str, continuation: str) -> None:
    tok = _bpe_tokenizer()
    base = tiny_base(vocab_size=len(tok))
    model = Zip2ZipPreTrainedModel.from_base(
        base, compression=compression_config_from_tokenizer(tok, max_codebook_size=64)
    )
    lm = Zip2ZipLM(model.eval(), tok)
    context_ids, continuation_ids = lm._encode_pair(context, continuation)  # what loglikelihood() scores
    seg = compress_segments([context_ids, continuation_ids], model.compression)
    n_context, n_scored = seg.codes_per_segment
    stream = LZWStream(model.compression)
    stream.feed_many(seg.codes[:n_context])
    stream.feed_many(seg.codes[n_context:])
    scored_base_ids = stream.base_ids[len(context_ids) :]
    moved = context[len(context.rstrip()) :]  # lm-eval moves trailing context spaces into the continuation
    assert tok.decode(scored_base_ids) == moved + continuation
    assert tok.decode(stream.base_ids[: len(context_ids)]) == context.rstrip()
    assert any(c >= model.compression.initial_vocab_size for c in seg.codes[n_context:])  # hypertokens scored
    (score,) = score_continuations(model, [(context_ids, continuation_ids)])
    assert (score.num_codes, score.num_base_tokens) == (n_scored, len(continuation_ids))


def _generate(lm: Zip2ZipLM, contexts: list[str], **gen_kwargs: object) -> list[str]:
    requests = [Instance("generate_until", {}, (c, dict(gen_kwargs)), i) for i, c in enumerate(contexts)]
    return lm.generate_until(requests, disable_tqdm=True)


def test_generate_until_returns_the_completion_cut_at_stop_strings_within_base_token_budget() -> None:
    model, tok = tiny_zip2zip(max_codebook_size=32), tiny_tokenizer()
    lm = Zip2ZipLM(model, tok, batch_size=2)
    contexts = [words([3 + (5 * i + j) % 9 for j in range(12 + i)]) for i in range(3)]
    free = _generate(lm, contexts, until=[], max_gen_toks=10)
    assert lm.counts["generation_steps"] < lm.counts["generated_base_tokens"], (
        "vacuous: no hypertoken emitted"
    )
    for context, text in zip(contexts, free, strict=True):
        generated = text.split()
        assert len(generated) <= 10 and not text.startswith(context)  # only the completion, within budget
    assert any(len(text.split()) == 10 for text in free)  # hypertokens overshooting the budget are cut
    # stop strings are matched on decoded text, across token boundaries: "wA wB" spans two base tokens
    stops = [" ".join(text.split()[2:4]) for text in free if len(text.split()) >= 4]
    cut = _generate(lm, contexts, until=stops[:1], max_gen_toks=10)
    for text, full in zip(cut, free, strict=True):
        assert full.startswith(text.rstrip()) and stops[0] not in text
    assert any(len(c) < len(f) for c, f in zip(cut, free, strict=True))


def test_rejects_ambiguous_or_missing_arguments() -> None:
    model, tok = tiny_zip2zip(max_codebook_size=16), tiny_tokenizer()
    with pytest.raises(ValueError, match="needs tokenizer"):
        Zip2ZipLM(model)
    with pytest.raises(ValueError, match="max_codebook_size=8"):
        Zip2ZipLM(model, tok, max_codebook_size=8)
    with pytest.raises(ValueError, match="unknown argument 'num_beams'"):
        Zip2ZipLM(model, tok, num_beams=4)
    with pytest.raises(ValueError, match="dtype='float64'"):
        Zip2ZipLM("models/smollm2-cpu-zip2zip", dtype="float64")
    lm = Zip2ZipLM(model, tok)
    with pytest.raises(ValueError, match="unsupported generation_kwargs"):
        _generate(lm, [words([3, 4])], until=[], max_gen_toks=2, num_beams=4)


def test_the_hf_models_arguments_are_ignored_with_a_note_or_refused_with_the_reason() -> None:
    model, tok = tiny_zip2zip(max_codebook_size=16), tiny_tokenizer()
    with pytest.warns(UserWarning, match="use_fast_tokenizer ignored"):
        Zip2ZipLM(model, tok, use_fast_tokenizer=True, revision="main", parallelize=False, backend="causal")
    for name, value, reason in [
        ("peft", "me/adapter", "carries its own LoRA adapter"),
        ("revision", "v2", "folder of that revision"),
        ("backend", "seq2seq", "causal LMs only"),
        ("softmax_dtype", "float64", "float32"),
    ]:
        with pytest.raises(ValueError, match=f"{name}=.*not supported: .*{reason}"):
            Zip2ZipLM(model, tok, **{name: value})


def _running_out_of_memory_above(
    model: Zip2ZipPreTrainedModel, rows: int, monkeypatch: pytest.MonkeyPatch
) -> list[int]:
    """Make ``model``'s transformer raise CUDA's out-of-memory error on batches of more than ``rows``;
    returns the batch sizes it was run with."""
    run_decoder, sizes = model.run_decoder, []

    def limited(inputs_embeds: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        sizes.append(inputs_embeds.shape[0])
        if inputs_embeds.shape[0] > rows:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return run_decoder(inputs_embeds, **kwargs)

    monkeypatch.setattr(model, "run_decoder", limited)
    return sizes


def test_batch_size_auto_halves_until_the_first_batch_fits_then_keeps_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model, tok = tiny_zip2zip(max_codebook_size=16), tiny_tokenizer()
    requests = [
        (None, [2] + [3 + (7 * i + j) % 11 for j in range(5 + 3 * i)], [3 + (i + j) % 5 for j in range(4)])
        for i in range(9)
    ]
    expected = Zip2ZipLM(model, tok, batch_size=1)._loglikelihood_tokens(requests, disable_tqdm=True)
    sizes = _running_out_of_memory_above(model, 2, monkeypatch)
    lm = Zip2ZipLM(model, tok, batch_size="auto", max_batch_size=8)
    got = lm._loglikelihood_tokens(requests, disable_tqdm=True)
    assert lm.batch_size == 2 and sizes[:3] == [8, 4, 2] and max(sizes[3:]) == 2
    assert [s for s, _ in got] == pytest.approx([s for s, _ in expected], abs=1e-4)
    assert [g for _, g in got] == [g for _, g in expected]
    lm = Zip2ZipLM(
        model, tok, batch_size="auto:4", max_batch_size=4
    )  # generation fits its batch the same way
    texts = _generate(
        lm, [words([3 + (5 * i + j) % 9 for j in range(8)]) for i in range(5)], until=[], max_gen_toks=3
    )
    assert lm.batch_size == 2 and len(texts) == 5 and all(texts)


# ------------------------------------------------------------------ the zip2zip-lm-eval command
def test_command_passes_the_device_the_run_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    """lm-eval records its --device in the results and defaults it to cuda:0 even on a CPU-only run."""
    seen: list[list[str]] = []
    monkeypatch.setattr(sys, "argv", ["zip2zip-lm-eval"])  # main() sets it, as a console script's is
    monkeypatch.setattr("lm_eval.__main__.cli_evaluate", lambda: seen.append(sys.argv[1:]))
    main(["--model", "zip2zip", "--tasks", "x"])
    main(["--model", "zip2zip", "--device=cpu", "--include_path", "mine"])
    main(["ls", "tasks"])
    expected = "cuda:0" if torch.cuda.is_available() else "cpu"
    ours = ["--include_path", str(TASKS_DIR)]  # the stand-in tasks, unless the user names a folder
    assert default_device() == expected
    assert seen == [
        ["--model", "zip2zip", "--tasks", "x", "--device", expected, *ours],
        ["--model", "zip2zip", "--device=cpu", "--include_path", "mine"],
        ["ls", "tasks", *ours],
    ]


def test_the_stand_in_tasks_are_package_data_that_lm_eval_finds() -> None:
    manager = TaskManager(include_path=str(TASKS_DIR))
    assert {f"standin_{t}" for t in ("arc_easy", "winogrande", "gsm8k")} <= set(manager.all_tasks)
    assert (TASKS_DIR / "data" / "standin_arc_easy.jsonl").is_file()


def test_command_help_is_named_for_it_and_documents_the_zip2zip_model(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["--help"])
    out = capsys.readouterr().out
    assert out.startswith("usage: zip2zip-lm-eval")
    assert "zip2zip model (--model zip2zip" in out
    assert "\n      max_codebook_size: C for a base model" in out and "batch_size=auto" in out


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error where CUDA is missing")
def test_an_unavailable_device_is_an_error_not_a_silent_cpu_run() -> None:
    with pytest.raises(ValueError, match="CUDA is not available"):
        Zip2ZipLM(tiny_zip2zip(max_codebook_size=16), tiny_tokenizer(), device="cuda:0")


@pytest.mark.slow
def test_command_runs_a_checkpoint_and_records_the_cpu(
    tmp_path: Path, task_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole command in-process: a saved tiny checkpoint, a local task, lm-eval's results file."""
    monkeypatch.setattr(sys, "argv", ["zip2zip-lm-eval"])
    tiny_base(vocab_size=VOCAB).save_pretrained(tmp_path / "base")
    tiny_tokenizer().save_pretrained(tmp_path / "tok")
    model = Zip2ZipPreTrainedModel.from_base(
        tiny_base(vocab_size=VOCAB),
        compression=compression(max_codebook_size=16),
        base_model_name_or_path=str(tmp_path / "base"),
    )
    model.save_pretrained(tmp_path / "ckpt")
    args = f"pretrained={tmp_path / 'ckpt'},tokenizer={tmp_path / 'tok'}"
    main(
        [
            "--model",
            "zip2zip",
            "--model_args",
            args,
            "--tasks",
            "tiny_choice",
            "--include_path",
            str(task_folder),
            "--output_path",
            str(tmp_path / "out"),
        ]
    )
    (results,) = (tmp_path / "out").rglob("results_*.json")
    config = json.loads(results.read_text())["config"]
    assert config["device"] == default_device() and config["model"] == "zip2zip"


def test_canonical_model_reuses_the_plain_models_scores_and_renormalises_them() -> None:
    """A shared cache: the plain instance scores each request once with both numbers, bit-identical to its
    uncached scores; the canonical instance answers from the cache with the renormalised ones."""
    model, tok = tiny_zip2zip(max_codebook_size=16), tiny_tokenizer()
    requests = [
        (None, [2, *repetitive_ids(30, seed=i, alphabet=4)], repetitive_ids(20, seed=i + 9, alphabet=4))
        for i in range(4)
    ]
    uncached = Zip2ZipLM(model, tok, batch_size=2)._loglikelihood_tokens(requests, disable_tqdm=True)
    cache: dict = {}
    plain = Zip2ZipLM(model, tok, batch_size=2, score_cache=cache)
    assert plain._loglikelihood_tokens(requests, disable_tqdm=True) == uncached
    canonical = Zip2ZipLM(model, tok, batch_size=2, canonical=True, score_cache=cache)
    forward_calls = []
    canonical._score_all = lambda *a, **k: forward_calls.append(a) or []  # type: ignore[method-assign]
    answers = canonical._loglikelihood_tokens(requests, disable_tqdm=True)
    assert forward_calls == []  # every request came from the cache
    assert all(c[0] >= u[0] for c, u in zip(answers, uncached, strict=True))
    assert any(c[0] > u[0] for c, u in zip(answers, uncached, strict=True))
    assert canonical.counts["scored_impossible_mass"] > 0 and plain.counts["scored_impossible_mass"] == 0
