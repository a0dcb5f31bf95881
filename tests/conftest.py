"""Shared fixtures. Test-only knob: ZIP2ZIP_HYPOTHESIS_PROFILE=ci|dev|thorough picks hypothesis example counts."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=200, deadline=None)
settings.register_profile("ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=5000, deadline=None)
settings.load_profile(os.environ.get("ZIP2ZIP_HYPOTHESIS_PROFILE", "dev"))
