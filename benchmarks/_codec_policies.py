"""The codec benchmark's codebook-policy rows (``--policies``): each stream as one long document encoded and
decoded under ``freeze`` and each other policy side by side, with what a policy costs in speed and buys in
compression. Apart from ``codec.py`` because it is an opt-in comparison of our codec with itself, not with
the upstream package.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from zip2zip.codec.lzw_codec import LZWCodec
from zip2zip.evaluation.results import metric
from zip2zip.evaluation.timing import time_interleaved

from ._codec_cells import CodecSettings, rate_metric
from ._codec_streams import Stream


def policy_rows(stream: Stream, config: CodecSettings) -> list[dict[str, Any]]:
    """The stream as one long document under freeze and each policy, side by side: encode and decode
    rates, each policy's rate over freeze's (``speedup_<policy>_vs_freeze``, below 1 means slower), and
    its compression ratio and entries created (ever, evicted ones included)."""
    policies = ("freeze", *config.policies)
    codecs = {
        p: LZWCodec(
            stream.vocab_size,
            pad_token_id=stream.pad_token_id,
            max_subtokens=config.policy_max_subtokens,
            max_codebook_size=config.policy_max_codebook_size,
            disabled_ids=stream.disabled_ids,
            codebook_policy=p,
            num_threads=1,
        )
        for p in policies
    }
    encoded = {p: codec.encode(stream.ids) for p, codec in codecs.items()}
    for p, codec in codecs.items():
        if not np.array_equal(codec.decode(encoded[p].ids), stream.ids):
            raise AssertionError(f"{stream.name} {p}: decode(encode(ids)) != ids; run the codec tests")
    timings = {
        "encode_policies": time_interleaved(
            {f"ours_{p}": functools.partial(codec.encode, stream.ids) for p, codec in codecs.items()},
            num_repeats=config.num_repeats,
            num_warmup=config.num_warmup,
        ),
        "decode_policies": time_interleaved(
            {f"ours_{p}": functools.partial(codec.decode, encoded[p].ids) for p, codec in codecs.items()},
            num_repeats=config.num_repeats,
            num_warmup=config.num_warmup,
        ),
    }
    n = len(stream.ids)
    rows = []
    for operation, samples in timings.items():
        metrics = {name: rate_metric(n, s, name) for name, s in samples.items()}
        for p in policies:
            if p != "freeze":
                metrics[f"speedup_{p}_vs_freeze"] = metric(
                    metrics[f"ours_{p}"]["value"] / metrics["ours_freeze"]["value"],
                    f"x (median rate ratio, {p} / freeze)",
                    num_samples=1,
                )
            metrics[f"{p}_compression_ratio"] = metric(
                encoded[p].compression_ratio, "base_ids/compressed_id", num_samples=1
            )
            metrics[f"num_entries_created_{p}"] = metric(
                len(encoded[p].history.hyper_ids), "entries", num_samples=1
            )
        rows.append(
            {
                "data": stream.name,
                "operation": operation,
                "max_subtokens": config.policy_max_subtokens,
                "max_codebook_size": config.policy_max_codebook_size,
                "num_base_ids": n,
                "metrics": metrics,
            }
        )
    return rows
