"""zip2zip.config_cli: the command line a Config dataclass generates, as the benchmarks and training use it."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pytest
from _usage_errors import usage_error

from zip2zip.config_cli import ConfigCommandLine, Names, check_names, option

COLOURS = ("red", "green", "blue")


@dataclass(frozen=True)
class _Config:
    colours: tuple[str, ...] = option(("red",), "colours drawn", parse=Names("colour", COLOURS))
    sizes: tuple[int, ...] = option((1, 2), "sizes drawn")
    max_length: int = option(8, "longest run")
    limit: int | None = option(None, "items at most; none = all (95% of them or more)")
    use_cache: bool = option(False, "keep drawings between runs")

    def __post_init__(self) -> None:
        check_names(self)
        if self.max_length < 1:
            raise ValueError(f"max_length={self.max_length}: must be >= 1")


_BIG = _Config(colours=("green", "blue"), max_length=64)


def _command() -> ConfigCommandLine[_Config]:
    command = ConfigCommandLine(
        _Config, prog="draw", description=None, presets=lambda first: _BIG if first.big else _Config()
    )
    command.add_argument("--big", action="store_true", read_first=True, help="the big preset")
    return command


def _parse(*argv: str) -> _Config:
    return _command().parse(list(argv)).config


def test_lists_take_commas_or_spaces_and_drop_repeated_names() -> None:
    assert _parse("--colours", "red,blue").colours == ("red", "blue")
    assert _parse("--colours", "red", "blue", "red").colours == ("red", "blue")
    assert _parse("--sizes", "3", "3,4").sizes == (3, 3, 4)  # numbers are kept as given
    assert _parse("--sizes", "").sizes == ()


def test_optional_fields_take_none_and_bools_both_spellings() -> None:
    assert _parse("--limit", "5").limit == 5 and _parse("--limit", "none").limit is None
    assert _parse("--use-cache").use_cache is True
    assert _parse("--use-cache", "false").use_cache is False
    assert _parse("--big", "--use-cache", "--no-use-cache").use_cache is False


def test_underscore_spelling_is_accepted() -> None:
    assert _parse("--max_length", "3") == _parse("--max-length", "3") == _Config(max_length=3)


def test_the_preset_gives_the_defaults_and_given_flags_are_reported() -> None:
    parsed = _command().parse(["--big", "--max-length", "64"])
    assert parsed.config == _BIG and parsed.given == {"max_length"}
    assert parsed.args.colours == ("green", "blue")


def test_help_shows_the_presets_values_as_typed(capsys) -> None:
    with pytest.raises(SystemExit):
        _command().parse(["--big", "--help"])
    compact = " ".join(capsys.readouterr().out.split())
    assert "--colours NAME [NAME ...] colours drawn (default: green,blue)" in compact
    assert "items at most; none = all (95% of them or more) (default: none)" in compact  # a '%' in help
    assert "--max_length" not in compact and "--max-length MAX_LENGTH longest run (default: 64)" in compact


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--colours", "red,gren"],
            "draw: error: argument --colours: unknown colour 'gren'. Known: red, green, "
            "blue. Did you mean 'green'?",
        ),
        (
            ["--colours", ","],
            "draw: error: argument --colours: no colour given; choose from red, green, blue",
        ),
        (["--sizes", "1,x"], "draw: error: argument --sizes: invalid int value: 'x'"),
        (["--max-length", "0"], "draw: error: max_length=0: must be >= 1"),
    ],
    ids=["name", "empty", "int", "post-init"],
)
def test_a_bad_value_is_a_one_line_usage_error(argv, message, capsys) -> None:
    assert usage_error(capsys, lambda: _parse(*argv)) == message


def test_library_callers_get_the_same_name_check() -> None:
    with pytest.raises(ValueError, match="Did you mean 'green'"):
        _Config(colours=("gren",))
    with pytest.raises(ValueError, match=r"colours=\(\) \(--colours\): no colour given"):
        _Config(colours=())


def test_a_preset_flag_is_read_before_the_others() -> None:
    """``--big`` after a flag it gives the default of still picks the preset."""
    assert _parse("--use-cache", "--big").colours == ("green", "blue")
    assert isinstance(_command().parse([]).args, argparse.Namespace)
