"""Shared benchmark command line: a full run that could not be written is refused before it starts."""

from dataclasses import dataclass

import pytest

import zip2zip.evaluation.results
from benchmarks._cli import new_command_line, parse_args
from zip2zip.config_cli import Names, option


@dataclass(frozen=True)
class _Config:
    corpus_source: str = option(
        "auto", "where the text comes from", parse=Names("corpus source", ("auto", "hub", "offline"))
    )

    @classmethod
    def smoke(cls) -> "_Config":
        return cls(corpus_source="offline")


@pytest.fixture
def dirty_checkout(monkeypatch):
    monkeypatch.setattr(zip2zip.evaluation.results, "git_info", lambda: {"commit": "abc", "dirty": True})


def _command():
    return new_command_line("efficiency", _Config, "A long description.\n\nWith paragraphs.")


def test_full_run_from_dirty_checkout_is_a_usage_error_at_once(dirty_checkout, capsys):
    with pytest.raises(SystemExit):
        parse_args(_command(), [])
    assert "uncommitted changes" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--allow-dirty", "--smoke"])
def test_dirty_checkout_is_fine_for_smoke_runs_and_when_allowed(dirty_checkout, flag):
    assert parse_args(_command(), [flag])


def test_smoke_picks_the_smoke_preset_and_flags_override_it():
    assert _command().parse(["--smoke"]).config == _Config.smoke()
    assert _command().parse(["--smoke", "--corpus-source", "hub"]).config == _Config("hub")


def test_usage_error_is_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        _command().parse(["--corpus-source", "hubb"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == (
        "python -m benchmarks.efficiency: error: argument --corpus-source: unknown corpus source 'hubb'. "
        "Known: auto, hub, offline. Did you mean 'hub'?\n"
    )
