"""How the evaluation benchmarks locate and describe a checkpoint in their results, and evaluate each model on
each item (``rows_per_model``) with a live line per finished cell."""

import json

from benchmarks._checkpoints import (
    ROOT,
    SMOLLM2_BASE,
    Checkpoint,
    checkpoint_path,
    describe_checkpoint,
    find_checkpoint,
    rows_per_model,
)


def test_relative_checkpoints_are_found_from_the_repository_root():
    assert checkpoint_path("models/smollm2-cpu-zip2zip") == ROOT / "models" / "smollm2-cpu-zip2zip"


def test_embedded_checkpoint_is_recorded_relative_with_its_training():
    info = describe_checkpoint(find_checkpoint("models/smollm2-cpu-zip2zip"))
    assert info["checkpoint"] == info["path"] == info["as_given"] == "models/smollm2-cpu-zip2zip"
    assert info["format"] == "zip2zip" and info["base_model"]["name_or_path"] == SMOLLM2_BASE.name_or_path
    assert info["training"]["preset"] == "smollm2-cpu"
    log = json.loads((ROOT / "models" / "smollm2-cpu-zip2zip" / "train_log.json").read_text())
    assert info["training"]["num_steps"] == log["config"]["num_steps"]  # the embedded run is complete


def test_checkpoint_elsewhere_without_log_is_recorded_by_absolute_path(tmp_path):
    checkpoint = Checkpoint(str(tmp_path), tmp_path, SMOLLM2_BASE)
    assert describe_checkpoint(checkpoint)["checkpoint"] == str(tmp_path)
    assert "training" not in describe_checkpoint(checkpoint)
    (tmp_path / "train_log.json").write_text(
        json.dumps({"summary": {"final_heldout": {"nll_per_base_token": 1.5}}})
    )
    assert describe_checkpoint(checkpoint)["training"]["final_heldout_nll_per_base_token"] == 1.5


def test_rows_per_model_keeps_previous_rows_skips_a_model_that_does_not_load_and_reports_each_cell(capsys):
    def load(name):
        if name == "broken":
            raise OSError("no weights")
        return name, {"name": name}

    assets = {"models": {}}
    skipped = []
    rows = rows_per_model(
        "perplexity",
        ["base", "broken"],
        ["code", "web"],
        item_key="corpus",
        previous=[{"model": "base", "corpus": "code", "kept": True}],
        load=load,
        evaluate=lambda model, name, item: {"model": name, "corpus": item},
        describe=lambda row: f"{row['model']} {row['corpus']}: scored",
        assets=assets,
        skipped=skipped,
        on_progress=None,
    )
    assert rows == [{"model": "base", "corpus": "code", "kept": True}, {"model": "base", "corpus": "web"}]
    assert skipped == [{"name": "model broken", "reason": "no weights"}]
    err = capsys.readouterr().err
    assert "base web: scored [2/4," in err
    assert "broken code: skipped, the model did not load [3/4," in err
