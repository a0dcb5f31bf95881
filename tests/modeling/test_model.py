"""Zip2ZipPreTrainedModel: compression off == base, incremental == full forward, save/load and bad input,
plus the same-step code and the training loss."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest
import torch
from _model_factories import ARCHITECTURES, PAD, VOCAB, compression, repetitive_ids, tiny_base, tiny_zip2zip

from zip2zip.codec import lzw
from zip2zip.inference.generation import decode_step, prefill
from zip2zip.inference.tokenization import compress_batch, compress_ids, model_inputs
from zip2zip.modeling.checkpoint import ENCODER_WEIGHTS_FILE, checkpoint_contents
from zip2zip.modeling.config import HyperEncoderConfig, resolve_base_location
from zip2zip.modeling.model import Zip2ZipPreTrainedModel

ARCHS = sorted(ARCHITECTURES)
ROOT = Path(__file__).resolve().parents[2]


def _padded(seqs, compression, padding_side):
    return model_inputs(compress_batch([s.base_ids for s in seqs], compression, padding_side=padding_side))


def _batch(model, lengths=(60, 41, 50), *, padding_side="left"):
    seqs = [compress_ids(repetitive_ids(n, seed=n), model.compression) for n in lengths]
    return seqs, _padded(seqs, model.compression, padding_side)


# ------------------------------------------------------------------ test 1: compression off
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("off", [{"max_codebook_size": 0}, {"max_subtokens": 1}], ids=["C=0", "M=1"])
def test_compression_off_logits_identical_to_base(arch, off):
    model = tiny_zip2zip(arch, **off)
    base = model.causal_lm
    ids = torch.tensor([repetitive_ids(30, seed=1), [PAD] * 8 + repetitive_ids(22, seed=2)])
    mask = (torch.arange(30) >= torch.tensor([[0], [8]])).long()
    seqs = [compress_ids(r[r != PAD].tolist(), model.compression) for r in ids]
    assert all(s.ids == s.base_ids for s in seqs)  # the codec passes ids through
    with torch.no_grad():
        ours = model(
            ids, torch.zeros((2, 0, model.compression.max_subtokens), dtype=torch.long), attention_mask=mask
        )
        position_ids = (mask.cumsum(-1) - 1).clamp_min(0)
        theirs = base(input_ids=ids, attention_mask=mask, position_ids=position_ids).logits
    assert ours.logits.shape[-1] == VOCAB + model.compression.max_codebook_size
    assert torch.equal(ours.logits[..., :VOCAB], theirs[..., :VOCAB])
    assert torch.isinf(ours.logits[..., VOCAB:]).all()


# ------------------------------------------------------------------ test 2: incremental == full
@pytest.mark.parametrize("arch", ARCHS)
def test_incremental_decoding_matches_full_forward(arch):
    """Ragged batch, left-padded: prefill a prefix, teacher-force the rest step by step."""
    model = tiny_zip2zip(arch)
    seqs, batch = _batch(model)
    assert batch["codebook_table"].shape[1] > 10  # the streams really use hypertokens
    assert any(c >= VOCAB for s in seqs for c in s.ids)
    with torch.no_grad():
        full = model(
            batch["input_ids"],
            batch["codebook_table"],
            attention_mask=batch["attention_mask"],
            entry_positions=batch["entry_positions"],
        ).logits
    length, prefix = batch["input_ids"].shape[1], 7
    logits, state = prefill(model, [s.ids[:prefix] for s in seqs], max_new_steps=length)
    for t in range(prefix - 1, max(len(s.ids) for s in seqs)):
        for row, seq in enumerate(seqs):
            if t < len(seq.ids):
                ref = full[row, length - len(seq.ids) + t]
                assert torch.equal(torch.isinf(ref), torch.isinf(logits[row])), (row, t)
                finite = torch.isfinite(ref)
                torch.testing.assert_close(logits[row][finite], ref[finite], atol=1e-4, rtol=1e-4)
        nxt = []
        for row, seq in enumerate(seqs):
            if t + 1 < len(seq.ids):
                nxt.append(seq.ids[t + 1])
            else:
                nxt.append(PAD)
                state.is_active[row] = False
        if not any(state.is_active):
            break
        logits = decode_step(model, state, nxt)
    # the caches hold exactly the codec's entries: a slot exists iff the stream created it
    for row, seq in enumerate(seqs):
        assert state.streams[row].entries == list(lzw.decompress(seq.ids, model.compression)[1])
        assert state.hyper_cache.num_entries[row] == seq.codebook.num_entries


def test_right_and_left_padding_give_the_same_logits():
    model = tiny_zip2zip("llama")
    out = {}
    for side in ("left", "right"):
        seqs, batch = _batch(model, padding_side=side)
        with torch.no_grad():
            logits = model(
                batch["input_ids"],
                batch["codebook_table"],
                attention_mask=batch["attention_mask"],
                entry_positions=batch["entry_positions"],
            ).logits
        real = batch["attention_mask"].bool()
        out[side] = [logits[r][real[r]] for r in range(len(seqs))]
    for a, b in zip(out["left"], out["right"], strict=True):
        assert torch.equal(torch.isinf(a), torch.isinf(b))
        torch.testing.assert_close(a[torch.isfinite(a)], b[torch.isfinite(b)], atol=1e-4, rtol=1e-4)


# ------------------------------------------------------------------ same-step code and loss
def test_same_step_code_is_never_a_minus_inf_target():
    """compress([5, 5, 5]) = [5, V]: entry V = (5, 5) completes on reading the code that names it."""
    model = tiny_zip2zip("llama")
    seq = compress_ids([5, 5, 5], model.compression)
    assert seq.ids == [5, VOCAB] and seq.entry_positions == [1]
    batch = _padded([seq], model.compression, "right")
    kwargs = dict(attention_mask=batch["attention_mask"], entry_positions=batch["entry_positions"])
    scored = model(batch["input_ids"], batch["codebook_table"], labels=batch["input_ids"], **kwargs)
    assert torch.isfinite(scored.loss)
    assert torch.isfinite(scored.logits[0, 0, VOCAB])  # opened because it is the target
    plain = model(batch["input_ids"], batch["codebook_table"], **kwargs)
    assert plain.logits[0, 0, VOCAB] == float("-inf")  # generation never offers it
    logits, _ = prefill(model, [[5]], max_new_steps=1)
    assert torch.isinf(logits[0, VOCAB:]).all()


@pytest.mark.parametrize("arch", ARCHS)
def test_training_loss_is_finite_and_reaches_encoders(arch):
    model = tiny_zip2zip(arch)
    model.train()
    _, batch = _batch(model, padding_side="right")
    out = model(
        batch["input_ids"],
        batch["codebook_table"],
        attention_mask=batch["attention_mask"],
        entry_positions=batch["entry_positions"],
        labels=batch["input_ids"],
    )
    assert torch.isfinite(out.loss)
    out.loss.backward()
    assert model.input_encoder.out_proj.weight.grad.abs().sum() > 0
    assert model.output_encoder.out_proj.weight.grad.abs().sum() > 0


# ------------------------------------------------------------------ test 4: save / load
def _saved(tmp_path, **kwargs):
    base_dir = tmp_path / "base"
    tiny_base("qwen2").save_pretrained(base_dir)
    model = Zip2ZipPreTrainedModel.from_pretrained(
        base_dir, compression=compression(), hyper_encoder=HyperEncoderConfig(num_heads=4), **kwargs
    )
    with torch.no_grad():  # make the encoders non-trivial so a silent re-init would show
        model.input_encoder.out_proj.weight.normal_(0, 0.2)
        model.output_encoder.out_proj.weight.normal_(0, 0.2)
    ckpt = model.save_pretrained(tmp_path / "ckpt")
    return model.eval(), ckpt


def _logits(model):
    _, batch = _batch(model, lengths=(30, 20))
    with torch.no_grad():
        return model(
            batch["input_ids"],
            batch["codebook_table"],
            attention_mask=batch["attention_mask"],
            entry_positions=batch["entry_positions"],
        ).logits


@pytest.mark.parametrize("tie", [False, True], ids=["separate", "tied"])
def test_save_load_round_trip_identical_logits(tmp_path, tie):
    model, ckpt = _saved(tmp_path, tie_encoders=tie)
    assert not any(p.name.endswith(".bin") or p.name == "model.safetensors" for p in ckpt.iterdir())
    loaded = Zip2ZipPreTrainedModel.from_pretrained(ckpt).eval()
    assert loaded.config == model.config
    assert torch.equal(_logits(model), _logits(loaded))


def test_lora_adapter_round_trip(tmp_path):
    from peft import LoraConfig

    model, _ = _saved(tmp_path)
    model.causal_lm.name_or_path = "/machine/specific/install/path"  # what peft would record
    with warnings.catch_warnings():
        warnings.simplefilter(
            "error", FutureWarning
        )  # peft's read of a deprecated transformers property is quieted
        model.add_lora(LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    model.save_pretrained(tmp_path / "lora")
    adapter_config = json.loads((tmp_path / "lora" / "adapter" / "adapter_config.json").read_text())
    assert adapter_config["base_model_name_or_path"] == model.config.base_model_name_or_path
    assert "/machine/specific" not in (tmp_path / "lora" / "adapter" / "README.md").read_text()
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        loaded = Zip2ZipPreTrainedModel.from_pretrained(tmp_path / "lora").eval()
    torch.testing.assert_close(_logits(model.eval()), _logits(loaded))


@pytest.mark.parametrize("layout", ["ours", "authors"])
def test_unknown_peft_type_is_named_with_its_file(tmp_path, layout):
    """Was a bare ``KeyError: 'EVIL'`` from peft, after the base model had loaded."""
    import shutil

    if layout == "ours":
        from peft import LoraConfig

        model, _ = _saved(tmp_path)
        model.add_lora(LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
        folder = model.save_pretrained(tmp_path / "lora")
        adapter_config, base_model = folder / "adapter" / "adapter_config.json", None
    else:
        fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "upstream"
        folder = tmp_path / "authors"
        shutil.copytree(fixtures / "v1_transformer_untied_lora", folder)
        adapter_config, base_model = folder / "adapter_config.json", fixtures / "base_untied"
    adapter_config.write_text(json.dumps({**json.loads(adapter_config.read_text()), "peft_type": "EVIL"}))
    with pytest.raises(
        ValueError, match=rf"^{re.escape(str(adapter_config))}: peft_type='EVIL', but .* LoRA"
    ):
        Zip2ZipPreTrainedModel.from_pretrained(folder, base_model=base_model)


def test_compression_off_checkpoint_has_no_encoder_weights(tmp_path):
    model = Zip2ZipPreTrainedModel.from_base(
        tiny_base(),
        compression=compression(max_codebook_size=0),
        base_model_name_or_path=str(tmp_path / "base"),
    ).eval()
    model.causal_lm.save_pretrained(str(tmp_path / "base"))
    model.save_pretrained(tmp_path / "off")
    assert not (tmp_path / "off" / ENCODER_WEIGHTS_FILE).exists()
    loaded = Zip2ZipPreTrainedModel.from_pretrained(tmp_path / "off").eval()
    ids = torch.tensor([repetitive_ids(12)])
    table = torch.zeros((1, 0, 3), dtype=torch.long)
    with torch.no_grad():
        torch.testing.assert_close(model(ids, table).logits, loaded(ids, table).logits)


def test_missing_encoder_weights_is_an_error(tmp_path):
    _, ckpt = _saved(tmp_path)
    (ckpt / ENCODER_WEIGHTS_FILE).unlink()
    with pytest.raises(ValueError, match="randomly initialised"):
        Zip2ZipPreTrainedModel.from_pretrained(ckpt)


def test_mismatched_encoder_weights_are_an_error(tmp_path):
    _, ckpt = _saved(tmp_path, tie_encoders=True)
    import json

    cfg = json.loads((ckpt / "zip2zip_config.json").read_text())
    cfg["tie_encoders"] = False
    (ckpt / "zip2zip_config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="does not match this model's encoders"):
        Zip2ZipPreTrainedModel.from_pretrained(ckpt)


def test_encoder_shape_mismatch_is_an_error(tmp_path):
    _, ckpt = _saved(tmp_path)
    import json

    cfg = json.loads((ckpt / "zip2zip_config.json").read_text())
    cfg["hyper_encoder"]["intermediate_size"] = 7
    (ckpt / "zip2zip_config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="shape mismatch"):
        Zip2ZipPreTrainedModel.from_pretrained(ckpt)


def test_package_relative_base_location_resolves_to_the_installed_package():
    import json as json_package

    assert resolve_base_location("package:json") == str(Path(json_package.__file__).parent)
    assert resolve_base_location("HuggingFaceTB/SmolLM2-135M") == "HuggingFaceTB/SmolLM2-135M"
    with pytest.raises(ValueError, match="not installed"):
        resolve_base_location("package:no_such_package_zip2zip")


def test_package_reference_is_located_without_running_the_package(tmp_path, monkeypatch):
    """A dotted ``package:a.b`` would import ``a`` (run its ``__init__``): only a plain name is accepted."""
    package = tmp_path / "planted_pkg"
    (package / "sub").mkdir(parents=True)
    marker = tmp_path / "marker"
    (package / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    (package / "sub" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert resolve_base_location("package:planted_pkg") == str(package)
    for name in ("planted_pkg.sub", "planted_pkg/sub", "../planted_pkg", ""):
        with pytest.raises(ValueError, match="single module name"):
            resolve_base_location(f"package:{name}")
    assert not marker.exists()


def _saved_with_lora(tmp_path):
    from peft import LoraConfig

    model, _ = _saved(tmp_path)
    model.add_lora(LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    return model.eval(), model.save_pretrained(tmp_path / "lora")


def test_checkpoint_records_what_it_holds(tmp_path):
    _, ckpt = _saved_with_lora(tmp_path)
    assert json.loads((ckpt / "zip2zip_config.json").read_text())["contents"] == ["adapter", "hyper_encoders"]
    assert checkpoint_contents(ckpt) == {"adapter", "hyper_encoders"}


@pytest.mark.parametrize(
    ("removed", "named"),
    [
        pytest.param("adapter", "adapter", id="adapter-dir"),
        pytest.param("adapter/adapter_model.safetensors", "adapter", id="adapter-weights"),
        pytest.param(ENCODER_WEIGHTS_FILE, "randomly initialised", id="encoders"),
    ],
)
def test_checkpoint_missing_a_component_is_refused_naming_it(tmp_path, removed, named):
    import shutil

    _, ckpt = _saved_with_lora(tmp_path)
    target = ckpt / removed
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    with pytest.raises(ValueError, match=rf"is incomplete(.|\n)*{removed}(.|\n)*{named}"):
        Zip2ZipPreTrainedModel.from_pretrained(ckpt)


def test_checkpoint_holding_an_unlisted_component_is_refused(tmp_path):
    _, ckpt = _saved_with_lora(tmp_path)
    config_file = ckpt / "zip2zip_config.json"
    config_file.write_text(config_file.read_text().replace('"adapter",', ""))
    with pytest.raises(ValueError, match="does not list"):
        Zip2ZipPreTrainedModel.from_pretrained(ckpt)


@pytest.mark.parametrize("lost_adapter", [False, True], ids=["complete", "lost-adapter"])
def test_checkpoint_without_a_contents_record_is_refused(tmp_path, lost_adapter):
    """Checkpoints written before ``contents`` existed: their files cannot tell "saved without LoRA" from
    "lost its LoRA" (which loaded as the base without it, |dlogit| 0.68), so both are refused with the fix."""
    import shutil

    _, ckpt = _saved_with_lora(tmp_path)
    config_file = ckpt / "zip2zip_config.json"
    data = json.loads(config_file.read_text())
    del data["contents"]
    config_file.write_text(json.dumps(data))
    if lost_adapter:
        shutil.rmtree(ckpt / "adapter")
    with pytest.raises(
        ValueError, match=r"zip2zip_config.json does not list the components.*add \"contents\""
    ):
        Zip2ZipPreTrainedModel.from_pretrained(ckpt)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("smollm2-cpu-zip2zip", {"adapter", "hyper_encoders"}, id="zip2zip"),
        pytest.param("smollm2-cpu-control", {"adapter"}, id="control-without-encoders"),
    ],
)
def test_committed_checkpoints_are_complete(name, expected):
    assert checkpoint_contents(ROOT / "models" / name) == expected


def test_saving_a_base_without_path_is_an_error(tmp_path):
    model = tiny_zip2zip("llama")
    with pytest.raises(ValueError, match="no name or path"):
        model.save_pretrained(tmp_path / "x")


# ------------------------------------------------------------------ test 5: bad input
def test_ids_beyond_joint_vocabulary_are_rejected():
    model = tiny_zip2zip("llama", max_codebook_size=8)
    table = torch.zeros((1, 0, 3), dtype=torch.long)
    with pytest.raises(ValueError, match="outside the joint vocabulary"):
        model(torch.tensor([[5, VOCAB + 8]]), table)
    with pytest.raises(ValueError, match="no entry"):
        model(torch.tensor([[5, VOCAB + 1]]), table)
    with pytest.raises(ValueError, match="does not exist yet"):
        prefill(model, [[5, VOCAB + 8]], max_new_steps=1)


_NO_TABLE = torch.zeros((1, 0, 3), dtype=torch.long)


@pytest.mark.parametrize(
    ("error", "message", "call"),
    [
        pytest.param(
            ValueError,
            r"input_ids has shape \(0, 4\): an empty batch",
            lambda m: m(torch.zeros((0, 4), dtype=torch.long), torch.zeros((0, 0, 3), dtype=torch.long)),
            id="empty-batch",  # was "cannot reshape tensor of 0 elements"
        ),
        pytest.param(
            ValueError,
            r"input_ids has shape \(1, 0\)",
            lambda m: m(torch.zeros((1, 0), dtype=torch.long), _NO_TABLE),
            id="empty-rows",
        ),
        pytest.param(
            ValueError,
            r"labels shape \(1, 2\) != input_ids \(1, 3\)",
            lambda m: m(torch.tensor([[5, 6, 7]]), _NO_TABLE, labels=torch.tensor([[5, 6]])),
            id="label-shape",  # was a torch size error
        ),
        pytest.param(
            ValueError,
            r"position_ids shape \(1, 2\) != input_ids \(1, 3\)",
            lambda m: m(torch.tensor([[5, 6, 7]]), _NO_TABLE, position_ids=torch.tensor([[0, 1]])),
            id="position-shape",
        ),
        pytest.param(
            TypeError,
            r"input_ids has dtype torch.float32.*pass input_ids.long\(\)",
            lambda m: m(torch.tensor([[5.0, 6.0]]), _NO_TABLE),
            id="float-ids",  # was "Expected tensor ... Long, Int" from embedding / gather
        ),
        pytest.param(
            TypeError,
            r"codebook_table has dtype torch.float32",
            lambda m: m(torch.tensor([[5, 6]]), torch.zeros((1, 0, 3))),
            id="float-table",  # was accepted
        ),
        pytest.param(
            TypeError,
            r"input_ids must be a torch.Tensor, got list",
            lambda m: m([[5, 6]], _NO_TABLE),
            id="list-ids",
        ),
    ],
)
def test_malformed_batch_is_one_clear_error(error, message, call):
    with pytest.raises(error, match=message):
        call(tiny_zip2zip("llama", max_codebook_size=8))


def test_hypertoken_used_before_it_exists_is_rejected():
    model = tiny_zip2zip("llama")
    seq = compress_ids([5, 6, 5, 6], model.compression)  # [5, 6, V] with entry V = (5, 6) at 1
    assert seq.ids == [5, 6, VOCAB]
    batch = _padded([seq], model.compression, "right")
    early = torch.tensor([[VOCAB, 6, 5]])
    with pytest.raises(ValueError, match="before its entry exists"):
        model(early, batch["codebook_table"], entry_positions=batch["entry_positions"])


def test_m_mismatch_between_table_and_model_is_rejected():
    model = tiny_zip2zip("llama")
    with pytest.raises(ValueError, match="M=4"):
        model(torch.tensor([[5]]), torch.zeros((1, 1, 4), dtype=torch.long))


def test_m_mismatch_with_checkpoint_is_rejected(tmp_path):
    _, ckpt = _saved(tmp_path)
    with pytest.raises(ValueError, match="max_subtokens"):
        Zip2ZipPreTrainedModel.from_pretrained(ckpt, compression=compression(max_subtokens=4))


def test_tokenizer_larger_than_model_vocab_is_rejected():
    from zip2zip.codec.config import CompressionConfig

    too_big = CompressionConfig(initial_vocab_size=500, pad_token_id=0)
    with pytest.raises(ValueError, match="tokenizer/model mismatch"):
        Zip2ZipPreTrainedModel.from_base(tiny_base("llama"), compression=too_big)


@pytest.mark.parametrize("policy", ["reset", "lru"])
def test_a_slot_table_pass_refuses_a_policy_that_replaces_entries(policy: str) -> None:
    import dataclasses

    replacing = dataclasses.replace(compression(), codebook_policy=policy)
    model = Zip2ZipPreTrainedModel.from_base(tiny_base("llama"), compression=replacing)
    assert model.compression.codebook_policy == policy
    ids = torch.tensor([[5, 6, 5, 6]])
    table = torch.full((1, 1, 3), PAD)
    with pytest.raises(ValueError, match=f"codebook_policy='{policy}': a codebook table of slots serves"):
        model(ids, table)


def test_tokenizer_and_config_vocab_mismatch_is_rejected():
    from _model_factories import tiny_tokenizer

    from zip2zip.codec.config import CompressionConfig
    from zip2zip.inference.tokenization import Zip2ZipTokenizer

    with pytest.raises(ValueError, match="tokenizer/model mismatch"):
        Zip2ZipTokenizer(tiny_tokenizer(), CompressionConfig(initial_vocab_size=90, pad_token_id=0))
    larger_v = CompressionConfig(initial_vocab_size=101, pad_token_id=0)  # the authors' format 2: V = rows
    with pytest.raises(ValueError, match="tokenizer/model mismatch"):
        Zip2ZipTokenizer(tiny_tokenizer(), larger_v)
    assert Zip2ZipTokenizer(tiny_tokenizer(), larger_v, allow_unused_base_ids=True).compression == larger_v
