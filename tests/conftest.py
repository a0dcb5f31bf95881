"""Shared fixtures. Test-only knobs: ZIP2ZIP_HYPOTHESIS_PROFILE=ci|dev|thorough picks hypothesis example counts;
ZIP2ZIP_CODEC_FUZZ_EXAMPLES sets the batches per codebook policy of the slow codec fuzz (``nox -s codec_fuzz``)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=200, deadline=None)
settings.register_profile("ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=5000, deadline=None)
settings.load_profile(os.environ.get("ZIP2ZIP_HYPOTHESIS_PROFILE", "dev"))
# One example is a batch of up to 4096 random walks (492 streams on average; tests/codec/_codec_fuzz.py).
settings.register_profile(
    "codec_fuzz",
    max_examples=int(os.environ.get("ZIP2ZIP_CODEC_FUZZ_EXAMPLES", "20")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
