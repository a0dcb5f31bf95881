"""Downstream benchmark: stand-in tasks keep lm-eval's formats, the smoke run writes a valid result, the table
renders paper beside ours; slow: SmolLM2 scores exactly each continuation's text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

lm_eval = pytest.importorskip("lm_eval")

from lm_eval.tasks import TaskManager  # noqa: E402
from lm_eval.tasks._yaml_loader import load_yaml  # noqa: E402

from benchmarks import downstream  # noqa: E402
from paper_tables import downstream as table  # noqa: E402
from zip2zip.evaluation.results import BenchmarkResult, metric, read_result  # noqa: E402

TASKS_DIR = downstream.TASKS_DIR
MANIFEST = json.loads((TASKS_DIR / "manifest.json").read_text(encoding="utf-8"))
BUILTIN = Path(lm_eval.__file__).parent / "tasks"
BUILTIN_YAML = {
    "arc_easy": "arc/arc_easy.yaml",
    "arc_challenge": "arc/arc_challenge.yaml",
    "openbookqa": "openbookqa/openbookqa.yaml",
    "hellaswag": "hellaswag/hellaswag.yaml",
    "piqa": "piqa/piqa.yaml",
    "winogrande": "winogrande/default.yaml",
    "gsm8k": "gsm8k/gsm8k.yaml",
}
# Copied from the built-in config (hellaswag: what its process_docs produces, which our data already is).
FORMAT_KEYS = (
    "output_type",
    "doc_to_text",
    "doc_to_target",
    "doc_to_choice",
    "metric_list",
    "filter_list",
    "num_fewshot",
    "target_delimiter",
    "fewshot_delimiter",
    "repeats",
)


def _function_name(value: object) -> object:
    """``/path/to/utils.doc_to_text`` -> ``doc_to_text`` (unresolved ``!function`` tags are path strings)."""
    return value.rsplit(".", 1)[-1] if isinstance(value, str) and value.startswith("/") else value


@pytest.mark.parametrize("paper_task", downstream.PAPER_TASKS)
def test_stand_in_copies_the_lm_eval_task_format(paper_task: str) -> None:
    ours = load_yaml(TASKS_DIR / f"standin_{paper_task}.yaml", resolve_func=False)
    theirs = load_yaml(BUILTIN / BUILTIN_YAML[paper_task], resolve_func=False)
    assert ours["metadata"]["stands_in_for"] == paper_task
    for key in FORMAT_KEYS:
        assert _function_name(ours.get(key)) == _function_name(theirs.get(key)), key
    if paper_task == "gsm8k":  # same stops and greedy decoding; only max_gen_toks is ours (32, for CPU time)
        assert {k: v for k, v in ours["generation_kwargs"].items() if k != "max_gen_toks"} == theirs[
            "generation_kwargs"
        ]
        assert ours["fewshot_split"] == "train"


def test_stand_ins_load_offline_with_the_manifest_sizes() -> None:
    manager = TaskManager(include_path=str(TASKS_DIR), include_defaults=False)
    tasks = manager.load([f"standin_{t}" for t in downstream.PAPER_TASKS])["tasks"]
    for name, task in tasks.items():
        assert len(task.test_docs()) == MANIFEST["tasks"][name]["num_items"]
    assert len(tasks["standin_gsm8k"].fewshot_docs()) == MANIFEST["config"]["num_math_fewshot"]


def test_smoke_run_writes_a_result_the_table_renders(tmp_path: Path) -> None:
    out = tmp_path / "downstream.json"
    downstream.main(["--smoke", "--out", str(out)])
    result = read_result(out)
    assert result.status == "smoke" and not (tmp_path / "downstream.partial.json").exists()
    rows = {(r["model"], r["task"], r.get("versus")): r for r in result.rows}
    gsm8k = rows[("zip2zip", "gsm8k", None)]
    assert set(gsm8k["metrics"]) >= {
        "exact_match_strict",
        "exact_match_flexible",
        "generated_compression_ratio",
    }
    assert gsm8k["num_fewshot"] == 5 and len(gsm8k["generations"]) == gsm8k["num_items"]
    arc = rows[("base", "arc_easy", None)]
    assert arc["metrics"]["acc"]["value"] == pytest.approx(sum(arc["per_item"]["acc"]) / arc["num_items"])
    assert "acc_norm_difference" in rows[("zip2zip", "arc_easy", "base")]["metrics"]
    assert result.assets["models"]["zip2zip"]["trained"] is False  # smoke: untrained wrapper, and it says so
    canonical = rows[("zip2zip_canonical", "arc_easy", None)]
    assert 0 < canonical["metrics"]["impossible_code_mass"]["value"] < 1
    assert "impossible_code_mass" not in rows[("zip2zip", "arc_easy", None)]["metrics"]
    assert "exact_match_strict" in rows[("zip2zip_canonical", "gsm8k", None)]["metrics"]
    markdown = table.render_markdown(result, caption="Downstream")
    assert "standin_arc_easy" in markdown and "| zip2zip, canonical |" in markdown


def _result() -> BenchmarkResult:
    def row(model: str, task: str, **values: float) -> dict:
        metrics = {k: metric(v, "fraction", num_samples=150) for k, v in values.items()}
        return {
            "model": model,
            "task": task,
            "lm_eval_task": f"standin_{task}",
            "task_source": "offline",
            "num_items": 150,
            "num_fewshot": 5 if task == "gsm8k" else 0,
            "lm_eval_task_version": 1.0,
            "metrics": metrics,
        }

    difference = {
        "model": "zip2zip",
        "versus": "base",
        "task": "gsm8k",
        "metrics": {
            "exact_match_strict_difference": metric(-0.04, "fraction", num_samples=50, ci95=[-0.1, 0.02])
        },
    }
    rows = [
        row("base", "arc_easy", acc=0.5, acc_norm=0.55),
        row("zip2zip", "arc_easy", acc=0.45, acc_norm=0.5),
        row("base", "gsm8k", exact_match_strict=0.06, exact_match_flexible=0.08),
        row("zip2zip", "gsm8k", exact_match_strict=0.02, exact_match_flexible=0.04),
        difference,
    ]
    rows[3]["metrics"]["generated_compression_ratio"] = metric(1.25, "base tokens/step", num_samples=100)
    return BenchmarkResult(
        benchmark="downstream",
        status="full",
        config={},
        rows=rows,
        duration_s=600.0,
        assets={
            "lm_eval_version": "0.4.13",
            "models": {"zip2zip": {"checkpoint": "models/z", "lm_eval_model": "zip2zip"}},
            "stand_ins": MANIFEST,
        },
    )


def test_markdown_puts_paper_beside_ours_and_marks_stand_ins() -> None:
    text = table.render_markdown(_result(), caption="Downstream")
    lines = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("|")}
    assert "| 0.83 | 0.500 / 0.550† | 0.82 | 0.060 / 0.080† |" in lines["Baseline"]
    assert "| 0.15 | 0.020 / 0.040† |" in lines["zip2zip"] and "Continual pretraining" not in lines
    assert "| -- | 1.25 out |" in lines["zip2zip r (base tokens/step)"]
    assert "| GSM8K | exact_match_strict | -0.67 | -0.040 [-0.100, +0.020] | -- | 150 |" in text
    assert "offline stand-in 'standin_gsm8k'" in text and "few-shot: ARC-e 0, GSM8K 5" in text


def test_latex_escapes_and_daggers() -> None:
    tex = table.render_latex(_result(), caption="Downstream", label="tab:downstream")
    assert (
        r"\label{tab:downstream}" in tex
        and r"0.500 / 0.550$^\dagger$" in tex
        and r"exact\_match\_strict" in tex
    )


@pytest.mark.slow
def test_smollm2_scores_exactly_each_stand_in_continuation() -> None:
    """Every multiple-choice request of the stand-ins, tokenized by SmolLM2: the ids scored decode to the text."""

    from zip2zip.codec.config import compression_config_from_tokenizer
    from zip2zip.codec.lzw import LZWStream
    from zip2zip.evaluation.lm_eval_model import Zip2ZipLM
    from zip2zip.inference.scoring_parse import compress_segments
    from zip2zip.modeling.base_models import TinyLlama, load_base
    from zip2zip.modeling.model import Zip2ZipPreTrainedModel

    shape = TinyLlama(
        49152, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1
    )
    loaded = load_base("tiny", tiny=shape, tokenizer="smollm2")  # SmolLM2's ids, a tiny random model
    tiny, tok = loaded.model, loaded.tokenizer.hf_tokenizer()
    comp = compression_config_from_tokenizer(tok)
    lm = Zip2ZipLM(Zip2ZipPreTrainedModel.from_base(tiny, compression=comp), tok)
    manager = TaskManager(include_path=str(TASKS_DIR), include_defaults=False)
    names = [f"standin_{t}" for t in downstream.PAPER_TASKS if t != "gsm8k"]
    num_hyper = 0
    for task in manager.load(names)["tasks"].values():
        task.build_all_requests(limit=None, rank=0, world_size=1)
        for instance in task.instances:
            context, continuation = instance.args
            context_ids, continuation_ids = lm._encode_pair(context, continuation)
            seg = compress_segments([context_ids, continuation_ids], comp)
            stream = LZWStream(comp)
            stream.feed_many(seg.codes)
            moved = context[len(context.rstrip()) :]
            assert tok.decode(stream.base_ids[len(context_ids) :]) == moved + continuation
            num_hyper += sum(c >= comp.initial_vocab_size for c in seg.codes[seg.codes_per_segment[0] :])
    assert num_hyper > 0


def test_a_codebook_other_than_the_checkpoints_is_evaluated_and_kept_in_its_own_file(tmp_path, monkeypatch):
    """``--codebook-policy lru --max-codebook-size 16``: zip2zip runs with that codebook (scoring and gsm8k's
    generation), and the default file is tagged so it never replaces the main one."""
    monkeypatch.chdir(tmp_path)
    argv = ["--smoke", "--models", "zip2zip", "--tasks", "arc_easy,gsm8k", "--limit", "2"]
    downstream.main([*argv, "--codebook-policy", "lru", "--max-codebook-size", "16"])
    (out,) = (tmp_path / "results" / "downstream").glob("*.json")
    assert out.name.endswith("-lru-C16.json") and out.name.startswith("smoke-")
    result = read_result(out)
    assert result.config["codebook_policy"] == "lru" and result.config["max_codebook_size"] == 16
    compression = result.assets["models"]["zip2zip"]["config"]["compression"]
    assert (compression["codebook_policy"], compression["max_codebook_size"]) == ("lru", 16)


@pytest.mark.parametrize("nested", [False, True], ids=["top", "metadata"])
def test_task_configs_name_their_yaml_relative_to_the_repository(nested: bool) -> None:
    from benchmarks._checkpoints import ROOT
    from benchmarks._downstream_tasks import _portable

    source = {"config_source": str(ROOT / "zip2zip" / "data" / "lm_eval_tasks" / "standin_piqa.yaml")}
    config = _portable(
        {"task": "standin_piqa", "metadata": source} if nested else {"task": "standin_piqa", **source}
    )
    holder = config["metadata"] if nested else config
    assert holder["config_source"] == "zip2zip/data/lm_eval_tasks/standin_piqa.yaml"


def test_digit_protection_reaches_zip2zip_and_the_result(tmp_path, monkeypatch):
    """``--tasks gsm8k --protect-digits``: the GSM8K stand-in runs with zip2zip's digit ids disabled (bytes:
    48..57), recorded in the result's config and the model's, in a file tagged ``-digits``."""
    monkeypatch.chdir(tmp_path)
    downstream.main(
        ["--smoke", "--models", "zip2zip", "--tasks", "gsm8k", "--limit", "2", "--protect-digits"]
    )
    (out,) = (tmp_path / "results" / "downstream").glob("*.json")
    assert out.name.endswith("-digits.json")
    result = read_result(out)
    assert result.config["protect_digits"] is True and result.config["tasks"] == ["gsm8k"]
    compression = result.assets["models"]["zip2zip"]["config"]["compression"]
    assert compression["protect_digits"] is True and set(range(48, 58)) <= set(compression["disabled_ids"])
