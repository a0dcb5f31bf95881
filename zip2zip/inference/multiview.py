"""Multi-view scores: each scored code's probability summed over the ways its text could have been cut.

The strict score (``scoring``) is the probability of one parse. For each *target* (one code of the scored
segment of the scoring parse, a phrase of base ids ``b_1..b_k``), the **exact multi-view** score replaces
``P(target | codes before)`` by the sum, over every segmentation of ``b_1..b_k`` into available pieces, of the
product of the pieces' probabilities, each conditioned on the codes before the target and the pieces before
it. The **first-token bound** (zip2zip++'s name; a token is a code here) keeps only each segmentation's first piece: the sum over pieces that begin the
target of ``P(piece | codes before)``, the rest of the target counted as certain.

Rules (what the numbers mean):

- Targets never merge: a segmentation cuts one target, never across targets, the context/continuation
  boundary or a window start (the authors' zip2zip++ rule: merges across target boundaries are not included).
- Available pieces: every base id, and every entry the head offers at the position that predicts the target
  (the strict head's own set: created earlier, live, not the lru victim). The set is held fixed across one
  target's pieces: entries a segmentation would create on the way are not used, and the head at a branch
  offers that same set.
- Bounds: the one-piece segmentation is the strict parse, so exact >= strict; after a first piece the
  continuations of each segmentation are distinct code sequences whose probabilities sum to <= 1, so
  first-token >= exact. All are scores of the unmasked softmax (not the canonical one).

Cost: one forward over the path plus every *branch node* (a run of pieces that is a proper prefix of a
target), with a tree-shaped 4-D attention mask: a node sees the path up to its target's predicting position
and its own ancestors. A target of k ids has at most ``2^(k-1) - 1`` nodes, so M is capped at
``MAX_MULTIVIEW_SUBTOKENS``. Rows with many nodes are cut into forwards of at most ``max_branch_nodes`` nodes
(whole targets per forward; the path is recomputed in each), which bounds memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from zip2zip.modeling.positions import code_position_ids

if TYPE_CHECKING:
    from zip2zip.codec.config import CompressionConfig
    from zip2zip.inference.scoring_parse import BatchInputs, SegmentedCodes
    from zip2zip.modeling.model import Zip2ZipPreTrainedModel

MAX_MULTIVIEW_SUBTOKENS = 8  # a target of 8 ids has up to 127 branch nodes
DEFAULT_MAX_BRANCH_NODES = 1024
_ROOT = -1  # an edge from the path position that predicts the target
_DONE = -1  # an edge that completes the target


@dataclass
class TargetTree:
    """The segmentations of one target as a tree: nodes are runs of pieces, edges the piece read next.

    ``edges`` are ``(from node or _ROOT, piece column, to node or _DONE)``; ``root`` is the input position
    predicting the target. Node ``i`` feeds ``columns[i]`` (covering ``spans[i]`` base ids) after ``parents[i]``.
    """

    root: int
    edges: list[tuple[int, int, int]] = field(default_factory=list)
    parents: list[int] = field(default_factory=list)
    columns: list[int] = field(default_factory=list)
    spans: list[int] = field(default_factory=list)


def target_tree(phrase: tuple[int, ...], root: int, column_of: dict[tuple[int, ...], int]) -> TargetTree:
    """The tree of ``phrase``'s segmentations into base ids and the entries in ``column_of`` (phrase ->
    model column, only entries available at ``root``).

    Example: phrase (5, 6, 7) with entries (5, 6) -> V and (5, 6, 7) -> V+1 has three segmentations,
    [5, 6, 7], [V, 7] and [V+1]: root edges read 5 (into node 0), V (node 1) and V+1 (done); node 0 reads 6
    into node 2, which reads 7 (done); node 1 reads 7 (done).
    """
    tree = TargetTree(root)
    stack = [(_ROOT, 0)]  # (node, offset into the phrase)
    while stack:
        node, offset = stack.pop()
        for length in range(1, len(phrase) - offset + 1):
            piece = phrase[offset : offset + length]
            column = piece[0] if length == 1 else column_of.get(piece)
            if column is None:
                continue
            if offset + length == len(phrase):
                tree.edges.append((node, column, _DONE))
                continue
            child = len(tree.parents)
            tree.parents.append(node)
            tree.columns.append(column)
            tree.spans.append(length)
            tree.edges.append((node, column, child))
            stack.append((child, offset + length))
    return tree


def row_trees(seg: SegmentedCodes, offered: np.ndarray, initial_vocab_size: int) -> list[TargetTree]:
    """One tree per target of ``seg``'s last segment; ``offered`` ``[L, S]`` is the row's head mask."""
    v = initial_vocab_size
    if seg.versions is None:
        entries = [tuple(e) for e in seg.stream.entries]
    else:
        entries = [tuple(e) for e in seg.versions.entries]
    columns_of: dict[tuple[int, ...], list[int]] = {}
    for k, entry in enumerate(entries[: offered.shape[1]]):
        columns_of.setdefault(entry, []).append(k)
    columns = seg.column_ids
    n_last = seg.codes_per_segment[-1]
    first = len(columns) - 1 - n_last
    trees = []
    for j in range(n_last):
        root = first + j
        target = columns[root + 1]
        phrase = (target,) if target < v else entries[target - v]
        live = offered[root]
        column_of: dict[tuple[int, ...], int] = {}
        for start in range(len(phrase)):
            for end in range(start + 2, len(phrase) + 1):
                sub = phrase[start:end]
                column_of.update((sub, v + k) for k in columns_of.get(sub, ()) if live[k])
        trees.append(target_tree(phrase, root, column_of))
    return trees


def batch_trees(
    inputs: BatchInputs, batch: list[SegmentedCodes], comp: CompressionConfig
) -> list[list[TargetTree]]:
    """The target trees of every row of ``batch`` (padded into ``inputs``), in scored order."""
    if comp.max_subtokens > MAX_MULTIVIEW_SUBTOKENS:
        raise ValueError(
            f"multi-view scoring enumerates segmentations (up to 2^(M-1) per code): max_subtokens="
            f"{comp.max_subtokens} > {MAX_MULTIVIEW_SUBTOKENS}; score strict/canonical only"
        )
    offered = inputs.offered().cpu().numpy()  # [B, L, S]
    return [row_trees(seg, offered[r], comp.initial_vocab_size) for r, seg in enumerate(batch)]


def first_token_logprob(trees: list[TargetTree], scored_logprobs: torch.Tensor) -> float:
    """The first-token bound of one row (nats): per target, the log of the summed probability of the pieces
    that begin it. ``scored_logprobs`` ``[n, W]`` is the strict log-softmax at the row's n scored positions."""
    total = 0.0
    for i, tree in enumerate(trees):
        total += _logsumexp([float(scored_logprobs[i, c]) for (s, c, _) in tree.edges if s == _ROOT])
    return total


def exact_logprobs(
    model: Zip2ZipPreTrainedModel,
    inputs: BatchInputs,
    trees: list[list[TargetTree]],
    scored_logprobs: list[torch.Tensor],
    *,
    max_branch_nodes: int = DEFAULT_MAX_BRANCH_NODES,
) -> list[float]:
    """The exact multi-view score of each row (nats): root edges read the strict pass's ``scored_logprobs``
    (one ``[n, W]`` per row), the other edges the branch forwards (``branch_logprobs``)."""
    node_logprobs = branch_logprobs(model, inputs, trees, max_branch_nodes=max_branch_nodes)
    return [
        sum(_exact(tree, logprobs[i], nodes[i]) for i, tree in enumerate(row))
        for row, nodes, logprobs in zip(trees, node_logprobs, scored_logprobs, strict=True)
    ]


def _exact(tree: TargetTree, root_logprobs: torch.Tensor, node_logprobs: torch.Tensor | None) -> float:
    """Log of the summed probability of every segmentation: children before parents (nodes are created
    after their parent, so reverse creation order works)."""
    below: list[list[float]] = [[] for _ in tree.parents]
    at_root: list[float] = []
    for source, column, child in reversed(tree.edges):
        lp = float(root_logprobs[column] if source == _ROOT else node_logprobs[source, column])  # type: ignore[index]
        if child != _DONE:
            lp += _logsumexp(below[child])
        (at_root if source == _ROOT else below[source]).append(lp)
    return _logsumexp(at_root)


def _logsumexp(values: list[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(x - top) for x in values))


def branch_logprobs(
    model: Zip2ZipPreTrainedModel,
    inputs: BatchInputs,
    trees: list[list[TargetTree]],
    *,
    max_branch_nodes: int = DEFAULT_MAX_BRANCH_NODES,
) -> list[list[torch.Tensor | None]]:
    """Log-softmax ``[nodes, W]`` at every branch node of every tree (None for a tree without nodes).

    Each forward holds the whole path of every row and, per row, whole trees up to ``max_branch_nodes``
    nodes (a larger tree goes alone).
    """
    _check_full_attention(model)
    hyper_in, hyper_out = model.encode_codebook(inputs.codebook_table)
    path_positions = code_position_ids(
        model.config, inputs.input_ids, inputs.attention_mask, inputs.codebook_table
    )
    offered = inputs.offered()  # [B, L, S]
    chunks = [_chunks(row, max_branch_nodes) for row in trees]
    out: list[list[torch.Tensor | None]] = [[None] * len(row) for row in trees]
    for c in range(max((len(ch) for ch in chunks), default=0)):
        parts = [ch[c] if c < len(ch) else [] for ch in chunks]
        layout = _TreeLayout.build(
            [[trees[r][t] for t in part] for r, part in enumerate(parts)], inputs, path_positions, model
        )
        if layout.width == 0:
            continue
        ids = torch.cat([inputs.input_ids, layout.node_ids], 1)
        positions = torch.cat([path_positions, layout.node_positions], 1)
        embeds = model.embed(ids, hyper_in)
        mask = _additive(layout.attention(inputs.attention_mask), embeds.dtype)
        hidden = model.run_decoder(embeds, attention_mask=mask, position_ids=positions)
        node_hidden = hidden[:, inputs.input_ids.shape[1] :]
        slot_mask = offered.gather(1, layout.node_roots[..., None].expand(-1, -1, offered.shape[-1]))
        num_columns = offered.shape[-1] if inputs.removal_positions is not None else None
        logits = model.logits(node_hidden, hyper_out, slot_mask, num_hyper_columns=num_columns)
        logprobs = log_softmax_at_least_fp32(logits)  # [B, K, W]
        for r, part in enumerate(parts):
            start = 0
            for t in part:
                n = len(trees[r][t].parents)
                out[r][t] = logprobs[r, start : start + n]
                start += n
    return out


def log_softmax_at_least_fp32(logits: torch.Tensor) -> torch.Tensor:
    """Log-softmax over the last dim in float32, or float64 for a float64 model (exactness tests)."""
    return torch.log_softmax(logits if logits.dtype == torch.float64 else logits.float(), dim=-1)


def _chunks(row: list[TargetTree], max_nodes: int) -> list[list[int]]:
    """Tree indices grouped so each group has <= ``max_nodes`` nodes (a larger tree alone); trees without
    nodes need no forward."""
    groups: list[list[int]] = []
    size = max_nodes
    for t, tree in enumerate(row):
        n = len(tree.parents)
        if n == 0:
            continue
        if size + n > max_nodes:
            groups.append([])
            size = 0
        groups[-1].append(t)
        size += n
    return groups


@dataclass(frozen=True)
class _TreeLayout:
    """The branch nodes of one forward, right-padded per row: ids, positions, predicting positions and
    ancestors (``[B, K]`` each, ``ancestors`` ``[B, K, K]`` with the diagonal set)."""

    node_ids: torch.Tensor
    node_positions: torch.Tensor
    node_roots: torch.Tensor
    ancestors: torch.Tensor
    is_node: torch.Tensor

    @property
    def width(self) -> int:
        return int(self.node_ids.shape[1])

    @classmethod
    def build(
        cls,
        rows: list[list[TargetTree]],
        inputs: BatchInputs,
        path_positions: torch.Tensor,
        model: Zip2ZipPreTrainedModel,
    ) -> _TreeLayout:
        comp = model.compression
        by_span = model.config.position_mode != "compressed"  # base_token_end: a code sits at its last id
        b, k = len(rows), max((sum(len(t.parents) for t in row) for row in rows), default=0)
        ids = torch.full((b, k), comp.pad_token_id, dtype=torch.long)
        positions = torch.zeros((b, k), dtype=torch.long)
        roots = torch.zeros((b, k), dtype=torch.long)
        ancestors = torch.eye(k, dtype=torch.bool).repeat(b, 1, 1)
        is_node = torch.zeros((b, k), dtype=torch.bool)
        path_pos = path_positions.cpu()
        for r, row in enumerate(rows):
            start = 0
            for tree in row:
                for i, (parent, column, span) in enumerate(
                    zip(tree.parents, tree.columns, tree.spans, strict=True)
                ):
                    q = start + i
                    ids[r, q], roots[r, q], is_node[r, q] = column, tree.root, True
                    before = path_pos[r, tree.root] if parent == _ROOT else positions[r, start + parent]
                    positions[r, q] = before + (span if by_span else 1)
                    if parent != _ROOT:
                        ancestors[r, q] |= ancestors[r, start + parent]
                start += len(tree.parents)
        device = inputs.input_ids.device
        return cls(
            ids.to(device), positions.to(device), roots.to(device), ancestors.to(device), is_node.to(device)
        )

    def attention(self, path_mask: torch.Tensor) -> torch.Tensor:
        """``[B, 1, L + K, L + K]`` bool: the path is causal over real codes; a node sees the path up to its
        predicting position and its ancestors; padding sees itself."""
        b, length = path_mask.shape
        k = self.width
        device = path_mask.device
        real = path_mask.bool()
        steps = torch.arange(length, device=device)
        allowed = torch.zeros((b, length + k, length + k), dtype=torch.bool, device=device)
        causal = steps[None, :, None] >= steps[None, None, :]  # [1, L, L]
        allowed[:, :length, :length] = causal & real[:, None, :]
        allowed[:, :length, :length] |= torch.eye(length, dtype=torch.bool, device=device)
        sees_path = (steps[None, None, :] <= self.node_roots[:, :, None]) & real[:, None, :]  # [B, K, L]
        allowed[:, length:, :length] = sees_path & self.is_node[:, :, None]
        allowed[:, length:, length:] = self.ancestors
        return allowed[:, None]


def _additive(allowed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Boolean mask -> additive float mask (0 or the dtype's lowest), which eager and SDPA attention both take."""
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(
        ~allowed, torch.finfo(dtype).min
    )


def _check_full_attention(model: Zip2ZipPreTrainedModel) -> None:
    """A custom 4-D mask replaces every layer's own mask: refuse models whose layers slide a window."""
    config = getattr(model.decoder, "config", None)
    layer_types = getattr(config, "layer_types", None) or ()
    if any("sliding" in str(t) for t in layer_types):
        raise ValueError(
            "multi-view scoring passes one tree attention mask to every layer; this base model has "
            "sliding-window layers, which that mask would widen: score strict/canonical only"
        )
