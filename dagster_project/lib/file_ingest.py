"""One mechanism for every file source: find new files, read them with DuckDB, keep good and bad rows.

A `FileSource` names a folder under the landing directory, the raw table it feeds and one SQL SELECT
that maps a `records` relation (`_source_file`, `_source_line`, `rec` JSON, `raw_record` text) onto the
table's columns plus a `_reject_reason`. Readers turn every format into that one relation:
JSON lines (`.jsonl`, `.ndjson`, `.json`), CSV and Parquet, each optionally gzip-compressed, so a
mapping is written once per source and serves every format. A source may also bring its own reader
(OTLP/JSON span files explode into one record per span).

Loading is incremental and atomic per file: a file whose path, size and modification time are already
in `raw.landed_files` is not read again; a new or changed file replaces its own rows in the raw table
and in `raw.rejected_rows`, and its `landed_files` entry, in one transaction. Rejected rows are kept
whole with their file, line and reason, and the good rows of the same file still load.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dagster_project.lib.warehouse import Slice, replace_slices

MAX_LINE_BYTES = 64 << 20
_GZ = ".gz"


def sql_literal(value: str) -> str:
    """A SQL string literal (single quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def file_format(path: Path) -> str | None:
    """`jsonl`, `csv` or `parquet` from the file name (a trailing `.gz` is allowed), else None."""
    name = path.name.lower()
    if name.endswith(_GZ):
        name = name[: -len(_GZ)]
    for suffix, fmt in ((".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "jsonl"), (".csv", "csv"), (".parquet", "parquet")):
        if name.endswith(suffix):
            return fmt
    return None


def records_sql(path: Path, fmt: str) -> str:
    """SQL yielding (`_source_file`, `_source_line`, `rec`, `raw_record`) for one file.

    JSON lines are read as plain text lines first so that a line that is not JSON is kept as a reject
    (with its line number) instead of failing the whole file.
    """
    p = sql_literal(str(path))
    if fmt == "jsonl":
        return f"""
            select {p} as _source_file, _source_line,
                   try_cast(line as json) as rec, line as raw_record
            from (
                select row_number() over () as _source_line, line
                from read_csv({p}, columns = {{'line': 'VARCHAR'}}, header = false, delim = '\x1f',
                              quote = '', escape = '', auto_detect = false, compression = 'auto',
                              max_line_size = {MAX_LINE_BYTES})
            )
            where line is not null and trim(line) <> ''"""
    if fmt == "csv":
        # numbered against the file's own lines by `_prepare_csv`, which must run first
        return f"""
            select {p} as _source_file, _source_line, rec, rec::varchar as raw_record from _ts_csv_lines"""
    if fmt == "parquet":
        return f"""
            select {p} as _source_file, file_row_number + 1 as _source_line,
                   to_json(t) as rec, to_json(t)::varchar as raw_record
            from (select * exclude (file_row_number), file_row_number
                  from read_parquet({p}, file_row_number = true)) t"""
    raise ValueError(f"{path}: unsupported file format {fmt!r}")


@dataclass(frozen=True)
class FileSource:
    """A folder of files that feeds one raw table through one mapping."""

    name: str
    table: str
    subdir: str
    parse_sql: str
    reader: Callable[[Path, str], str] = records_sql

    def folder(self, landing_dir: Path) -> Path:
        return landing_dir / self.subdir

    def discover(self, landing_dir: Path) -> list[Path]:
        folder = self.folder(landing_dir)
        if not folder.exists():
            return []
        return sorted(p for p in folder.rglob("*") if p.is_file() and file_format(p) and ".partial" not in p.parts)


@dataclass
class LoadSummary:
    files_seen: int = 0
    files_loaded: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0


def _prepare_csv(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Read a CSV file into `_ts_csv_lines(_source_line, rec)`, numbered by the file's own lines.

    DuckDB's reader keeps rows it cannot read (wrong column count, bad quoting) in `reject_errors`
    with their line; the rows it kept are the remaining lines in order (line 1 is the header), so each
    kept row gets its true line number even after a refused one.
    """
    p = sql_literal(str(path))
    # DuckDB appends every scan's refused rows to the same session tables: start each file afresh
    con.execute("drop table if exists reject_errors")
    con.execute("drop table if exists reject_scans")
    con.execute(f"""
        create or replace temp table _ts_csv as
        select row_number() over () as _kept_idx, to_json(t) as rec
        from read_csv({p}, all_varchar = true, header = true, compression = 'auto', store_rejects = true) t""")
    if not _has_csv_rejects(con):
        con.execute("create temp table reject_errors as select null::bigint as line, null::varchar as error_message, "
                    "null::varchar as csv_line where false")
    con.execute("""
        create or replace temp table _ts_csv_lines as
        with rejected as (
            select distinct line from reject_errors where line is not null
        ), candidates as (
            select l as line
            from range(2, 2 + (select count(*) from _ts_csv) + (select count(*) from rejected)) t(l)
            where l not in (select line from rejected)
        ), numbered as (
            select line, row_number() over (order by line) as _kept_idx from candidates
        )
        select numbered.line as _source_line, _ts_csv.rec
        from _ts_csv join numbered using (_kept_idx)""")


def _has_csv_rejects(con: duckdb.DuckDBPyConnection) -> bool:
    return con.execute("select count(*) from duckdb_tables() where table_name = 'reject_errors'").fetchone()[0] > 0


def _csv_structure_rejects(con: duckdb.DuckDBPyConnection, path: Path) -> str | None:
    """Rows DuckDB's CSV reader refused in this file's scan, as rejects; None if none."""
    if not con.execute("select count(*) from reject_errors").fetchone()[0]:
        return None
    return f"""
        select {sql_literal(str(path))} as _source_file, line as _source_line,
               'CSV row could not be read: ' || error_message as _reject_reason, csv_line as raw_record
        from reject_errors"""


def load_file(con: duckdb.DuckDBPyConnection, source: FileSource, path: Path) -> tuple[int, int]:
    """Load one file atomically; returns (rows loaded, rows rejected)."""
    fmt = file_format(path)
    stat = path.stat()
    reader = source.reader(path, fmt)
    try:
        if fmt == "csv":
            _prepare_csv(con, path)
        con.execute(
            f"create or replace temp table _ts_parsed as with records as ({reader}) {source.parse_sql}"
        )
    except duckdb.Error as exc:
        raise ValueError(f"{path}: could not be read as {fmt}: {exc}") from exc
    structure = _csv_structure_rejects(con, path) if fmt == "csv" else None
    loaded_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    p = str(path)
    rejects_sql = (
        "select _source_file, _source_line, _reject_reason as reason, raw_record from _ts_parsed "
        "where _reject_reason is not null"
        + (f" union all select _source_file, _source_line, _reject_reason, raw_record from ({structure})" if structure else "")
    )
    good, bad, _ = replace_slices(con, [
        Slice(
            source.table, "_source_file = ?", [p],
            "select * exclude (_reject_reason, raw_record), ?::timestamp as _loaded_at from _ts_parsed "
            "where _reject_reason is null",
            [loaded_at],
        ),
        Slice(
            "rejected_rows", "source = ? and _source_file = ?", [source.name, p],
            f"select ? as source, *, ?::timestamp as _loaded_at from ({rejects_sql})",
            [source.name, loaded_at],
        ),
        Slice(
            "landed_files", "source = ? and path = ?", [source.name, p],
            "select ? as source, ? as path, ? as size_bytes, ?::timestamp as modified_at, "
            "(select count(*) from _ts_parsed where _reject_reason is null) as rows_loaded, "
            f"(select count(*) from ({rejects_sql})) as rows_rejected, ?::timestamp as _loaded_at",
            [source.name, p, stat.st_size, dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC).replace(tzinfo=None), loaded_at],
        ),
    ])
    for temp in ("_ts_parsed", "_ts_csv", "_ts_csv_lines"):
        con.execute(f"drop table if exists {temp}")
    return good, bad


def load_new_files(con: duckdb.DuckDBPyConnection, source: FileSource, landing_dir: Path) -> LoadSummary:
    """Load every file of `source` that is new or changed since it was last loaded."""
    landed = {
        path: (size, modified)
        for path, size, modified in con.execute(
            "select path, size_bytes, modified_at from raw.landed_files where source = ?", [source.name]
        ).fetchall()
    }
    summary = LoadSummary()
    for path in source.discover(landing_dir):
        summary.files_seen += 1
        stat = path.stat()
        modified = dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC).replace(tzinfo=None)
        if landed.get(str(path)) == (stat.st_size, modified):
            continue
        good, bad = load_file(con, source, path)
        summary.files_loaded += 1
        summary.rows_loaded += good
        summary.rows_rejected += bad
    return summary
