"""The raw contract grows in place: a warehouse created before a column existed gets it on the next connect."""

from __future__ import annotations

import duckdb

from dagster_project.lib.raw_tables import ADDED_COLUMNS
from dagster_project.lib.warehouse import connect


def test_columns_added_since_a_table_was_created_are_added_to_an_existing_warehouse(tmp_path):
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema raw")
        con.execute("create table raw.request_events (request_id varchar not null, source_system varchar not null)")
        con.execute("insert into raw.request_events values ('r1', 'event_file')")
    for _ in range(2):  # idempotent
        with connect(path) as con:
            columns = [r[0] for r in con.execute("describe raw.request_events").fetchall()]
            rows = con.execute("select request_id, raw_tags, source_usage from raw.request_events").fetchall()
    assert columns == ["request_id", "source_system", *(c.split()[0] for c in ADDED_COLUMNS["request_events"])]
    assert rows == [("r1", None, None)]
