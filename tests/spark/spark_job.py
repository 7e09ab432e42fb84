"""A PySpark job in a process of its own, for the Spark tests: load the raw tables, or export tables.

Run as `python spark_job.py SPEC.json`. It opens the same local session as the dbt `spark` target (the
settings come in the spec, rendered from profiles.yml by spark_support.py) and exits, so the Derby
metastore, which one process at a time can open, is free again for dbt. It imports nothing from the
project: the statements and casts it runs come in the spec.

  load    run `statements` (schema raw and its tables, from dagster_project/lib/raw_tables.py), then fill
          each table from its Parquet file, every column cast to the contract's type (`overwrite`:
          replacing what the table held)
  export  write `tables` (schema.table; default: every table of `schema`) to `out`/<schema.table> as
          Parquet (timestamps as microseconds), and their names to `out`/tables.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pyspark.sql import SparkSession


def session(conf: dict[str, str]) -> SparkSession:
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def load(spark: SparkSession, spec: dict) -> None:
    for statement in spec["statements"]:
        spark.sql(statement)
    for table, load_spec in spec["tables"].items():
        frame = spark.read.parquet(load_spec["parquet"])
        have = set(frame.columns)
        wanted = [name for name, _ in load_spec["columns"]]
        if have != set(wanted):
            raise SystemExit(f"raw.{table}: the Parquet file has columns {sorted(have)}, the contract {sorted(wanted)}")
        frame.createOrReplaceTempView("landed")
        casts = ", ".join(f"cast(`{name}` as {kind}) as `{name}`" for name, kind in load_spec["columns"])
        verb = "insert overwrite table" if spec.get("overwrite") else "insert into"
        spark.sql(f"{verb} raw.{table} select {casts} from landed")


def export(spark: SparkSession, spec: dict) -> None:
    out = Path(spec["out"])
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    tables = spec.get("tables") or sorted(
        f"{spec['schema']}.{t.name}" for t in spark.catalog.listTables(spec["schema"]) if not t.isTemporary)
    for name in tables:
        spark.table(name).coalesce(1).write.mode("overwrite").parquet(str(out / name))
    (out / "tables.json").write_text(json.dumps(tables))


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    spark = session(spec["conf"])
    try:
        {"load": load, "export": export}[spec["job"]](spark, spec)
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
