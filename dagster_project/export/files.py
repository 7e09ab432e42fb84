"""Tables of the warehouse as CSV and Parquet files, written by DuckDB `COPY` (no row passes through Python).

Each table becomes `<folder>/<table>.parquet` and `<folder>/<table>.csv`, in two steps that keep the
warehouse free for builds:

1. `snapshot_*`, on the caller's (read-only) connection to the warehouse: each table is copied to a
   temporary Parquet file in its folder. One connection is one snapshot, so the tables agree.
2. `finish`, once that connection is closed: each temporary Parquet file is written again as CSV by an
   in-memory DuckDB, then both are renamed over the previous files (`os.replace`). A reader sees the
   previous file or the new one, whole, never part of one; a re-run replaces the files, never appends.

- Parquet: the table's own types: DECIMAL(38,9) money, DATE, UTC-adjusted TIMESTAMP, BOOLEAN, strings.
- CSV: a header row, comma-separated, UTF-8; dates `YYYY-MM-DD`, timestamps in UTC as
  `YYYY-MM-DDTHH:MM:SSZ`, decimals as exact decimal text, an empty field for null.

What is written: every table of schema `marts` into `<exports>/marts/` (files of marts that no longer exist
are removed from that folder, which the export owns), and the FOCUS cost and usage dataset
(`exports.focus_cost_and_usage`, dbt_models/models/exports/) into `<exports>/focus/`, its day key
`usage_date` named `x_UsageDate` (FOCUS prefixes the columns it does not define with `x_`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import duckdb

MARTS_SCHEMA = "marts"
MARTS_FOLDER = "marts"
FOCUS_SCHEMA, FOCUS_TABLE = "exports", "focus_cost_and_usage"
FOCUS_FOLDER = "focus"
FOCUS_SELECT = f'select * rename (usage_date as x_UsageDate) from "{FOCUS_SCHEMA}"."{FOCUS_TABLE}"'
COPY_OPTIONS = {
    "csv": "format csv, header true, delimiter ',', quote '\"', timestampformat '%Y-%m-%dT%H:%M:%SZ'",
    "parquet": "format parquet",
}


class ExportError(RuntimeError):
    """The warehouse does not hold what the export writes; the message says what to build."""


@dataclass(frozen=True)
class ExportedTable:
    """One table written: `schema.table`, its rows, and the files (CSV, Parquet)."""

    relation: str
    rows: int
    paths: tuple[Path, ...]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def tables_in(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    """The base tables and views of `schema` in the connection's database, by name."""
    return [r[0] for r in con.execute(
        "select table_name from information_schema.tables where table_catalog = current_database() "
        "and table_schema = ? order by table_name", [schema]).fetchall()]


@dataclass(frozen=True)
class Snapshot:
    """A table copied out of the warehouse to a temporary Parquet file, waiting for `finish`."""

    relation: str
    folder: Path
    name: str
    parquet: Path
    rows: int


def _tmp(folder: Path, name: str, fmt: str) -> Path:
    return folder / f".{name}.{fmt}.{os.getpid()}.tmp"


def snapshot(con: duckdb.DuckDBPyConnection, select_sql: str, folder: Path, name: str, relation: str) -> Snapshot:
    """`select_sql` on `con` into a temporary Parquet file in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(folder, name, "parquet")
    _remove(tmp)
    try:
        rows = con.execute(f"copy ({select_sql}) to {_literal(str(tmp))} ({COPY_OPTIONS['parquet']})").fetchone()[0]
    except BaseException:
        _remove(tmp)
        raise
    return Snapshot(relation=relation, folder=folder, name=name, parquet=tmp, rows=rows)


def discard(snapshots: list[Snapshot]) -> None:
    """Remove the temporary files of snapshots that will not be finished."""
    for s in snapshots:
        _remove(s.parquet)
        _remove(_tmp(s.folder, s.name, "csv"))


def finish(snapshots: list[Snapshot]) -> list[ExportedTable]:
    """Write each snapshot's CSV from its Parquet file, then rename both into place (no warehouse needed)."""
    done = []
    try:
        with duckdb.connect() as con:
            con.execute("set TimeZone = 'UTC'")
            for s in snapshots:
                csv_tmp = _tmp(s.folder, s.name, "csv")
                rows = con.execute(f"copy (select * from read_parquet({_literal(str(s.parquet))})) "
                                   f"to {_literal(str(csv_tmp))} ({COPY_OPTIONS['csv']})").fetchone()[0]
                if rows != s.rows:
                    raise ExportError(f"{s.relation}: {rows} rows written to CSV, {s.rows} to Parquet")
                paths = (s.folder / f"{s.name}.csv", s.folder / f"{s.name}.parquet")
                os.replace(csv_tmp, paths[0])
                os.replace(s.parquet, paths[1])
                done.append(ExportedTable(relation=s.relation, rows=s.rows, paths=paths))
    finally:
        discard(snapshots[len(done):])
    return done


def snapshot_marts(con: duckdb.DuckDBPyConnection, export_dir: Path) -> list[Snapshot]:
    """Every table of schema `marts`, for `<export_dir>/marts/`."""
    marts = tables_in(con, MARTS_SCHEMA)
    if not marts:
        raise ExportError(f"the warehouse has no tables in schema {MARTS_SCHEMA}: build it first (`make run` for the "
                          "demo, `python -m dagster_project.cli run` for live data)")
    taken: list[Snapshot] = []
    try:
        for t in marts:
            taken.append(snapshot(con, f"select * from {_ident(MARTS_SCHEMA)}.{_ident(t)}", export_dir / MARTS_FOLDER,
                                  t, f"{MARTS_SCHEMA}.{t}"))
    except BaseException:
        discard(taken)
        raise
    return taken


def snapshot_focus(con: duckdb.DuckDBPyConnection, export_dir: Path) -> Snapshot:
    """The FOCUS cost and usage dataset, for `<export_dir>/focus/focus_cost_and_usage.*`."""
    if FOCUS_TABLE not in tables_in(con, FOCUS_SCHEMA):
        raise ExportError(f"the warehouse has no {FOCUS_SCHEMA}.{FOCUS_TABLE}: build it with this version of "
                          "tokenspend first (dbt model models/exports/focus_cost_and_usage.sql)")
    return snapshot(con, FOCUS_SELECT, export_dir / FOCUS_FOLDER, FOCUS_TABLE, f"{FOCUS_SCHEMA}.{FOCUS_TABLE}")


def remove_stale_marts(export_dir: Path, exported: list[ExportedTable]) -> list[Path]:
    """Remove the files in `<export_dir>/marts/` of marts that were not exported; returns them."""
    folder = export_dir / MARTS_FOLDER
    current = {p for e in exported for p in e.paths}
    stale = [p for p in sorted(folder.glob("*")) if p.suffix in (".csv", ".parquet") and p not in current]
    for p in stale:
        p.unlink()
    return stale


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote, how long it held the warehouse, and the stale mart files it removed."""

    tables: list[ExportedTable]
    held_seconds: float
    removed: list[Path]


def export_files(connect: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]], export_dir: Path,
                 marts: bool = True) -> ExportResult:
    """The FOCUS export, and with `marts` every mart, into `export_dir`. `connect()` opens the warehouse
    (read-only); it is closed as soon as the Parquet snapshots are taken, before any CSV is written."""
    started = time.monotonic()
    snapshots: list[Snapshot] = []
    with connect() as con:
        try:
            if marts:
                snapshots.extend(snapshot_marts(con, export_dir))
            snapshots.append(snapshot_focus(con, export_dir))
        except BaseException:
            discard(snapshots)
            raise
    held = time.monotonic() - started
    tables = finish(snapshots)
    removed = remove_stale_marts(export_dir, tables) if marts else []
    return ExportResult(tables=tables, held_seconds=held, removed=removed)
