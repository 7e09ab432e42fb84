"""What the Spark run is made of, checked without Spark: the raw contract as Spark SQL, the session settings
read from the dbt profile, and when the Spark tests skip or fail."""

from __future__ import annotations

import duckdb
import pytest

from dagster_project.lib.raw_tables import RAW_TABLES, create_raw_tables, raw_columns, spark_create_statements
from tests.spark import spark_support


def test_raw_columns_read_the_contract_as_duckdb_creates_it():
    con = duckdb.connect()
    create_raw_tables(con)
    for name in RAW_TABLES:
        created = con.execute(
            "select column_name, data_type, is_nullable = 'NO' from information_schema.columns "
            "where table_schema = 'raw' and table_name = ? order by ordinal_position", [name]).fetchall()
        assert raw_columns(name) == [tuple(c) for c in created], name


def test_spark_statements_create_every_raw_table_with_every_column():
    statements = spark_create_statements()
    assert statements[0] == "create schema if not exists raw"
    assert len(statements) == 1 + len(RAW_TABLES)
    for name, statement in zip(RAW_TABLES, statements[1:], strict=True):
        assert statement.startswith(f"create table if not exists raw.{name} (") and statement.endswith(") using parquet")
        assert statement.count(",") + 1 == len(raw_columns(name))
        assert "VARCHAR" not in statement and "NOT NULL" not in statement.upper()
    assert "amount string" in statements[1 + list(RAW_TABLES).index("anthropic_cost_report")]  # cents stay text


def test_session_settings_are_the_dbt_profiles_and_stay_in_the_given_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("TOKENSPEND_SPARK_MASTER", raising=False)
    conf = spark_support.session_conf(tmp_path)
    assert conf["spark.sql.warehouse.dir"] == f"{tmp_path}/spark-warehouse"
    assert conf["spark.hadoop.javax.jdo.option.ConnectionURL"] == f"jdbc:derby:;databaseName={tmp_path}/metastore_db;create=true"
    assert conf["spark.driver.extraJavaOptions"] == f"-Dderby.system.home={tmp_path}/derby"
    assert conf["spark.sql.session.timeZone"] == "UTC"
    assert conf["spark.sql.decimalOperations.allowPrecisionLoss"] == "false"
    assert conf["spark.sql.ansi.enabled"] == "false"
    assert conf["spark.master"] == "local[2]"


@pytest.mark.parametrize(("setting", "missing", "outcome"), [
    ("", "no Java found", "skip"),
    ("1", "no Java found", "fail"),
    ("0", None, "skip"),
    ("", None, "run"),
    ("1", None, "run"),
])
def test_the_spark_tests_skip_or_fail_saying_why(setting, missing, outcome, monkeypatch):
    monkeypatch.setenv(spark_support.REQUIRED_VAR, setting)
    monkeypatch.setattr(spark_support, "missing", lambda: missing)
    if outcome == "run":
        spark_support.require_spark()
        return
    error = pytest.skip.Exception if outcome == "skip" else pytest.fail.Exception
    with pytest.raises(error) as raised:
        spark_support.require_spark()
    assert (missing or "switched off") in str(raised.value)
