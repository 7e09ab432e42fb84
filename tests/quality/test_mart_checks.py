"""The mart checks: untagged share (GX per day, Dagster overall) read from marts.mart_untagged_share, and
unpriced spend on marts.fct_token_spend; all WARN. The marts' contracts are dbt's (test_mart_contracts)."""

from __future__ import annotations

from decimal import Decimal

import dagster as dg
import pytest

from dagster_project.defs.quality.checks import UNPRICED_FIX
from tests.quality.conftest import (
    GOOD_UNTAGGED_DAYS,
    NEXT_DAY,
    check_by_name,
    failure_for,
    failures,
    good_row,
    insert,
    set_untagged_share,
)


@pytest.mark.parametrize(
    "name, asset",
    [("mart_untagged_share", "mart_untagged_share"), ("no_unpriced_spend", "fct_token_spend")],
)
def test_good_marts_pass(run_check, name, asset):
    result = run_check(name)
    assert result.passed, failures(result)
    assert result.severity == dg.AssetCheckSeverity.WARN
    assert check_by_name(name).check_key.asset_key == dg.AssetKey(["marts", asset])


def _add_untagged_day(db, untagged: str) -> None:
    """NEXT_DAY on anthropic: 1.0 tagged and `untagged` untagged, as mart_untagged_share carries it."""
    set_untagged_share(db, [*GOOD_UNTAGGED_DAYS, (NEXT_DAY, "anthropic", str(Decimal("1.0") + Decimal(untagged)), untagged)])


def test_untagged_share_above_threshold_warns_with_the_day(run_check, warehouse_db):
    _add_untagged_day(warehouse_db, "0.25")  # 0.25 / 1.25 = 20 %
    result = run_check("mart_untagged_share")
    assert not result.passed
    assert result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["parameters"].value["untagged_share_warn"] == 0.05
    failure = failure_for(result, "expect_column_values_to_be_between", "untagged_share")
    assert failure["unexpected_count"] == 1
    assert failure["partial_unexpected_list"] == [pytest.approx(0.2)]
    row = failure["partial_unexpected_index_list"][0]
    assert (row["usage_date"], row["provider"]) == (NEXT_DAY, "anthropic")
    assert (row["untagged_cost_usd"], row["total_cost_usd"]) == (pytest.approx(0.25), pytest.approx(1.25))
    assert result.metadata["rows_validated"].value == 3  # day x provider


def test_untagged_threshold_is_read_at_run_time(run_check, warehouse_db, monkeypatch):
    _add_untagged_day(warehouse_db, "0.25")
    monkeypatch.setenv("TOKENSPEND_UNTAGGED_SHARE_WARN", "0.25")
    result = run_check("mart_untagged_share")
    assert result.passed, failures(result)
    assert result.metadata["parameters"].value["untagged_share_warn"] == 0.25
    monkeypatch.setenv("TOKENSPEND_UNTAGGED_SHARE_WARN", "0.005")
    assert not run_check("mart_untagged_share").passed  # the 0.98 % openai day too
    assert len(failure_for(run_check("mart_untagged_share"), "expect_column_values_to_be_between",
                           "untagged_share")["partial_unexpected_list"]) == 2


def _untagged_spend_share() -> dg.AssetCheckResult:
    from dagster_project.defs.checks.untagged import untagged_spend_share

    assert untagged_spend_share.check_key.asset_key == dg.AssetKey(["marts", "mart_untagged_share"])
    return untagged_spend_share()


def test_overall_untagged_share_is_the_marts(warehouse_db, monkeypatch):
    """The check reports the mart's overall_ figures and the offenders mart's top keys and projects."""
    _add_untagged_day(warehouse_db, "0.25")  # overall: 0.35 untagged of 16.5 billed
    insert(warehouse_db, "mart_untagged_offenders", [
        {"provider": "openai", "api_key_id": "key-1", "project_id": "proj-1", "untagged_cost_usd": 0.1, "offender_rank": 2},
        {"provider": "anthropic", "api_key_id": None, "project_id": "ws-1", "untagged_cost_usd": 0.25, "offender_rank": 1},
    ], schema="marts")
    result = _untagged_spend_share()
    assert result.passed  # 2.1 %, under the default 5 %
    assert result.metadata["untagged_share"].value == round(0.35 / 16.5, 6)
    assert result.metadata["untagged_cost_usd"].value == 0.35
    assert result.metadata["total_cost_usd"].value == 16.5
    offenders = result.metadata["top_offenders"].value.splitlines()[2:]
    assert offenders == ["| anthropic | ws-1 | (none) | 0.25 |", "| openai | proj-1 | key-1 | 0.10 |"]
    monkeypatch.setenv("TOKENSPEND_UNTAGGED_SHARE_WARN", "0.02")
    warned = _untagged_spend_share()
    assert not warned.passed and warned.severity == dg.AssetCheckSeverity.WARN


def test_overall_untagged_share_without_spend_is_zero(warehouse_db):
    set_untagged_share(warehouse_db, [])
    result = _untagged_spend_share()
    assert result.passed
    assert result.metadata["untagged_share"].value == 0.0


def test_unpriced_spend_warns_with_model_tokens_and_cost(run_check, warehouse_db):
    insert(warehouse_db, "fct_token_spend", [
        good_row("fct_token_spend", 20, model="gpt-9-preview", model_key="gpt-9-preview", is_unpriced=True,
                 estimated_cost_usd=None, total_tokens=1000, cost_usd=2.5),
        good_row("fct_token_spend", 21, model="gpt-9-preview", model_key="gpt-9-preview", is_unpriced=True,
                 record_type="unlogged_residual", estimated_cost_usd=None, total_tokens=500, cost_usd=0.5),
    ], schema="marts")
    result = run_check("no_unpriced_spend")
    assert not result.passed
    assert result.severity == dg.AssetCheckSeverity.WARN
    failure = failure_for(result, "expect_column_values_to_be_between", "unpriced_rows")
    assert failure["partial_unexpected_index_list"] == [{
        "unpriced_rows": 2, "provider": "openai", "model": "gpt-9-preview", "unpriced_requests": 2,
        "unpriced_tokens": 1500.0, "unpriced_cost_usd": 3.0, "fix": UNPRICED_FIX,
    }]
    assert "make prices" in UNPRICED_FIX
    assert "gpt-9-preview" in result.metadata["failures_table"].value


def test_unpriced_unmatched_billed_lines_are_not_unpriced_spend(run_check, warehouse_db):
    """The good fixture already holds an unpriced unmatched_billed line; another changes nothing."""
    insert(warehouse_db, "fct_token_spend", [
        good_row("fct_token_spend", 30, record_type="unmatched_billed", model="code-execution", is_unpriced=True,
                 total_tokens=0, estimated_cost_usd=None, cost_usd=4.0),
    ], schema="marts")
    assert run_check("no_unpriced_spend").passed
