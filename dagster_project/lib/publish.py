"""The published copy of the warehouse: the file BI tools open.

DuckDB lets one process write a file, and a process that holds it, even read-only, keeps writers out.
BI tools (DBeaver, Metabase, Superset, Evidence, a notebook) hold connections for hours, so they never
open the file builds write (`TOKENSPEND_DUCKDB_PATH`). After a build whose checks passed, `publish`
copies what BI reads into a NEW file beside the published one (`TOKENSPEND_PUBLISHED_PATH`) and renames
it over the published one (`os.replace`, atomic within one filesystem):

- a reader that already has the published file open keeps reading the version it opened (the old
  inode stays readable until it disconnects); its hold is on neither the warehouse file nor the new
  file, so it cannot block a build or a publish;
- a new connection opens the new version: a reader sees one whole build or the one before, never part
  of one, and never a file that is still being written;
- the build never opens the published path, for writing or reading; it only renames a finished file
  onto it.

What is published: every table (and view, as a table) of schema `marts`, the alert history
`ops.alerts`, and `ops.publication` (one row: when, by which run, the tables, the last day of data).
Seeds, raw, staging and intermediate tables stay in the warehouse file. The copy is written by DuckDB
(`CREATE TABLE ... AS SELECT` per table into an attached file, in one transaction, then a checkpoint),
so no row passes through Python.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dagster_project.lib.warehouse import connect

MARTS_SCHEMA = "marts"
ALERTS_TABLE = ("ops", "alerts")
PUBLICATION_TABLE = ("ops", "publication")
TARGET = "publish_target"  # the new file's catalog name while it is written


@dataclass(frozen=True)
class Publication:
    """What one publish wrote: the published path, when, and the rows of each table."""

    path: Path
    published_at: dt.datetime
    rows: dict[str, int]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _tables(con, catalog: str, schema: str) -> list[str]:
    return [r[0] for r in con.execute(
        "select table_name from information_schema.tables where table_catalog = ? and table_schema = ? "
        "order by table_name", [catalog, schema],
    ).fetchall()]


def _write_copy(working: Path, target: Path, run_id: str | None, now: dt.datetime, guard=None) -> dict[str, int]:
    """Write the published tables into the new file `target` in one transaction; returns rows per table."""
    with connect(working, read_only=True, guard=guard) as con:
        source = con.execute("select current_database()").fetchone()[0]
        alias = TARGET if source != TARGET else f"{TARGET}_2"
        con.execute(f"attach {_literal(str(target))} as {alias} (read_write)")
        try:
            con.execute("begin transaction")
            try:
                marts = _tables(con, source, MARTS_SCHEMA)
                if not marts:
                    raise RuntimeError(f"nothing to publish: {working} has no tables in schema {MARTS_SCHEMA}; "
                                       "build the dbt models first")
                copied = [(MARTS_SCHEMA, t) for t in marts]
                if ALERTS_TABLE[1] in _tables(con, source, ALERTS_TABLE[0]):
                    copied.append(ALERTS_TABLE)
                for schema in sorted({s for s, _ in copied} | {PUBLICATION_TABLE[0]}):
                    con.execute(f"create schema {alias}.{_ident(schema)}")
                for schema, table in copied:
                    con.execute(f"create table {alias}.{_ident(schema)}.{_ident(table)} as "
                                f"select * from {_ident(source)}.{_ident(schema)}.{_ident(table)}")
                data_through = None
                if "fct_token_spend" in marts:
                    data_through = con.execute(
                        f"select max(usage_date) from {alias}.{MARTS_SCHEMA}.fct_token_spend").fetchone()[0]
                pub_schema, pub_table = PUBLICATION_TABLE
                con.execute(f"""create table {alias}.{pub_schema}.{pub_table} (
                    published_at timestamp, run_id varchar, data_through date, tables varchar[])""")
                con.execute(f"insert into {alias}.{pub_schema}.{pub_table} values (?, ?, ?, ?)",
                            [now, run_id, data_through, [f"{s}.{t}" for s, t in copied]])
                rows = {
                    f"{s}.{t}": con.execute(f"select count(*) from {alias}.{_ident(s)}.{_ident(t)}").fetchone()[0]
                    for s, t in copied
                }
                con.execute("commit")
            except BaseException:
                con.execute("rollback")
                raise
            con.execute(f"checkpoint {alias}")
        finally:
            con.execute(f"detach {alias}")
    return rows


def publish(working: Path | str, published: Path | str, run_id: str | None = None,
            now: dt.datetime | None = None, guard: Callable | None = None) -> Publication:
    """Copy the marts and the alert history of `working` into a new file, then rename it onto `published`.

    Never opens `published` itself. On any error the new file is removed and the published file stays
    as it was. `now` (UTC) is recorded as `ops.publication.published_at`. `guard` runs first on the
    read-only connection to `working` and may refuse it (`connect`).
    """
    working, published = Path(working).resolve(), Path(published).resolve()
    if working == published:
        raise ValueError(f"the published path must differ from the warehouse file ({working})")
    if not working.exists():
        raise FileNotFoundError(f"no warehouse at {working} to publish")
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(tzinfo=None)
    published.parent.mkdir(parents=True, exist_ok=True)
    new = published.with_name(f".{published.name}.{os.getpid()}.new")  # same folder: rename stays atomic
    _remove(new)
    _remove(_wal(new))
    try:
        rows = _write_copy(working, new, run_id, now, guard)
        if _wal(new).exists():
            raise RuntimeError(f"{new} was not fully checkpointed; not published")
        _fsync(new)
        # A write-ahead log left beside the published file (a reader that opened it read-write and
        # crashed) belongs to the old version; DuckDB refuses to open a file whose log does not match.
        _remove(_wal(published))
        os.replace(new, published)
        _fsync(published.parent)
    except BaseException:
        _remove(new)
        _remove(_wal(new))
        raise
    return Publication(path=published, published_at=now, rows=rows)
