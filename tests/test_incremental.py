"""Incremental by day: a run of daily builds gives exactly the warehouse one full build gives.

Warehouse A is built the way production builds it: the demo's raw data arrives in loads (most of the
period, then one day at a time), and between builds a late file lands for an old day, a request is
re-delivered, an outcome arrives for an old task, a re-delivered file drops rows and a whole day, and
the price book changes, and an upgrade of tokenspend changes the columns of incremental models. Each step
is a plain incremental `dbt run`. Warehouse B is one full build on
the same final raw data and seeds. Every model the incremental chain writes and every mart must then
hold exactly the same rows, to the nano-dollar.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil

import duckdb
import pytest

from dagster_project import settings
from dagster_project.lib.raw_tables import RAW_TABLES, create_raw_tables
from tests.pricing.small_warehouse import SmallWarehouse

pytestmark = pytest.mark.slow

DAY_OF = {
    "request_events": "cast(occurred_at as date)",
    "litellm_spend_logs": "cast(start_time as date)",
    "otel_spans": "cast(start_time as date)",
    "outcome_events": "cast(completed_at as date)",
    "anthropic_claude_code_usage": "usage_date",
}
RAW = [t for t in RAW_TABLES if t not in ("rejected_rows", "landed_files")]


def _day(table: str) -> str:
    return DAY_OF.get(table, "cast(bucket_start as date)")


def _warehouse(root, name: str) -> SmallWarehouse:
    project = root / name / "dbt_models"
    shutil.copytree(settings.DBT_PROJECT_DIR, project,
                    ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", ".user.yml", "org_seeds_*"))
    shutil.copytree(settings.SEEDS_DIR, root / name / "seeds")
    wh = SmallWarehouse(root=root / name, db=root / name / "tokenspend.duckdb", project_dir=project,
                        seeds_dir=root / name / "seeds", target=root / name / "target")
    con = duckdb.connect(str(wh.db))
    create_raw_tables(con)
    con.close()
    return wh


def _load(wh: SmallWarehouse, source_db, where: str, loaded_at: str) -> None:
    """Copy the demo's raw rows matching `where` (on each table's day) into `wh`, stamped as one load."""
    con = duckdb.connect(str(wh.db))
    try:
        con.execute(f"attach '{source_db}' as demo (read_only)")
        for table in RAW:
            day = _day(table)
            con.execute(f"""insert into raw.{table} select * replace (timestamp '{loaded_at}' as _loaded_at)
                            from demo.raw.{table} where {where.format(day=day)}""")
    finally:
        con.close()


def _execute(wh: SmallWarehouse, sql: str) -> None:
    con = duckdb.connect(str(wh.db))
    try:
        con.execute(sql)
    finally:
        con.close()


def _change_a_price(wh: SmallWarehouse) -> None:
    """Raise the first priced output price by 10%, as a person editing the seed would."""
    with open(wh.price_book, newline="") as f:
        rows = list(csv.DictReader(f))
    row = next(r for r in rows if r["token_class"] == "output")
    row["usd_per_million_tokens"] = str(round(float(row["usd_per_million_tokens"]) * 1.1, 6))
    with open(wh.price_book, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


BUILD_STATE = ("int_raw_day_fingerprints", "int_rebuild_days")  # what a build started from, not data


def _upgrade(wh: SmallWarehouse) -> None:
    """A new version of tokenspend changes an incremental model's columns: one added, one dropped, one
    retyped."""
    model = wh.project_dir / "models" / "staging" / "events" / "stg_events__requests.sql"
    sql = model.read_text()
    for old, new in (("        source_count,\n        has_merged_tags,\n        raw_tags,\n",
                      "        cast(source_count as decimal(18, 0)) as source_count,\n        raw_tags,\n"),
                     ("        _loaded_at\n\n    from winners\n",
                      "        _loaded_at,\n        length(request_id) as request_id_length\n\n    from winners\n")):
        assert sql.count(old) == 1, old
        sql = sql.replace(old, new)
    model.write_text(sql)


def _built_tables(wh: SmallWarehouse) -> list[tuple[str, str]]:
    con = duckdb.connect(str(wh.db), read_only=True)
    try:
        return [(schema, name) for schema, name in con.execute("""
            select table_schema, table_name from information_schema.tables
            where table_schema in ('staging', 'intermediate', 'marts', 'exports') and table_type = 'BASE TABLE'
            order by 1, 2""").fetchall() if name not in BUILD_STATE]
    finally:
        con.close()


@pytest.fixture(scope="module")
def incremental_and_full(built_warehouse, tmp_path_factory):
    root = tmp_path_factory.mktemp("incremental")
    demo = built_warehouse["db"]
    con = duckdb.connect(str(demo), read_only=True)
    first, last = con.execute("select min(cast(occurred_at as date)), max(cast(occurred_at as date)) "
                              "from raw.request_events").fetchone()
    con.close()
    cut = last - dt.timedelta(days=4)

    a = _warehouse(root, "a")
    a.dbt("seed")
    _load(a, demo, f"{{day}} < '{cut}'", "2026-11-01 00:00:00")
    a.dbt("run")
    daily_scopes = []  # days rebuilt by each one-day load
    for i, day in enumerate((cut + dt.timedelta(days=k) for k in range((last - cut).days + 1)), start=1):
        _load(a, demo, f"{{day}} = '{day}'", f"2026-11-0{i + 1} 00:00:00")
        a.dbt("run")
        daily_scopes.append(a.query("select count(*) from intermediate.int_rebuild_days")[0][0])
    old = first + dt.timedelta(days=5)
    # a late file for an old day: new requests, and a re-delivered copy of an existing one
    _execute(a, f"""
        insert into raw.request_events
        select * replace (request_id || '-late' as request_id, 'late.jsonl' as _source_file,
                          timestamp '2026-11-20 00:00:00' as _loaded_at)
        from raw.request_events where cast(occurred_at as date) = '{old}' and _source_line % 50 = 0;
        insert into raw.request_events
        select * replace ('redelivered.jsonl' as _source_file, timestamp '2026-11-20 00:00:00' as _loaded_at)
        from raw.request_events where cast(occurred_at as date) = '{old + dt.timedelta(days=1)}'
            and _source_line % 97 = 0""")
    a.dbt("run")
    # an outcome arrives for an old task, naming a parent from another day: its tree is re-attributed
    _execute(a, f"""
        insert into raw.outcome_events
        select task_id, (select min(task_id) from raw.outcome_events
                         where cast(completed_at as date) = '{first + dt.timedelta(days=20)}' and parent_task_id is null),
               null, timestamp '{last} 23:00:00', 'success', 'late-outcomes.jsonl', 1, timestamp '2026-11-20 23:00:00',
               timestamp '2026-11-21 00:00:00'
        from raw.request_events
        where cast(occurred_at as date) = '{first + dt.timedelta(days=2)}' and task_id is not null
            and task_id not in (select task_id from raw.outcome_events)
        order by task_id limit 1""")
    a.dbt("run")
    # a re-delivered file drops rows of one day and every row of another
    _execute(a, f"""
        delete from raw.request_events where cast(occurred_at as date) = '{first + dt.timedelta(days=8)}'
            and _source_line % 3 = 0;
        delete from raw.request_events where cast(occurred_at as date) = '{first + dt.timedelta(days=1)}'""")
    a.dbt("run")
    # the price book changes: history is re-priced without anyone asking for a full refresh
    _change_a_price(a)
    a.dbt("seed")
    a.dbt("run")
    price_change_scope = a.query(
        "select count(*), count(*) filter (where is_raw_change) from intermediate.int_rebuild_days")[0]
    # tokenspend is upgraded and the models' columns change: the next plain build takes the new columns and
    # rewrites every day of them, with no full refresh asked for
    _upgrade(a)
    a.dbt("run")

    b = _warehouse(root, "b")
    _upgrade(b)
    shutil.copy(a.price_book, b.price_book)
    con = duckdb.connect(str(b.db))
    try:
        con.execute(f"attach '{a.db}' as a (read_only)")
        for table in RAW:
            con.execute(f"insert into raw.{table} select * from a.raw.{table}")
    finally:
        con.close()
    b.dbt("seed")
    b.dbt("run")
    return {"a": a, "b": b, "daily_scopes": daily_scopes, "dropped_day": first + dt.timedelta(days=1),
            "price_change_scope": price_change_scope}


def test_daily_increments_equal_one_full_build_on_every_row(incremental_and_full):
    a, b = incremental_and_full["a"], incremental_and_full["b"]
    tables = _built_tables(a)
    assert tables == _built_tables(b)
    names = {name for _, name in tables}
    assert {"fct_token_spend", "int_request_events_attributed", "stg_events__requests",
            "mart_reconciliation", "mart_feature_spend", "mart_workflow_spend"} <= names
    con = duckdb.connect()
    try:
        con.execute(f"attach '{a.db}' as a (read_only)")
        con.execute(f"attach '{b.db}' as b (read_only)")
        for schema, name in tables:
            count = con.execute(f"select count(*) from b.{schema}.{name}").fetchone()[0]
            differ = con.execute(f"""
                select count(*) from (
                    (select * from a.{schema}.{name} except all select * from b.{schema}.{name})
                    union all
                    (select * from b.{schema}.{name} except all select * from a.{schema}.{name})
                )""").fetchone()[0]
            assert differ == 0, f"{schema}.{name}: {differ} of {count} rows differ"
    finally:
        con.close()


def test_a_daily_load_rebuilds_its_day_and_the_lookback_only(incremental_and_full):
    """Five one-day loads: each rebuilt the new day and the trailing lookback (3 days), not history."""
    scopes = incremental_and_full["daily_scopes"]
    assert len(scopes) == 5
    assert all(1 <= n <= 4 for n in scopes), scopes


def test_a_price_change_rebuilt_every_day(incremental_and_full):
    """The build after a price-book change had every day in scope, not only changed raw days."""
    a = incremental_and_full["a"]
    days, raw_days = incremental_and_full["price_change_scope"]
    all_days = a.query("select count(distinct usage_date) from marts.fct_token_spend")[0][0]
    assert days >= all_days and raw_days < days


def test_every_change_reached_the_fact(incremental_and_full):
    """The steps were not no-ops: the late requests are in, the day whose rows were dropped is gone."""
    a = incremental_and_full["a"]
    late = a.query("select count(*) from intermediate.int_request_events_attributed where request_id like '%-late'")
    assert late[0][0] > 0
    dropped = incremental_and_full["dropped_day"]
    requests_that_day = a.query(f"select count(*) from marts.fct_token_spend where record_type = 'request' "
                                f"and usage_date = '{dropped}'")
    assert requests_that_day[0][0] == 0


def test_an_upgrade_that_changes_columns_rewrote_every_day(incremental_and_full):
    """The upgrade's new column holds a value on every day, in the place the model gives it; its dropped
    column is gone and its retyped column has the new type (a full build of the same code, B, is equal on
    every row of every table: test_daily_increments_equal_one_full_build_on_every_row)."""
    a = incremental_and_full["a"]
    columns = a.query("""select column_name, data_type from information_schema.columns
                         where table_schema = 'staging' and table_name = 'stg_events__requests'
                         order by ordinal_position""")
    names = [name for name, _ in columns]
    assert "has_merged_tags" not in names
    assert dict(columns)["source_count"] == "DECIMAL(18,0)"
    assert names[-2:] == ["_loaded_at", "request_id_length"]
    rows, filled, days = a.query("""select count(*), count(request_id_length), count(distinct usage_date)
                                    from staging.stg_events__requests""")[0]
    assert rows > 0 and filled == rows and days > 20, (rows, filled, days)
