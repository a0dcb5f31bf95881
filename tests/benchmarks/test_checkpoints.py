"""How the evaluation benchmarks locate and describe a checkpoint in their results."""

import json

from benchmarks._checkpoints import ROOT, checkpoint_path, describe_checkpoint


def test_relative_checkpoints_are_found_from_the_repository_root():
    assert checkpoint_path("models/smollm2-cpu-zip2zip") == ROOT / "models" / "smollm2-cpu-zip2zip"


def test_embedded_checkpoint_is_recorded_relative_with_its_training():
    info = describe_checkpoint(checkpoint_path("models/smollm2-cpu-zip2zip"))
    assert info["checkpoint"] == "models/smollm2-cpu-zip2zip"
    assert info["training"]["preset"] == "smollm2-cpu"
    log = json.loads((ROOT / "models" / "smollm2-cpu-zip2zip" / "train_log.json").read_text())
    assert info["training"]["num_steps"] == log["config"]["num_steps"]  # the embedded run is complete


def test_checkpoint_elsewhere_without_log_is_recorded_by_absolute_path(tmp_path):
    assert describe_checkpoint(tmp_path) == {"checkpoint": str(tmp_path)}
    (tmp_path / "train_log.json").write_text(
        json.dumps({"summary": {"final_heldout": {"nll_per_base_token": 1.5}}})
    )
    assert describe_checkpoint(tmp_path)["training"]["final_heldout_nll_per_base_token"] == 1.5
