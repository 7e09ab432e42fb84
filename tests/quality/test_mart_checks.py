"""The mart suites on marts.fct_token_spend: contract (ERROR), untagged share and unpriced spend (WARN)."""

from __future__ import annotations

import dagster as dg
import pytest

from tests.quality.conftest import NEXT_DAY, failure_for, failures, good_row, insert


@pytest.mark.parametrize(
    "name, severity",
    [
        ("fct_token_spend_contract", dg.AssetCheckSeverity.ERROR),
        ("mart_untagged_share", dg.AssetCheckSeverity.WARN),
        ("no_unpriced_spend", dg.AssetCheckSeverity.WARN),
    ],
)
def test_good_fact_passes(run_check, name, severity):
    result = run_check(name)
    assert result.passed, failures(result)
    assert result.severity == severity


@pytest.mark.parametrize(
    "broken, expectation, column, value",
    [
        ({"provider": None}, "expect_column_values_to_not_be_null", "provider", None),
        ({"record_type": None}, "expect_column_values_to_not_be_null", "record_type", None),
        ({"cost_usd": None}, "expect_column_values_to_not_be_null", "cost_usd", None),
        ({"attribution_method": "guessed"}, "expect_column_values_to_be_in_set", "attribution_method", "guessed"),
        ({"output_tokens": -50, "total_tokens": 120}, "expect_column_values_to_be_between", "output_tokens", -50),
    ],
    ids=["null-provider", "null-record_type", "null-cost", "unknown-method", "negative-tokens"],
)
def test_fact_contract_fails_on_a_broken_row(run_check, warehouse_db, broken, expectation, column, value):
    insert(warehouse_db, "fct_token_spend", [good_row("fct_token_spend", 7, **broken)], schema="marts")
    result = run_check("fct_token_spend_contract")
    assert not result.passed
    assert result.severity == dg.AssetCheckSeverity.ERROR
    failure = failure_for(result, expectation, column)
    assert failure["unexpected_count"] == 1
    assert failure["partial_unexpected_index_list"][0]["token_spend_id"] == "ts-7"
    if value is not None:
        assert value in failure["partial_unexpected_list"]


def _add_untagged_day(db, share_cost: float) -> None:
    """NEXT_DAY on anthropic: 1.0 tagged, `share_cost` untagged."""
    insert(db, "fct_token_spend", [
        good_row("fct_token_spend", 10, usage_date=NEXT_DAY, provider="anthropic", cost_usd=1.0),
        good_row("fct_token_spend", 11, usage_date=NEXT_DAY, provider="anthropic",
                 attribution_method="untagged", cost_usd=share_cost),
    ], schema="marts")


def test_untagged_share_above_threshold_warns_with_the_day(run_check, warehouse_db):
    _add_untagged_day(warehouse_db, 0.25)  # 0.25 / 1.25 = 20 %
    result = run_check("mart_untagged_share")
    assert not result.passed
    assert result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["parameters"].value["untagged_share_warn"] == 0.05
    failure = failure_for(result, "expect_column_values_to_be_between", "untagged_share")
    assert failure["unexpected_count"] == 1
    assert failure["partial_unexpected_list"] == [pytest.approx(0.2)]
    row = failure["partial_unexpected_index_list"][0]
    assert (row["usage_date"], row["provider"]) == (NEXT_DAY, "anthropic")
    assert result.metadata["rows_validated"].value == 3  # day x provider


def test_untagged_threshold_is_read_at_run_time(run_check, warehouse_db, monkeypatch):
    _add_untagged_day(warehouse_db, 0.25)
    monkeypatch.setenv("TOKENSPEND_UNTAGGED_SHARE_WARN", "0.25")
    result = run_check("mart_untagged_share")
    assert result.passed, failures(result)
    assert result.metadata["parameters"].value["untagged_share_warn"] == 0.25
    monkeypatch.setenv("TOKENSPEND_UNTAGGED_SHARE_WARN", "0.005")
    assert not run_check("mart_untagged_share").passed  # the 0.98 % openai day too
    assert len(failure_for(run_check("mart_untagged_share"), "expect_column_values_to_be_between",
                           "untagged_share")["partial_unexpected_list"]) == 2


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
        "unpriced_rows": 2, "provider": "openai", "model": "gpt-9-preview",
        "unpriced_tokens": 1500.0, "unpriced_cost_usd": 3.0,
    }]
    assert "gpt-9-preview" in result.metadata["failures_table"].value


def test_unpriced_unmatched_billed_lines_are_not_unpriced_spend(run_check, warehouse_db):
    """The good fixture already holds an unpriced unmatched_billed line; another changes nothing."""
    insert(warehouse_db, "fct_token_spend", [
        good_row("fct_token_spend", 30, record_type="unmatched_billed", model="code-execution", is_unpriced=True,
                 total_tokens=0, estimated_cost_usd=None, cost_usd=4.0),
    ], schema="marts")
    assert run_check("no_unpriced_spend").passed
