"""The check every CLI refusal test makes: exit status 2 and one line, no traceback."""

from __future__ import annotations

from collections.abc import Callable

import pytest


def usage_error(capsys: pytest.CaptureFixture[str], call: Callable[[], object]) -> str:
    """Runs ``call``, which must exit with status 2 and one line on stderr; returns that line."""
    with pytest.raises(SystemExit) as exit_info:
        call()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err
