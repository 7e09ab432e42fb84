"""The DuckDB warehouse: one connection helper and the one way every loader writes.

Every ingest asset lands through `replace_rows`: in one transaction it deletes the slice of a raw table
that the load covers (a partition's time window, or the rows of the files being loaded) and inserts
the new rows. A re-run therefore never duplicates, and a load that fails before the commit leaves the
earlier data exactly as it was.

DuckDB lets one process write a file, and a process that holds it (even read-only) keeps writers out.
The warehouse file is therefore the build's alone: BI tools read the published copy (`lib/publish.py`),
and the alert sensor holds the file only for a read and a short update, never across network I/O.
`connect` waits a few seconds for such a short hold to end before it gives up.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dagster_project.lib.raw_tables import create_raw_tables

# How long `connect` waits for another process's hold on the file to end (the alert sensor's read or
# update lasts milliseconds; a build or a BI tool holding the file does not end in time and still fails).
LOCK_WAIT_SECONDS = 10.0


def is_lock_conflict(exc: BaseException) -> bool:
    """True when DuckDB refused the file because another process holds it."""
    return isinstance(exc, duckdb.IOException) and "could not set lock" in str(exc).lower()


def open_database(
    path: Path | str, read_only: bool = False, lock_wait_seconds: float = LOCK_WAIT_SECONDS
) -> duckdb.DuckDBPyConnection:
    """`duckdb.connect`, retried while another process holds the file, for up to `lock_wait_seconds`."""
    deadline = time.monotonic() + lock_wait_seconds
    pause = 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if not is_lock_conflict(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


@contextlib.contextmanager
def connect(
    path: Path | str,
    read_only: bool = False,
    lock_wait_seconds: float = LOCK_WAIT_SECONDS,
    guard: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse in UTC, with the raw schema in place (unless read-only).

    While another process holds the file, the open is retried for up to `lock_wait_seconds`, then the
    lock error is raised (`is_lock_conflict` recognises it). `guard`, when given, runs first on the new
    connection and may refuse the file by raising (`lib/deployment.py` checks the file's mode there).
    """
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = open_database(path, read_only, lock_wait_seconds)
    try:
        con.execute("set TimeZone = 'UTC'")
        if guard is not None:
            guard(con)
        if not read_only:
            create_raw_tables(con)
        yield con
    finally:
        con.close()


@dataclass(frozen=True)
class Slice:
    """A slice of `raw.<table>` to replace: rows matching `delete_where` go, rows of `select_sql` come."""

    table: str
    delete_where: str
    delete_params: list
    select_sql: str
    select_params: list | None = None


def replace_slices(con: duckdb.DuckDBPyConnection, slices: list[Slice]) -> list[int]:
    """Replace several slices in ONE transaction; returns the rows inserted per slice.

    On any error the transaction is rolled back and the error re-raised, so every table is left as
    it was before the call.
    """
    inserted = []
    con.execute("begin transaction")
    try:
        for s in slices:
            con.execute(f"delete from raw.{s.table} where {s.delete_where}", s.delete_params)
            before = con.execute(f"select count(*) from raw.{s.table}").fetchone()[0]
            con.execute(f"insert into raw.{s.table} by name {s.select_sql}", s.select_params or [])
            inserted.append(con.execute(f"select count(*) from raw.{s.table}").fetchone()[0] - before)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return inserted


def replace_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    delete_where: str,
    delete_params: list,
    select_sql: str,
    select_params: list | None = None,
) -> int:
    """Replace one slice of `raw.<table>` atomically (see `replace_slices`); returns rows inserted."""
    return replace_slices(con, [Slice(table, delete_where, delete_params, select_sql, select_params)])[0]
