"""A GX check's description names each failed expectation with its figure, counted over what it validated."""

from __future__ import annotations

from dagster_project.defs.quality.gx_check import suite_json
from tests.quality.conftest import good_row, insert


def test_a_raw_check_counts_the_whole_load_and_names_the_first_breaking_row(run_check, warehouse_db):
    insert(warehouse_db, "request_events", [good_row("request_events", 7, output_tokens=-5)])
    result = run_check("raw_request_events")
    assert not result.passed
    rows = result.metadata["rows_validated"].value
    assert result.metadata["rows_breaking_a_rule"].value == 1 < rows  # GX saw only the breaking row
    assert result.description.startswith(f"output_tokens >= 0 broken by 1 of {rows} rows, first: ")
    assert "output_tokens -5" in result.description


def test_a_passing_check_says_so_with_its_rows(run_check, warehouse_db):
    result = run_check("raw_request_events")
    assert result.passed
    expectations = len(suite_json("raw_request_events")["expectations"])
    rows = result.metadata["rows_validated"].value
    assert result.description == f"all {expectations} expectation(s) passed on {rows} row(s)"
