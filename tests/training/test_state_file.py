"""zip2zip.training.state_file: nested training state through safetensors + JSON, without pickle."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from zip2zip.training.state_file import load_state, save_state


def test_optimizer_scheduler_and_rng_state_round_trip_exactly(tmp_path) -> None:
    module = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW([{"params": module.parameters(), "name": "lora"}], lr=1e-3)
    module(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5)
    state = {
        "step": 7,
        "optimizer": optimizer.state_dict(),  # int keys, tuples (betas), 0-d tensors (step), None
        "scheduler": scheduler.state_dict(),
        "python": (3, (1, 2**32 - 1), None),
        "nan": math.nan,
        "bf16": torch.arange(4, dtype=torch.bfloat16),
        "torch_rng": torch.get_rng_state(),
    }
    save_state(tmp_path / "s.safetensors", state)
    loaded = load_state(tmp_path / "s.safetensors")
    assert loaded.keys() == state.keys() and math.isnan(loaded.pop("nan"))
    torch.testing.assert_close(loaded.pop("optimizer")["state"], state["optimizer"]["state"], rtol=0, atol=0)
    assert loaded["python"] == state["python"] and loaded["scheduler"] == state["scheduler"]
    assert torch.equal(loaded["torch_rng"], state["torch_rng"]) and loaded["bf16"].dtype == torch.bfloat16
    reloaded = torch.optim.AdamW(module.parameters())
    reloaded.load_state_dict(load_state(tmp_path / "s.safetensors")["optimizer"])
    assert reloaded.param_groups[0]["betas"] == (0.9, 0.999)


def test_objects_other_than_plain_data_are_refused_on_save(tmp_path) -> None:
    with pytest.raises(TypeError, match=r"state\['key'\] is a ndarray"):
        save_state(tmp_path / "s.safetensors", {"key": np.zeros(3)})
    assert not (tmp_path / "s.safetensors").exists()


def test_a_damaged_structure_is_an_error(tmp_path) -> None:
    bad = {"dict": [["a", {"object": "os.system"}]]}
    save_file({}, str(tmp_path / "s.safetensors"), metadata={"structure": json.dumps(bad)})
    with pytest.raises(ValueError, match="unexpected entry"):
        load_state(tmp_path / "s.safetensors")
    save_file({}, str(tmp_path / "t.safetensors"))
    with pytest.raises(ValueError, match="not a saved training state"):
        load_state(tmp_path / "t.safetensors")
