"""`make run` (cli.materialize_all) publishes: the whole demo build ends with the published copy, equal to
the warehouse's marts; the publish alone re-runs against the code location's check verdicts while a BI
tool holds the file."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from dagster_project.cli import load_definitions, summary
from tests.duckdb_holder import held

pytestmark = pytest.mark.slow

PUBLISHED = dg.AssetKey(["published", "warehouse"])


def marts(con) -> list[str]:
    return [r[0] for r in con.execute(
        "select table_name from information_schema.tables where table_schema = 'marts' order by 1").fetchall()]


def test_the_whole_build_publishes_the_marts_and_alerts(built_warehouse):
    db = built_warehouse["db"]
    published = db.parent / "published" / db.name
    assert published.exists()
    with duckdb.connect(str(db), read_only=True) as work, duckdb.connect(str(published), read_only=True) as pub:
        assert marts(pub) == marts(work) and len(marts(pub)) >= 10
        for table in [f"marts.{m}" for m in marts(work)] + ["ops.alerts"]:
            sql = f"select count(*) from {table}"
            assert pub.execute(sql).fetchone() == work.execute(sql).fetchone(), table
        sql = "select sum(cost_usd) from marts.fct_token_spend"
        assert pub.execute(sql).fetchone() == work.execute(sql).fetchone()
        (run_id,) = pub.execute("select run_id from ops.publication").fetchone()
    event = built_warehouse["instance"].get_latest_materialization_event(PUBLISHED)
    assert event is not None and event.run_id == run_id
    assert summary(published) == summary(db)


def test_the_publish_alone_reruns_while_a_bi_tool_holds_the_copy(in_built_demo):
    built_warehouse = in_built_demo
    db = built_warehouse["db"]
    published = db.parent / "published" / db.name
    job = load_definitions().resolve_implicit_global_asset_job_def()
    with held(published, read_only=True) as bi_tool:
        (before,) = bi_tool.query("select run_id from ops.publication")
        result = job.execute_in_process(instance=built_warehouse["instance"], asset_selection=[PUBLISHED])
        assert result.success
        assert bi_tool.query("select run_id from ops.publication") == [before]
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.execute("select run_id from ops.publication").fetchone() == (result.run_id,)
