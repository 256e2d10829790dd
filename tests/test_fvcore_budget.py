"""fvcore runs on real tensors only within a budget; beyond it the report says why and how to force it."""

from __future__ import annotations

import pytest

import paramscope
from paramscope.errors import ParamscopeError
from paramscope.tracing.inputs import parse_bytes


@pytest.mark.parametrize("text,value", [("2GB", 2 * 10**9), ("512MiB", 512 * 2**20), ("2e9", 2 * 10**9),
                                        ("1.5 gb", 1_500_000_000), ("100", 100), ("inf", 2**63)])
def test_parse_bytes(text, value):
    assert parse_bytes(text) == value


@pytest.mark.parametrize("text", ["", "lots", "-1GB", "2 GBs", "1e"])
def test_parse_bytes_rejects(text):
    with pytest.raises(ParamscopeError, match="--fvcore-budget"):
        parse_bytes(text)


def test_over_budget_fvcore_is_skipped_with_the_way_to_force_it():
    report = paramscope.analyze("resnet18", measure="fvcore", fvcore_budget=10**6)
    fv = report.measurers["fvcore"]
    assert fv.status == "skipped"
    assert "--fvcore-budget" in fv.note and "exceeds the budget" in fv.note
    assert report.ok  # a skipped tool is named, not a failure


def test_bad_budget_on_the_cli_is_one_line_exit_2(cli):
    result = cli("summary", "resnet-stem", "--fvcore-budget", "lots")
    assert result.code == 2 and result.err.count("\n") == 1 and "--fvcore-budget" in result.err


def test_bad_budget_in_the_environment_is_one_line_exit_2(cli, monkeypatch):
    monkeypatch.setenv("PARAMSCOPE_FVCORE_BUDGET", "abc")
    result = cli("summary", "resnet-stem", "--measure", "fvcore")
    assert result.code == 2 and "PARAMSCOPE_FVCORE_BUDGET" in result.err and "Traceback" not in result.err
