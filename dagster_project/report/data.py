"""Reading the marts for the spend report: one short read-only connection, small aggregated frames.

Every figure is computed by DuckDB from the marts (money stays DECIMAL until it is formatted or handed to
the chart library); Python only receives the few rows each chart and table shows. The file is opened
read-only, every query of every section runs, and the connection closes before anything is rendered, so
the report never holds the file longer than its reads take.

A section names the tables it needs. When one of them is not in the file, the section is "not built"
(a mart of a later version, an old warehouse); when its queries return no rows, it says "no data".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from dagster_project.lib.warehouse import connect


class ReportInputError(RuntimeError):
    """The file the report was given cannot be read as a tokenspend warehouse; the message names it."""


@dataclass(frozen=True)
class Frame:
    """The rows of one query, with its column names."""

    columns: tuple[str, ...]
    rows: list[tuple]

    def __len__(self) -> int:
        return len(self.rows)

    def __bool__(self) -> bool:
        return bool(self.rows)

    def column(self, name: str) -> list:
        index = self.columns.index(name)
        return [row[index] for row in self.rows]

    def records(self) -> list[dict]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


@dataclass(frozen=True)
class Catalog:
    """The tables of schemas marts and ops in the file, each with its columns in table order."""

    tables: dict[str, tuple[str, ...]]

    def has(self, table: str) -> bool:
        return table in self.tables

    def has_column(self, table: str, column: str) -> bool:
        return column in self.tables.get(table, ())

    def columns(self, table: str) -> tuple[str, ...]:
        return self.tables.get(table, ())


@dataclass(frozen=True)
class Source:
    """What a section reads: the tables it needs, and its queries (name -> SQL) given the catalog. A query
    whose SQL is None is left out (an optional table the file does not have)."""

    tables: tuple[str, ...]
    queries: Callable[[Catalog], dict[str, str | None]]


@dataclass
class Reading:
    """Everything the report read from one file."""

    path: Path
    catalog: Catalog
    publication: dict | None
    frames: dict[str, dict[str, Frame | None]] = field(default_factory=dict)
    missing: dict[str, list[str]] = field(default_factory=dict)

    def data_through(self) -> dt.date | None:
        if self.publication and self.publication.get("data_through"):
            return self.publication["data_through"]
        daily = self.frames.get("spend", {}).get("totals")
        return daily.rows[0][daily.columns.index("last_day")] if daily else None


def _catalog(con: duckdb.DuckDBPyConnection) -> Catalog:
    rows = con.execute("""
        select table_schema || '.' || table_name, list(column_name order by ordinal_position)
        from information_schema.columns
        where table_catalog = current_database() and table_schema in ('marts', 'ops')
        group by all
    """).fetchall()
    return Catalog({name: tuple(columns) for name, columns in rows})


def _frame(con: duckdb.DuckDBPyConnection, sql: str) -> Frame:
    cursor = con.execute(sql)
    columns = tuple(d[0] for d in cursor.description)
    return Frame(columns, cursor.fetchall())


def read(path: Path | str, sources: dict[str, Source]) -> Reading:
    """Open `path` read-only, run every source's queries, close it. Raises ReportInputError naming the file
    when it is missing, not a DuckDB database, or has no schema marts."""
    path = Path(path)
    if not path.is_file():
        raise ReportInputError(f"no warehouse at {path}: build it first (`make run` for the demo), or pass --db")
    try:
        with connect(path, read_only=True) as con:
            catalog = _catalog(con)
            if not any(name.startswith("marts.") for name in catalog.tables):
                raise ReportInputError(f"{path} has no tables in schema marts: it is not a built tokenspend "
                                       "warehouse (build the dbt models first)")
            publication = None
            if catalog.has("ops.publication"):
                found = _frame(con, "select published_at, data_through, run_id from ops.publication limit 1")
                publication = found.records()[0] if found else None
            reading = Reading(path=path, catalog=catalog, publication=publication)
            for key, source in sources.items():
                absent = [t for t in source.tables if not catalog.has(t)]
                if absent:
                    reading.missing[key] = absent
                    continue
                reading.frames[key] = {
                    name: (None if sql is None else _frame(con, sql))
                    for name, sql in source.queries(catalog).items()
                }
    except duckdb.Error as exc:
        raise ReportInputError(f"cannot read {path} as a tokenspend warehouse: {exc}") from exc
    return reading
