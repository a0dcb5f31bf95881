"""Shared benchmark command line: a full run that could not be written is refused before it starts."""

import argparse

import pytest

import zip2zip.results
from benchmarks._cli import add_common_arguments, parse_args


@pytest.fixture
def dirty_checkout(monkeypatch):
    monkeypatch.setattr(zip2zip.results, "git_info", lambda: {"commit": "abc", "dirty": True})


def _parser():
    parser = argparse.ArgumentParser()
    add_common_arguments(parser, benchmark="efficiency")
    return parser


def test_full_run_from_dirty_checkout_is_a_usage_error_at_once(dirty_checkout, capsys):
    with pytest.raises(SystemExit):
        parse_args(_parser(), [])
    assert "uncommitted changes" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--allow-dirty", "--smoke"])
def test_dirty_checkout_is_fine_for_smoke_runs_and_when_allowed(dirty_checkout, flag):
    assert parse_args(_parser(), [flag])
