"""Training under ``lru`` and ``reset`` (C = 6, M = 3, so entries are evicted and cleared within a chunk): the
loss over a chunk's entry versions is the NLL generation assigns step by step to the same forced stream,
gradients reach LoRA and the encoders, the reconstruction loss covers every version, and a smoke run with
``--codebook-policy lru`` saves a checkpoint that loads with that policy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests._model_factories import repetitive_ids, tiny_zip2zip
from zip2zip.codec.history import NO_POSITION
from zip2zip.codec.lzw_codec import LZWCodec
from zip2zip.codec.versions import NO_VERSION
from zip2zip.data.chunking import versioned_chunk
from zip2zip.data.training_chunks import chunk_documents
from zip2zip.inference.generation import decode_step, prefill
from zip2zip.modeling.lora import build_lora_config
from zip2zip.modeling.model import Zip2ZipPreTrainedModel
from zip2zip.modeling.reconstruction import ReconstructionDecoder
from zip2zip.training.config import TrainConfig
from zip2zip.training.loop import run
from zip2zip.training.loss import Zip2ZipTrainingModule, collate_chunks

POLICIES = ["reset", "lru"]
MAX_DELTA = 2e-5
NUM_STEPS = 40


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models on a shared 2-core machine: one intra-op thread is ~100x faster than two."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _model(policy: str) -> Zip2ZipPreTrainedModel:
    return tiny_zip2zip("llama", max_codebook_size=6, codebook_policy=policy)


def _forced_stream(model: Zip2ZipPreTrainedModel, *, seed: int) -> tuple[list[int], list[torch.Tensor]]:
    """One base id, then ``NUM_STEPS`` ids drawn among those the head offers (mostly hypertokens, which the
    policies change; never the same-step code, which generation cannot score): (codes, the next-id logits
    after each code but the last)."""
    generator = torch.Generator().manual_seed(seed)
    codes = [repetitive_ids(1, seed=seed)[0]]
    logits, state = prefill(model, [codes], max_new_steps=NUM_STEPS)
    steps = []
    for _ in range(NUM_STEPS):
        steps.append(logits[0])
        offered = torch.isfinite(logits[0]).nonzero()[:, 0]
        hyper = offered[offered >= model.compression.initial_vocab_size]
        pool = hyper if len(hyper) and torch.rand(1, generator=generator) < 0.7 else offered
        code = int(pool[torch.randint(len(pool), (1,), generator=generator)])
        codes.append(code)
        logits = decode_step(model, state, [code])
    return codes, steps


@pytest.mark.parametrize("policy", POLICIES)
def test_the_loss_over_versions_is_the_step_by_step_nll(policy: str) -> None:
    """Each position's softmax offers exactly the versions live there, and each target names the version its id
    read: the training NLL of the forced stream equals the step logits' (base and hypertoken targets alike)."""
    model = _model(policy)
    codes, steps = _forced_stream(model, seed=0)
    chunk = versioned_chunk(np.array(codes), model.compression, 0)
    assert chunk.removal_positions is not None and chunk.hidden_versions is not None
    assert (chunk.removal_positions != NO_POSITION).any()  # entries were replaced or cleared
    if policy == "lru":
        assert (chunk.hidden_versions != NO_VERSION).any()
    batch = collate_chunks(
        [
            (
                chunk.ids,
                chunk.codebook.table,
                chunk.entry_positions,
                chunk.removal_positions,
                chunk.hidden_versions,
            )
        ],
        pad_token_id=model.compression.pad_token_id,
        max_subtokens=model.compression.max_subtokens,
    )
    with torch.no_grad():
        out = Zip2ZipTrainingModule(model, None, reconstruction_weight=0.0)(*batch.as_tuple())
    v = model.compression.initial_vocab_size
    step_nll = torch.stack(
        [-torch.log_softmax(s.float(), dim=-1)[c] for s, c in zip(steps, codes[1:], strict=True)]
    )  # [NUM_STEPS]
    is_hyper = torch.tensor(codes[1:]) >= v
    assert int(out["num_targets"]) == NUM_STEPS and int(out["num_hyper_targets"]) == int(is_hyper.sum())
    assert abs(float(out["hyper_nll_sum"]) - float(step_nll[is_hyper].sum())) <= MAX_DELTA * NUM_STEPS
    assert abs(float(out["base_nll_sum"]) - float(step_nll[~is_hyper].sum())) <= MAX_DELTA * NUM_STEPS
    assert abs(float(out["lm_nll_sum"]) / NUM_STEPS - float(step_nll.mean())) <= MAX_DELTA


@pytest.mark.parametrize("policy", POLICIES)
def test_gradients_reach_lora_and_the_encoders_and_reconstruction_covers_every_version(policy: str) -> None:
    model = _model(policy)
    model.add_lora(build_lora_config(model.causal_lm, rank=2, alpha=4))
    model.train()
    codec = LZWCodec.from_config(model.compression)
    chunks = chunk_documents([repetitive_ids(120, seed=s, alphabet=4) for s in range(2)], codec, 32)
    assert chunks.removal_positions is not None and (chunks.removal_positions != NO_POSITION).any()
    batch = collate_chunks(
        [chunks[i] for i in range(2)], pad_token_id=model.compression.pad_token_id, max_subtokens=3
    )
    decoder = ReconstructionDecoder(model.config.hidden_size, 3)
    module = Zip2ZipTrainingModule(model, decoder, reconstruction_weight=0.1, max_reconstruction_entries=None)
    out = module(*batch.as_tuple())
    out["loss"].backward()
    members = batch.codebook_table != model.compression.pad_token_id
    assert int(out["num_recon_members"]) == int(members.sum()) > 0
    for part in ("lora_", "input_encoder", "output_encoder"):
        grads = [p.grad for n, p in module.named_parameters() if part in n and p.requires_grad]
        assert grads and all(g is not None for g in grads), part
        assert sum(float(g.abs().sum()) for g in grads if g is not None) > 0, part


def test_a_smoke_run_with_lru_saves_a_checkpoint_that_loads_with_lru(tmp_path: Path) -> None:
    config = TrainConfig.from_name(
        "smoke",
        output_dir=str(tmp_path / "run"),
        cache_dir=str(tmp_path / "cache"),
        num_steps=2,
        save_every=2,
        eval_every=2,
        codebook_policy="lru",
        max_codebook_size=16,  # a 64-code chunk fills it: entries get evicted
    )
    log = run(config, show_progress=False)
    assert log["config"]["codebook_policy"] == "lru"
    assert json.loads((tmp_path / "run" / "train_log.json").read_text())["config"]["max_codebook_size"] == 16
    model = Zip2ZipPreTrainedModel.from_pretrained(tmp_path / "run" / "final")
    assert (model.compression.codebook_policy, model.compression.max_codebook_size) == ("lru", 16)


@pytest.mark.parametrize("policy", POLICIES)
def test_the_canonical_loss_over_versions_never_masks_an_encoder_target(policy: str) -> None:
    """The canonical mask follows the versions: a removed entry no longer forbids the code after its prefix,
    so every target of encoder chunks stays finite, and the masked NLL lies below the unmasked one."""
    model = _model(policy)
    codec = LZWCodec.from_config(model.compression)
    chunks = chunk_documents([repetitive_ids(120, seed=s, alphabet=4) for s in range(4)], codec, 32)
    batch = collate_chunks(
        [chunks[i] for i in range(len(chunks))], pad_token_id=model.compression.pad_token_id, max_subtokens=3
    )
    module = Zip2ZipTrainingModule(model, None, reconstruction_weight=0.0, canonical_loss=True)
    with torch.no_grad():
        out = module(*batch.as_tuple())
    assert torch.isfinite(out["canonical_nll_sum"])
    assert float(out["canonical_nll_sum"]) < float(out["lm_nll_sum"])
