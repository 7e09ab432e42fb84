"""The raw-table suites: good rows pass; each broken contract fails with the offending value in metadata."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import duckdb
import pytest

from tests.quality.conftest import EARLIER_LOAD, failure_for, failures, good_row, insert

RAW_CHECKS = [
    "raw_request_events", "raw_outcome_events", "raw_openai_usage_completions", "raw_openai_costs",
    "raw_anthropic_usage_messages", "raw_anthropic_cost_report",
]


@pytest.mark.parametrize("name", RAW_CHECKS)
def test_good_latest_load_passes(run_check, name):
    result = run_check(name)
    assert result.passed, failures(result)
    assert result.severity == dg.AssetCheckSeverity.ERROR
    assert result.metadata["rows_validated"].value == 3
    assert result.metadata["expectations_failed"].value == 0


# (check, table, broken column values, expectation that fails, its column, the offending value)
BROKEN = [
    ("raw_request_events", "request_events", {"output_tokens": -5},
     "expect_column_values_to_be_between", "output_tokens", -5),
    ("raw_request_events", "request_events", {"cache_read_input_tokens": -1},
     "expect_column_values_to_be_between", "cache_read_input_tokens", -1),
    ("raw_request_events", "request_events", {"provider": "mistral"},
     "expect_column_values_to_be_in_set", "provider", "mistral"),
    ("raw_request_events", "request_events", {"occurred_at": dt.datetime(2019, 12, 31, 23, 0)},
     "expect_column_values_to_be_between", "occurred_at", "2019-12-31T23:00:00"),
    ("raw_request_events", "request_events", {"occurred_at": dt.datetime(2099, 1, 1)},
     "expect_column_values_to_be_between", "occurred_at", "2099-01-01T00:00:00"),
    ("raw_outcome_events", "outcome_events", {"outcome": "timeout"},
     "expect_column_values_to_be_in_set", "outcome", "timeout"),
    ("raw_openai_usage_completions", "openai_usage_completions", {"output_tokens": -3},
     "expect_column_values_to_be_between", "output_tokens", -3),
    ("raw_openai_usage_completions", "openai_usage_completions", {"input_tokens": 10, "input_cached_tokens": 20},
     "expect_column_pair_values_a_to_be_greater_than_b", "input_tokens", [10, 20]),
    ("raw_openai_costs", "openai_costs", {"amount_value": "1,25"},
     "expect_column_values_to_match_regex", "amount_value", "1,25"),
    ("raw_openai_costs", "openai_costs", {"amount_currency": "eur"},
     "expect_column_values_to_be_in_set", "amount_currency", "eur"),
    ("raw_anthropic_usage_messages", "anthropic_usage_messages", {"cache_creation_1h_input_tokens": -7},
     "expect_column_values_to_be_between", "cache_creation_1h_input_tokens", -7),
    ("raw_anthropic_cost_report", "anthropic_cost_report", {"amount": "n/a"},
     "expect_column_values_to_match_regex", "amount", "n/a"),
    ("raw_anthropic_cost_report", "anthropic_cost_report", {"currency": "usd"},
     "expect_column_values_to_be_in_set", "currency", "usd"),
]


@pytest.mark.parametrize(
    "name, table, broken, expectation, column, value", BROKEN, ids=[f"{b[0]}-{next(iter(b[2]))}" for b in BROKEN]
)
def test_broken_row_fails_and_names_the_value(run_check, warehouse_db, name, table, broken, expectation, column, value):
    insert(warehouse_db, table, [good_row(table, 9, **broken)])
    result = run_check(name)
    assert not result.passed
    assert result.severity == dg.AssetCheckSeverity.ERROR
    assert result.metadata["rows_validated"].value == 4
    failure = failure_for(result, expectation, column)
    assert failure["unexpected_count"] == 1
    assert value in failure["partial_unexpected_list"]
    # the index columns of the checkpoint trace the value back to its landed file
    assert failure["partial_unexpected_index_list"][0]["_source_file"].startswith(f"landing/{table}/")
    assert f"| {expectation} | {column or ''} | 1 |" in result.metadata["failures_table"].value


def test_null_request_id_fails(run_check, warehouse_db):
    """request_id is NOT NULL in the contract table, so the check sees it through a table without it."""
    con = duckdb.connect(str(warehouse_db))
    con.execute("alter table raw.request_events alter column request_id drop not null")
    con.close()
    insert(warehouse_db, "request_events", [good_row("request_events", 9, request_id=None)])
    result = run_check("raw_request_events")
    assert not result.passed
    assert failure_for(result, "expect_column_values_to_not_be_null", "request_id")["unexpected_count"] == 1


def test_missing_required_column_fails_the_schema_expectation(run_check, warehouse_db):
    con = duckdb.connect(str(warehouse_db))
    con.execute("alter table raw.request_events drop column team")
    con.close()
    result = run_check("raw_request_events")
    assert not result.passed
    schema = failure_for(result, "expect_table_columns_to_match_set", None)
    assert schema["details"]["mismatched"]["missing"] == ["team"]


def test_missing_value_column_fails_with_the_error(run_check, warehouse_db):
    con = duckdb.connect(str(warehouse_db))
    con.execute("alter table raw.request_events drop column output_tokens")
    con.close()
    result = run_check("raw_request_events")
    assert not result.passed
    assert "output_tokens" in failure_for(result, "expect_column_values_to_be_between", "output_tokens")["exception"]
    assert failure_for(result, "expect_table_columns_to_match_set", None)["details"]["mismatched"]["missing"] == [
        "output_tokens"
    ]


def test_only_the_latest_load_is_validated(run_check, warehouse_db):
    """A bad row of an earlier load is not read again: raw is validated load by load."""
    insert(warehouse_db, "request_events", [good_row("request_events", 9, output_tokens=-5, _loaded_at=EARLIER_LOAD)])
    result = run_check("raw_request_events")
    assert result.passed, failures(result)
    assert result.metadata["rows_validated"].value == 3


def test_frame_holds_only_the_columns_the_suite_needs(warehouse_db):
    """The SQL selects what the expectations and index columns name; schema-only columns are placeholders."""
    from dagster_project.defs.quality.gx_check import (
        frame_sql,
        index_columns,
        latest_load_sql,
        suite_columns,
        suite_json,
    )

    values, schema = suite_columns(suite_json("raw_openai_costs"), index_columns("raw_openai_costs"))
    assert schema == []
    con = duckdb.connect(str(warehouse_db), read_only=True)
    con.execute("set variable load_started_at = null::timestamp")
    frame = con.execute(frame_sql(con, latest_load_sql("openai_costs"), values, schema)).df()
    con.close()
    assert set(frame.columns) == {"_source_file", "bucket_start", "line_item", "amount_value", "amount_currency"}


def test_a_large_load_reaches_gx_as_the_rows_that_break_a_rule(run_check, warehouse_db):
    """DuckDB narrows a load to the rows breaking a row-level rule; the verdict counts every row."""
    insert(warehouse_db, "request_events", [good_row("request_events", 9, provider="mistral")])
    result = run_check("raw_request_events")
    assert not result.passed
    assert result.metadata["rows_validated"].value == 4
    assert result.metadata["rows_breaking_a_rule"].value == 1
    assert failure_for(result, "expect_column_values_to_be_in_set", "provider")["unexpected_count"] == 1


def test_a_suite_with_a_rule_sql_does_not_state_sees_the_whole_load(run_check):
    """openai_costs checks a regex, which is left to GX: the frame is the whole latest load."""
    result = run_check("raw_openai_costs")
    assert result.passed, failures(result)
    assert result.metadata["rows_breaking_a_rule"].value == result.metadata["rows_validated"].value == 3
