"""BI tools hold the published file for hours: a build and a publish go through while another process
holds it, and a process reading it in a loop only ever sees whole, consistent versions."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import dagster as dg
import duckdb

from dagster_project.defs.publish.assets import published_warehouse
from dagster_project.lib.publish import publish
from tests.duckdb_holder import held
from tests.publish.conftest import published_of, run_dbt
from tests.publish.test_publish import MARTS

READER = """
import json, os, sys, duckdb
path, stop, out = sys.argv[1], sys.argv[2], open(sys.argv[3], "w")
while not os.path.exists(stop):
    try:
        con = duckdb.connect(path, read_only=True)
        try:
            marts = sorted(r[0] for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'").fetchall())
            fact, daily = con.execute("select (select sum(cost_usd) from marts.fct_token_spend), "
                                      "(select sum(cost_usd) from marts.mart_spend_daily)").fetchone()
            run = con.execute("select run_id from ops.publication").fetchone()[0]
        finally:
            con.close()
        print(json.dumps({"marts": marts, "fact": str(fact), "daily": str(daily), "run": run}), file=out, flush=True)
    except Exception as exc:
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), file=out, flush=True)
"""


def published_run(path) -> str:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("select run_id from ops.publication").fetchone()[0]


def test_a_reader_holding_the_published_file_does_not_stop_the_build(working):
    published = published_of(working)
    with dg.instance_for_test() as instance:
        first = dg.materialize([published_warehouse], instance=instance)
        with held(published, read_only=True) as bi_tool:
            # the build: dbt rebuilds every mart in the warehouse file, then the publish step replaces the copy
            build = run_dbt(working, "run", "--select", "marts")
            assert build.returncode == 0, build.stdout[-3000:]
            second = dg.materialize([published_warehouse], instance=instance)
            assert second.success
            assert published_run(published) == second.run_id, "a new connection reads the new version"
            assert bi_tool.query("select run_id from ops.publication") == [[first.run_id]], (
                "the open connection keeps reading the version it opened")
            assert bi_tool.query("select count(*) from marts.fct_token_spend")[0][0] > 0


def test_a_reader_holding_the_warehouse_file_itself_would_stop_the_build(working):
    """Why BI tools get their own file: a read-only hold on the file dbt writes makes the build fail."""
    with held(working.db, read_only=True):
        build = run_dbt(working, "run", "--select", "mart_spend_daily")
    assert build.returncode != 0
    assert "Could not set lock" in build.stdout + build.stderr


def test_readers_only_ever_see_whole_consistent_versions(working, tmp_path):
    published = published_of(working)
    publish(working.db, published, run_id="v0")
    stop, log = tmp_path / "stop-reading", tmp_path / "reads.jsonl"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(published), str(stop), str(log)],
                              stderr=subprocess.PIPE, text=True)
    try:
        while not log.exists() or not log.read_text():
            assert reader.poll() is None, reader.stderr.read()
            time.sleep(0.05)
        build = run_dbt(working, "run", "--select", "marts")  # a build while the reader reads
        assert build.returncode == 0, build.stdout[-3000:]
        for version in range(1, 5):
            with duckdb.connect(str(working.db)) as con:  # each version's totals differ, and still agree
                for mart in ("fct_token_spend", "mart_spend_daily"):
                    con.execute(f"update marts.{mart} set cost_usd = cost_usd * 2")
            publish(working.db, published, run_id=f"v{version}")
            time.sleep(0.5)
    finally:
        stop.touch()
        _, err = reader.communicate(timeout=60)
    reads = [json.loads(line) for line in log.read_text().splitlines()]
    assert not [r for r in reads if "error" in r], err
    assert all(r["marts"] == sorted(MARTS) for r in reads), "every mart in every version"
    assert all(r["fact"] == r["daily"] for r in reads), "the fact and the daily mart agree in every read"
    totals = {}
    for r in reads:
        totals.setdefault(r["run"], set()).add(r["fact"])
    assert all(len(t) == 1 for t in totals.values()), totals
    assert {"v0", "v4"} <= set(totals) and len(totals) >= 3, totals
    assert len(reads) > 20
