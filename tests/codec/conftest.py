"""The codec fuzz's report: how many random streams each codebook policy's decoders were compared on."""

from __future__ import annotations

from typing import Any

from _codec_fuzz import STREAMS_CHECKED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if STREAMS_CHECKED:
        counts = ", ".join(f"{policy} {count:,}" for policy, count in sorted(STREAMS_CHECKED.items()))
        terminalreporter.write_line(f"codec fuzz: streams decoded by both and compared, per policy: {counts}")
