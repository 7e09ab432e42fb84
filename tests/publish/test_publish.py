"""`publish`: the marts and the alert history copied into a new file and renamed onto the published path,
which the build never opens; a failure leaves the published file as it was."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from dagster_project.defs.alerts.state import current_breaches, sync_alerts
from dagster_project.lib.publish import publish
from dagster_project.settings import current_settings
from tests.duckdb_holder import held
from tests.publish.conftest import published_of

MARTS = {"fct_token_spend", "mart_spend_daily", "mart_feature_spend", "mart_workflow_spend", "mart_team_spend",
         "mart_untagged_spend", "mart_untagged_offenders", "mart_untagged_share", "mart_reconciliation",
         "mart_budget_status", "mart_spend_anomalies", "mart_price_crosscheck", "mart_customer_spend",
         "mart_spend_change", "mart_cache_batch_levers"}
NOW = dt.datetime(2026, 10, 31, 4, 0)


def tables(path) -> set[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {f"{s}.{t}" for s, t in con.execute(
            "select table_schema, table_name from information_schema.tables").fetchall()}


def one(path, sql):
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchone()


def test_the_default_published_path_is_beside_the_warehouse_file_and_never_the_same(tmp_path, monkeypatch):
    monkeypatch.setenv("TOKENSPEND_DUCKDB_PATH", str(tmp_path / "wh" / "tokenspend.duckdb"))
    monkeypatch.delenv("TOKENSPEND_PUBLISHED_PATH", raising=False)
    assert current_settings().published_path == tmp_path / "wh" / "published" / "tokenspend.duckdb"
    monkeypatch.setenv("TOKENSPEND_PUBLISHED_PATH", str(tmp_path / "bi" / "spend.duckdb"))
    assert current_settings().published_path == tmp_path / "bi" / "spend.duckdb"
    monkeypatch.setenv("TOKENSPEND_PUBLISHED_PATH", str(tmp_path / "wh" / "tokenspend.duckdb"))
    with pytest.raises(ValueError, match="must differ from TOKENSPEND_DUCKDB_PATH"):
        current_settings()


def test_publish_copies_every_mart_and_the_alert_history_and_nothing_else(working):
    with duckdb.connect(str(working.db)) as con:
        con.execute("set TimeZone = 'UTC'")
        sync_alerts(con, current_breaches(con, 7), NOW)
        alerts = con.execute("select count(*) from ops.alerts").fetchone()[0]
    result = publish(working.db, published_of(working), run_id="run-1", now=NOW)

    assert result.path == published_of(working)
    assert tables(result.path) == {f"marts.{m}" for m in MARTS} | {"ops.alerts", "ops.publication"}
    assert result.rows["ops.alerts"] == alerts
    for mart in MARTS:
        sql = f"select count(*), sum(hash(columns(*))) from marts.{mart}"
        assert one(result.path, sql) == one(working.db, sql), mart
        assert result.rows[f"marts.{mart}"] == one(working.db, f"select count(*) from marts.{mart}")[0]
    with duckdb.connect(str(result.path), read_only=True) as con:
        types = con.execute("select data_type from information_schema.columns where table_name = 'fct_token_spend' "
                            "and column_name = 'cost_usd'").fetchone()
        publication = con.execute("select published_at, run_id, data_through, tables from ops.publication").fetchall()
    assert types == ("DECIMAL(38,9)",)
    assert publication == [(NOW, "run-1", one(working.db, "select max(usage_date) from marts.fct_token_spend")[0],
                            sorted(f"marts.{m}" for m in MARTS) + ["ops.alerts"])]
    assert sorted(p.name for p in result.path.parent.iterdir()) == ["tokenspend.duckdb"], "no temporary file left"


def test_publish_never_opens_the_published_file(working):
    """A process holding the published file read-WRITE (an exclusive lock) cannot stop a publish, and keeps
    reading the version it opened; a new connection reads the new one."""
    published = published_of(working)
    publish(working.db, published, run_id="first")
    with held(published, read_only=False) as reader:
        publish(working.db, published, run_id="second")
        assert reader.query("select run_id from ops.publication") == [["first"]]
        assert one(published, "select run_id from ops.publication") == ("second",)


def test_a_failed_publish_leaves_the_published_file_as_it_was(working, tmp_path):
    published = published_of(working)
    publish(working.db, published, run_id="good")
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(RuntimeError, match="no tables in schema marts"):
        publish(empty, published, run_id="bad")
    assert one(published, "select run_id from ops.publication") == ("good",)
    assert sorted(p.name for p in published.parent.iterdir()) == ["tokenspend.duckdb"]
    with pytest.raises(ValueError, match="must differ"):
        publish(working.db, working.db)


def test_a_stale_write_ahead_log_beside_the_published_file_is_dropped(working, tmp_path):
    """DuckDB refuses a file whose .wal belongs to another file; a log left by a crashed read-write reader
    belongs to the previous version, so publish removes it before the rename."""
    published = published_of(working)
    publish(working.db, published)
    other = tmp_path / "other.duckdb"
    with duckdb.connect(str(other)) as con:
        con.execute("create table t (x int)")
        con.execute("checkpoint")
        con.execute("set wal_autocheckpoint = '1GB'")
        con.execute("insert into t values (1)")
        wal = other.with_name(other.name + ".wal").read_bytes()
    published.with_name(published.name + ".wal").write_bytes(wal)
    publish(working.db, published, run_id="after")
    assert one(published, "select run_id from ops.publication") == ("after",)
