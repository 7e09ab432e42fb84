"""A tiny warehouse for the report's fast tests: mart tables with the columns and types of their dbt
contracts (read from the marts' yml), holding the few rows a test writes; no dbt run.

Because the columns come from the contracts, a mart column the report reads that is renamed or dropped
makes these tests fail, as the report would on a real warehouse.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import yaml

from dagster_project import settings
from dagster_project.defs.alerts.state import ensure_alerts_table

MARTS_DIR = settings.DBT_PROJECT_DIR / "models" / "marts"


def _duckdb_type(data_type: str | None) -> str:
    if data_type is None or data_type == "string":
        return "varchar"
    if "{{" in data_type:  # the money anchor: money_type() by target
        return "decimal(38,9)"
    return data_type


def contract_columns(model: str) -> dict[str, str]:
    """The model's columns and DuckDB types, as its yml declares them."""
    for path in sorted(MARTS_DIR.glob("*.yml")):
        for node in (yaml.safe_load(path.read_text()) or {}).get("models", []):
            if node["name"] == model:
                return {c["name"]: _duckdb_type(c.get("data_type")) for c in node.get("columns", [])}
    raise KeyError(f"no model {model} in {MARTS_DIR}/*.yml")


def create_tiny_warehouse(path: Path, marts: dict[str, list[dict]], alerts: list[dict] | None = None) -> Path:
    """A DuckDB file at `path` with each mart of `marts` (contract columns; the rows given, unset columns
    null) and, when `alerts` is given, ops.alerts with those rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        for model, rows in marts.items():
            columns = contract_columns(model)
            con.execute(f"create table marts.{model} ({', '.join(f'{c} {t}' for c, t in columns.items())})")
            _insert(con, f"marts.{model}", rows)
        if alerts is not None:
            ensure_alerts_table(con)
            _insert(con, "ops.alerts", alerts)
    return path


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict]) -> None:
    for row in rows:
        names = list(row)
        con.execute(f"insert into {table} ({', '.join(names)}) values ({', '.join('?' for _ in names)})",
                    [row[n] for n in names])
