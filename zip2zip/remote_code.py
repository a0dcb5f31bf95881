"""Custom code shipped with a model: run only when the user asked for it, never asked about on stdin.

A folder or hub repository whose ``config.json`` or ``tokenizer_config.json`` has an ``auto_map`` names
Python files there that transformers imports when ``trust_remote_code=True``. Left unset, transformers
asks "Do you wish to run the custom code? [y/N]" on stdin, so one keystroke (or a piped ``yes``) runs
whatever was planted. Hence every transformers load in zip2zip passes ``trust_remote_code``: False,
unless the user passed True to a loader that takes the option (``Zip2ZipForCausalLM.from_pretrained``,
the lm-eval model ``zip2zip``). A model transformers implements itself still loads with that code when
its config has an ``auto_map`` (Phi-3.5's has one); one that needs the custom code is refused in one line
(``refusing_remote_code``). This module checks the option and rewords the refusal; it loads nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from os import PathLike


class RemoteCodeError(ValueError):
    """A model or tokenizer needs custom code from its folder or repository, and the user did not allow it."""


def check_trust_remote_code(value: object) -> bool:
    """``value`` if it is a bool. transformers tests the option for truth, so ``"false"`` would run the code."""
    if not isinstance(value, bool):
        raise TypeError(f"trust_remote_code={value!r} ({type(value).__name__}); pass True or False")
    return value


@contextmanager
def refusing_remote_code(location: str | PathLike[str]) -> Iterator[None]:
    """Re-raise transformers' refusal to run ``location``'s custom code (several lines, ending in advice
    about the hub) as one ``RemoteCodeError`` line; any other error passes unchanged."""
    try:
        yield
    except ValueError as error:
        if isinstance(error, RemoteCodeError) or "trust_remote_code=True" not in str(error):
            raise
        raise RemoteCodeError(
            f"{location} needs custom code from its folder or repository (the 'auto_map' of its config), "
            "which zip2zip runs only with trust_remote_code=True: read that code, then pass it if you trust it"
        ) from None
