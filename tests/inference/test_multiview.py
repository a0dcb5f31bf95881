"""Multi-view scores: the tree pass equals explicit parses scored one by one, and the bounds hold."""

from __future__ import annotations

import dataclasses
import itertools
import math

import pytest
import torch
from _model_factories import VOCAB, compression, repetitive_ids, tiny_base, tiny_zip2zip
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import AutoModelForCausalLM, Qwen2Config

from zip2zip.codec.history import NO_POSITION
from zip2zip.inference import multiview
from zip2zip.inference.scoring import score_continuations
from zip2zip.inference.scoring_parse import SegmentedCodes, batch_inputs, compress_segments
from zip2zip.modeling.config import HyperEncoderConfig
from zip2zip.modeling.model import Zip2ZipPreTrainedModel

texts = st.tuples(
    st.lists(st.integers(3, 7), min_size=1, max_size=12), st.lists(st.integers(3, 7), min_size=1, max_size=24)
)


def _compositions(k: int) -> list[list[int]]:
    """Every way to cut k ids into consecutive pieces, as piece lengths."""
    return [
        [b - a for a, b in itertools.pairwise((0, *cuts, k))]
        for r in range(k)
        for cuts in itertools.combinations(range(1, k), r)
    ]


@torch.no_grad()
def _brute_force(model: Zip2ZipPreTrainedModel, seg: SegmentedCodes) -> float:
    """Exact multi-view of the continuation (``freeze``): every parse of every target scored by its own full
    forward over a codebook cut to the entries offered where the target is predicted."""
    comp = model.compression
    v = comp.initial_vocab_size
    entries, positions = seg.stream.entries, seg.stream.entry_positions
    n_last = seg.codes_per_segment[-1]
    total = 0.0
    for j in range(n_last):
        root = len(seg.codes) - 1 - n_last + j
        target = seg.codes[root + 1]
        phrase = (target,) if target < v else tuple(entries[target - v])
        slot_of = {tuple(e): s for s, (e, p) in enumerate(zip(entries, positions, strict=True)) if p <= root}
        table = torch.full((1, max(len(entries), 1), comp.max_subtokens), comp.pad_token_id)
        entry_positions = torch.full((1, table.shape[1]), NO_POSITION)
        for entry, s in slot_of.items():
            table[0, s, : len(entry)] = torch.tensor(entry)
            entry_positions[0, s] = positions[s]
        parses = []
        for lengths in _compositions(len(phrase)):
            cuts = list(itertools.accumulate(lengths, initial=0))
            pieces = [phrase[a:b] for a, b in itertools.pairwise(cuts)]
            if any(len(p) > 1 and p not in slot_of for p in pieces):
                continue
            columns = [p[0] if len(p) == 1 else v + slot_of[p] for p in pieces]
            ids = torch.tensor([seg.codes[: root + 1] + columns[:-1]])
            logits = model(ids, table, entry_positions=entry_positions).logits[0, root:]
            logprobs = torch.log_softmax(logits.double(), -1)
            parses.append(sum(float(logprobs[i, c]) for i, c in enumerate(columns)))
        total += math.log(sum(math.exp(p) for p in parses))
    return total


@pytest.fixture(scope="module")
def model() -> Zip2ZipPreTrainedModel:
    return tiny_zip2zip(max_codebook_size=48).double()


@settings(max_examples=12, deadline=None)
@given(text=texts)
def test_exact_multiview_equals_the_sum_over_enumerated_parses(model, text):
    context, continuation = text
    seg = compress_segments([context, continuation], model.compression)
    (score,) = score_continuations(model, [(context, continuation)], multiview=True)
    assert score.multiview_logprob == pytest.approx(_brute_force(model, seg), abs=1e-9)  # float64 model


_policy_models = {
    p: tiny_zip2zip(max_codebook_size=6, codebook_policy=p).double() for p in ("freeze", "lru", "reset")
}


@settings(max_examples=15, deadline=None)
@given(text=texts, policy=st.sampled_from(["freeze", "lru", "reset"]))
def test_first_token_bounds_exact_which_bounds_strict(text, policy):
    model = _policy_models[policy]
    (score,) = score_continuations(model, [text], multiview=True)
    assert score.multiview_logprob is not None and score.first_token_logprob is not None
    assert score.first_token_logprob >= score.multiview_logprob - 1e-9
    assert score.multiview_logprob >= score.logprob - 1e-5  # the strict score is summed in float32


@pytest.mark.parametrize("position_mode", ["compressed", "base_token_end"])
def test_tree_mask_gives_the_logits_of_separate_forwards(position_mode):
    model = tiny_zip2zip(max_codebook_size=32)
    model.config = dataclasses.replace(model.config, position_mode=position_mode)
    comp = model.compression
    seg = compress_segments(
        [repetitive_ids(20, seed=3, alphabet=4), repetitive_ids(40, seed=4, alphabet=4)], comp
    )
    inputs = batch_inputs([seg], comp, device=torch.device("cpu"))
    (trees,) = multiview.batch_trees(inputs, [seg], comp)
    assert any(p != -1 for t in trees for p in t.parents)  # the text has branches two pieces deep
    (nodes,) = multiview.branch_logprobs(model, inputs, [trees])
    with torch.no_grad():
        for tree, logprobs in zip(trees, nodes, strict=True):
            for i in range(len(tree.parents)):
                chain = [i]
                while tree.parents[chain[-1]] != -1:
                    chain.append(tree.parents[chain[-1]])
                ids = torch.tensor([seg.codes[: tree.root + 1] + [tree.columns[c] for c in reversed(chain)]])
                separate = model(
                    ids,
                    inputs.codebook_table,
                    entry_positions=inputs.entry_positions.masked_fill(
                        inputs.entry_positions > tree.root, NO_POSITION
                    ),
                ).logits[0, -1]
                torch.testing.assert_close(
                    logprobs[i], torch.log_softmax(separate.float(), -1), atol=2e-5, rtol=0
                )


def test_chunked_branch_forwards_give_the_same_scores():
    model = tiny_zip2zip(max_codebook_size=32)
    requests = [(repetitive_ids(8, seed=s), repetitive_ids(50, seed=s + 10)) for s in range(3)]
    whole = score_continuations(model, requests, multiview=True)
    chunked = score_continuations(model, requests, multiview=True, max_branch_nodes=2, batch_size=2)
    for a, b in zip(whole, chunked, strict=True):
        assert b.multiview_logprob == pytest.approx(a.multiview_logprob, abs=1e-4)
        assert b.logprob == pytest.approx(a.logprob, abs=1e-4)


def test_target_tree_lists_every_segmentation():
    v = VOCAB
    tree = multiview.target_tree((5, 6, 7), root=4, column_of={(5, 6): v, (5, 6, 7): v + 1})
    assert (tree.parents, tree.columns, tree.spans) == ([-1, -1, 0], [5, v, 6], [1, 2, 1])  # [5], [V], [5, 6]
    done = sorted((source, c) for (source, c, to) in tree.edges if to == -1)
    assert done == [(-1, v + 1), (1, 7), (2, 7)]  # [V+1], [V, 7], [5, 6, 7]


def test_multiview_refuses_a_long_max_subtokens():
    comp = dataclasses.replace(compression(), max_subtokens=multiview.MAX_MULTIVIEW_SUBTOKENS + 1)
    seg = compress_segments([[3], [4, 5, 4, 5]], comp)
    inputs = batch_inputs([seg], comp, device=torch.device("cpu"))
    with pytest.raises(ValueError, match="max_subtokens"):
        multiview.batch_trees(inputs, [seg], comp)


def test_multiview_refuses_a_base_with_sliding_window_layers():
    """One tree mask goes to every layer; a sliding-window layer would see more than its window."""
    settings = {**tiny_base("qwen2").config.to_dict(), "use_sliding_window": True, "sliding_window": 4}
    settings.update(max_window_layers=0, layer_types=None)
    base = AutoModelForCausalLM.from_config(Qwen2Config(**settings), attn_implementation="sdpa")
    model = Zip2ZipPreTrainedModel.from_base(
        base, compression=compression(), hyper_encoder=HyperEncoderConfig(num_heads=4)
    )
    assert "sliding_attention" in model.decoder.config.layer_types
    with pytest.raises(ValueError, match="sliding-window"):
        score_continuations(model, [([3, 4, 5, 3, 4], [3, 4, 5, 3, 4, 5])], multiview=True)
