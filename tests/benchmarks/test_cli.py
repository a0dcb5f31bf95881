"""Shared benchmark command line: a full run that could not be written is refused before it starts."""

import argparse

import pytest

import zip2zip.evaluation.results
from benchmarks._cli import add_common_arguments, comma_list_of, new_parser, one_of, parse_args


@pytest.fixture
def dirty_checkout(monkeypatch):
    monkeypatch.setattr(zip2zip.evaluation.results, "git_info", lambda: {"commit": "abc", "dirty": True})


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


def test_name_lists_are_checked_and_deduplicated():
    corpora = comma_list_of(["wikitext", "pile"], kind="corpus")
    assert corpora("pile,wikitext,pile") == ("pile", "wikitext")
    with pytest.raises(argparse.ArgumentTypeError, match=r"unknown corpus 'pyle'.*Did you mean 'pile'"):
        corpora("wikitext,pyle")
    with pytest.raises(argparse.ArgumentTypeError, match="no corpus given"):
        corpora(",")


def test_usage_error_is_one_line(capsys):
    parser = new_parser("efficiency", "A long description.\n\nWith paragraphs.")
    parser.add_argument("--corpus-source", type=one_of(["auto", "hub", "offline"], kind="corpus source"))
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["--corpus-source", "hubb"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == (
        "python -m benchmarks.efficiency: error: argument --corpus-source: unknown corpus source 'hubb'. "
        "Known: auto, hub, offline. Did you mean 'hub'?\n"
    )
