"""The same dbt project on Apache Spark: the demo built on the dbt `spark` target equals the DuckDB demo.

The DuckDB side is the session's demo build (`built_warehouse`). Its landed raw tables are exported to
Parquet from a copy of the warehouse file and loaded into schema `raw` of a local Spark warehouse created
from the raw-table contract (`raw_tables.spark_create_statements`); dbt seeds it from the repository's
seeds/ and builds the whole project there, its data tests included. Every model of schema `marts` is then
exported from Spark to Parquet and compared in DuckDB with its DuckDB table: same columns and types, same
row count, and the same rows exactly (EXCEPT ALL both ways; money is DECIMAL(38,9) on both and compared to
the nano-dollar, stricter than to the cent). A failure names each differing mart and shows rows.

Then the incremental path: one day's request events are removed on both sides and the incremental models
are rebuilt on both; on Spark that replaces day partitions and drops the emptied day (DuckDB deletes and
inserts). Every incremental table must still be equal. dbt's unit tests run on Spark too.

Needs Java 17+ and the `spark` extra; skipped without them, saying why, and mandatory with
TOKENSPEND_TEST_SPARK=1 (.ci/run, `make test-spark`). See tests/spark/spark_support.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from dagster_project.lib.raw_tables import RAW_TABLES
from tests.spark.spark_support import SparkWarehouse, require_spark

pytestmark = [pytest.mark.slow, pytest.mark.spark]

SHOWN_ROWS = 5
# what an incremental build runs: the rebuild scope and every incremental model
INCREMENTAL = ["int_raw_day_fingerprints", "int_rebuild_days", "config.materialized:incremental"]


def export_raw(duck: Path, folder: Path, tables=RAW_TABLES) -> Path:
    folder.mkdir(parents=True)
    with duckdb.connect(str(duck), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        for table in tables:
            con.execute(f"copy (select * from raw.{table}) to '{folder / table}.parquet' (format parquet)")
    return folder


@pytest.fixture(scope="module")
def spark_demo(request, tmp_path_factory):
    """The demo built on Spark from the DuckDB demo's raw data (a copy of the warehouse file beside it),
    and its marts exported to Parquet right after the build."""
    require_spark()  # before the DuckDB demo is built for nothing
    built_warehouse = request.getfixturevalue("built_warehouse")
    root = tmp_path_factory.mktemp("spark_demo")
    duck = root / "duckdb" / "tokenspend.duckdb"
    duck.parent.mkdir()
    shutil.copy(built_warehouse["db"], duck)

    spark = SparkWarehouse(root)
    spark.load_raw(export_raw(duck, root / "raw"))
    build = spark.dbt("build", "build")  # seeds, models, data tests and unit tests, in one Spark session
    marts = root / "marts_after_build"
    exported = spark.export("export_marts", marts, schema="marts")
    yield {"spark": spark, "duckdb": duck, "build": build, "marts": marts, "exported": exported,
           "built": built_warehouse["db"]}
    print(f"\nSpark steps, wall seconds: {json.dumps(spark.timings)}")


def differences(duck: Path, exported: Path, tables: list[str]) -> list[str]:
    """Each schema.table of the DuckDB warehouse against its Parquet export from Spark: a description of
    every difference in columns, types, row count or rows (empty when every table is equal)."""
    problems = []
    with duckdb.connect(str(duck), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        for table in tables:
            schema, name = table.split(".")
            spark_rows = f"read_parquet('{exported / table}/*.parquet')"
            # Spark's TIMESTAMP is an instant, as DuckDB's TIMESTAMP WITH TIME ZONE (the FOCUS dates); the Parquet
            # export says so or not by Spark version: both read as one type, the rows compare in UTC
            duck_types = {column: kind.replace("TIMESTAMP WITH TIME ZONE", "TIMESTAMP") for column, kind in con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position", [schema, name]).fetchall()}
            spark_types = {column: kind.replace("TIMESTAMP WITH TIME ZONE", "TIMESTAMP")
                           for column, kind, *_ in con.execute(f"describe select * from {spark_rows}").fetchall()}
            if duck_types != spark_types:
                problems.append(f"{table}: columns differ: DuckDB {duck_types}, Spark {spark_types}")
                continue
            columns = ", ".join(f'"{c}"' for c in duck_types)
            duck_side = f"(select {columns} from {table})"
            spark_side = f"(select {columns} from {spark_rows})"
            counts = con.execute(f"select (select count(*) from {duck_side}), (select count(*) from {spark_side})").fetchone()
            only_duck = con.execute(f"select * from ({duck_side} except all {spark_side}) limit {SHOWN_ROWS}").fetchall()
            only_spark = con.execute(f"select * from ({spark_side} except all {duck_side}) limit {SHOWN_ROWS}").fetchall()
            if counts[0] != counts[1] or only_duck or only_spark:
                problems.append(
                    f"{table}: {counts[0]} rows on DuckDB, {counts[1]} on Spark; columns ({columns})\n"
                    f"  only on DuckDB (first {SHOWN_ROWS}): {only_duck}\n"
                    f"  only on Spark (first {SHOWN_ROWS}): {only_spark}")
    return problems


def project_models(target: Path, schema: str | None = None, materialized: str | None = None) -> list[str]:
    """schema.table of the project's models (the dbt manifest, not a warehouse, says which there are)."""
    nodes = json.loads((target / "manifest.json").read_text())["nodes"].values()
    return sorted(f"{n['schema']}.{n['alias']}" for n in nodes if n["resource_type"] == "model"
                  and (schema is None or n["schema"] == schema)
                  and (materialized is None or n["config"]["materialized"] == materialized))


def test_the_whole_project_builds_on_spark_and_every_dbt_test_passes(spark_demo):
    # exposures (who reads what) have nothing to build: dbt reports them as no-op
    results = [r for r in spark_demo["build"] if not r["unique_id"].startswith("exposure.")]
    kinds = {r["unique_id"].split(".")[0] for r in results}
    assert {"model", "seed", "test"} <= kinds, kinds
    assert all(r["status"] in ("success", "pass") for r in results), [
        (r["unique_id"], r["status"]) for r in results if r["status"] not in ("success", "pass")]


def test_every_mart_on_spark_equals_its_duckdb_counterpart(spark_demo):
    marts = project_models(spark_demo["spark"].target, schema="marts")
    with duckdb.connect(str(spark_demo["duckdb"]), read_only=True) as con:
        on_duckdb = [f"marts.{r[0]}" for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1").fetchall()]
    assert on_duckdb == marts, "the DuckDB demo and the project disagree on the marts"
    assert spark_demo["exported"] == marts, f"marts on Spark: {spark_demo['exported']}; the project's: {marts}"
    problems = differences(spark_demo["duckdb"], spark_demo["marts"], marts)
    assert not problems, f"{len(problems)} of {len(marts)} marts differ between Spark and DuckDB:\n" + "\n\n".join(problems)


def test_an_incremental_build_on_spark_equals_one_on_duckdb(spark_demo):
    """One day's request events disappear (a re-delivery that drops a day): both engines rebuild the
    changed day and the lookback days; on Spark the emptied day's partitions are dropped and the others
    overwritten. Every incremental model, and the scope, must be equal on both."""
    spark: SparkWarehouse = spark_demo["spark"]
    duck = spark.root / "duckdb_incremental" / "tokenspend.duckdb"
    duck.parent.mkdir()
    shutil.copy(spark_demo["built"], duck)
    with duckdb.connect(str(duck)) as con:
        day = con.execute("select distinct cast(occurred_at as date) as d from raw.request_events "
                          "order by d limit 1 offset 20").fetchone()[0]
        con.execute("delete from raw.request_events where cast(occurred_at as date) = ?", [day])
    spark.load_raw(export_raw(duck, spark.root / "raw_incremental", ["request_events"]), overwrite=True)

    spark.dbt("run_incremental_duckdb", "run", "--select", *INCREMENTAL, duckdb_path=duck)
    spark.dbt("run_incremental_spark", "run", "--select", *INCREMENTAL)
    tables = ["intermediate.int_rebuild_days", *project_models(spark.target, materialized="incremental")]
    exported = spark.root / "after_incremental"
    spark.export("export_incremental", exported, tables=tables)

    with duckdb.connect(str(duck), read_only=True) as con:
        scope = [r[0] for r in con.execute("select usage_date from intermediate.int_rebuild_days order by 1").fetchall()]
        left = con.execute("select count(*) from staging.stg_events__requests where usage_date = ?", [day]).fetchone()[0]
    assert day in scope and len(scope) < 10, f"an incremental build of {day} and the lookback days, not {scope}"
    assert left == 0, "the day without events must be emptied"
    problems = differences(duck, exported, tables)
    assert not problems, "after an incremental build, Spark and DuckDB differ:\n" + "\n\n".join(problems)


def test_every_dbt_unit_test_passes_on_spark(spark_demo):
    unit = [r for r in spark_demo["build"] if r["unique_id"].startswith("unit_test.")]
    assert len(unit) >= 20, len(unit)
    assert all(r["status"] == "pass" for r in unit), [r["unique_id"] for r in unit if r["status"] != "pass"]
