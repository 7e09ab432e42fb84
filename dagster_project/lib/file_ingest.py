"""One mechanism for every file source: find new files, read them with DuckDB, keep good and bad rows.

A `FileSource` names a folder under the landing directory, the raw table it feeds and one SQL SELECT
that maps a `records` relation onto the table's columns plus a `_reject_reason`. Readers turn JSON
lines (`.jsonl`, `.ndjson`, `.json`), CSV and Parquet, each optionally gzip-compressed, into that one
relation, so a mapping is written once per source and serves every format. `records` comes in two
shapes:

- field records, for a source that names its `fields` (a flat format such as the event log):
  `_source_file`, `_source_line`, `_record_error` (`not valid JSON`, `not a JSON object`, else null),
  `raw_record`, and one VARCHAR column per field holding the field's text, trimmed, NULL when absent
  or empty: a JSON value as `json_extract_string` gives it, a CSV cell, or a Parquet value cast to text
  (nested values as JSON). A JSON line is parsed once; Parquet and CSV columns are read as columns,
  never through JSON. Their mapping returns one row per record, in order, and rejects a record that
  has a `_record_error` with that error as its reason (JSON lines are numbered by their position, and
  a blank line is a record the loader drops by its `_record_error`).
- JSON records, for sources that read nested documents (LiteLLM, OpenTelemetry): `_source_file`,
  `_source_line`, `rec` (JSON, null when the line is not JSON) and `raw_record`.

`raw_record` is the record's own text for JSON lines and for a source's own reader, and the row
itself (a STRUCT) for CSV and Parquet; only a rejected row's is kept, as text (a row as its JSON).
A source may bring its own reader (OTLP/JSON span files explode into one JSON record per span); it
reads one file at a time.

Loading is incremental: a file whose path, size and modification time are already in
`raw.landed_files` is not read again. New and changed files load in batches (one format per batch):
each batch's files are read in one statement, mapped in one statement, and replace their own rows in
the raw table, in `raw.rejected_rows` and in `raw.landed_files` in ONE transaction. Rejected rows are
kept whole with their file, line (for Parquet, the row number) and reason, and the good rows of the
same file still load.

A file that cannot be read as a whole (UTF-16 or UTF-32 text, a truncated or corrupt `.gz`, text that
is not UTF-8, a Parquet file that is not Parquet) is quarantined instead of failing the load: if a
batch cannot be read, its files are loaded one at a time, and a file that still cannot be read gets
one `raw.landed_files` row with its `quarantine_reason` (DuckDB's error, shortened) and nothing else,
in one transaction, while the other files load. The row carries the unreadable version's size and
modification time, so the file is read again only once it changes. A file that loaded before and was
then replaced by an unreadable version keeps its earlier rows and rejects (the entry keeps their
counts) until a readable version replaces them: the latest good data stays rather than none. Only the
reading of the files quarantines: an error of the warehouse, of memory or of the code is raised.

JSON lines are lines split at `\\n` only. The fast reader (DuckDB's CSV reader, one column) refuses a
line holding a lone `\\r` (and files mixing `\\n` and `\\r\\n`); such a file is read again exactly, line
by line in DuckDB (`_exact_lines`, slower, one file), so a raw control byte makes its line a rejected
line (`not valid JSON`), never a rejected file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import json
import re
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from dagster_project.lib.warehouse import Slice, replace_slices

MAX_LINE_BYTES = 64 << 20
# A batch holds at most this many files and this many bytes as stored (Parquet expands most), so one
# batch's parsed rows stay a bounded size in memory; DuckDB spills beyond its memory limit.
BATCH_MAX_FILES = 500
BATCH_MAX_BYTES = {"jsonl": 1 << 30, "csv": 1 << 30, "parquet": 128 << 20}
_GZ = ".gz"
# Columns the Parquet reader adds to every row; a file with a column of the same name is refused.
_PARQUET_VIRTUAL = ("filename", "file_row_number")
_NESTED_TYPES = ("STRUCT", "MAP", "UNION")
# Types whose text is never empty and never starts or ends with a space: read without trimming.
_PLAIN_TYPES = ("BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "DATE", "TIME", "INTERVAL")
# `_record_error` of a blank line in field records read by position: neither a row nor a reject.
BLANK_LINE = "blank line"
# The line reader's column delimiter: a sequence no text line holds (a line that does is read exactly).
# A single \x1f split lines that hold one, and a trailing one was dropped.
_LINE_DELIMITER = "\x1f\x1e\x1d\x1c"
# Byte order marks of text that is not UTF-8 (UTF-32 first: its little-endian mark starts like UTF-16's).
_NOT_UTF8_MARKS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe", "UTF-16"),
                   (b"\xfe\xff", "UTF-16"))
# The longest quarantine reason kept (DuckDB's errors can quote whole lines).
MAX_REASON_CHARS = 300
# The most text (decompressed) `_exact_lines` reads: it holds a file's text whole in memory, and a larger
# file whose lines the fast reader refuses is quarantined instead (the bound of a JSON-lines batch).
EXACT_MAX_BYTES = 1 << 30


def sql_literal(value: str) -> str:
    """A SQL string literal (single quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def sql_identifier(name: str) -> str:
    """A quoted SQL identifier (double quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def file_format(path: Path) -> str | None:
    """`jsonl`, `csv` or `parquet` from the file name (a trailing `.gz` is allowed), else None."""
    name = path.name.lower()
    if name.endswith(_GZ):
        name = name[: -len(_GZ)]
    for suffix, fmt in ((".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "jsonl"), (".csv", "csv"), (".parquet", "parquet")):
        if name.endswith(suffix):
            return fmt
    return None


def field_text(expr: str) -> str:
    """A VARCHAR value as a field's text: trimmed as `trim` does (Unicode spaces), empty as NULL.

    Most values are plain ASCII that starts and ends with a printable non-space character: those are
    taken as they are, without the copy `trim` makes.
    """
    return (f"case when {expr} >= '!' and {expr} < chr(127) and not ends_with({expr}, ' ') "
            f"and strlen({expr}) = length({expr}) then {expr} else nullif(trim({expr}), '') end")


class UnreadableFile(ValueError):
    """A file (or a batch of files) whose content cannot be read as a whole: its encoding, compression or
    structure. `reason` says why, without the path. The loader quarantines such a file."""

    def __init__(self, where: str, reason: str):
        super().__init__(f"{where}: {reason}")
        self.reason = reason


# The one file whose lines `_exact_lines` has staged in `_ts_exact`, while the loader reads it again.
_exact_file: ContextVar[str | None] = ContextVar("tokenspend_exact_file", default=None)


def _lines_reader(paths: list[str]) -> str:
    """`read_csv` of the files as plain text lines: one row per line (a blank line as NULL), with `filename`.

    While `_exact_lines` holds the lines of the one file asked for, its table instead (same columns).
    """
    if paths == [_exact_file.get()]:
        return "(select line, filename from _ts_exact)"
    files = "[" + ", ".join(sql_literal(p) for p in paths) + "]"
    # the buffer is sized to the longest line allowed, not the reader's default multiple of it
    return (f"read_csv({files}, columns = {{'line': 'VARCHAR'}}, header = false, "
            f"delim = {sql_literal(_LINE_DELIMITER)}, quote = '', escape = '', auto_detect = false, "
            f"compression = 'auto', max_line_size = {MAX_LINE_BYTES}, buffer_size = {MAX_LINE_BYTES}, "
            "filename = true)")


def records_sql(path: Path, fmt: str) -> str:
    """JSON records (`_source_file`, `_source_line`, `rec`, `raw_record`) of one JSON-lines or Parquet file.

    A self-contained SELECT for a source's own reader. JSON lines are read as plain text lines first so
    that a line that is not JSON is kept as a reject (with its line number) instead of failing the file.
    """
    p = sql_literal(str(path))
    if fmt == "jsonl":
        return f"""
            select {p} as _source_file, _source_line,
                   try_cast(line as json) as rec, line as raw_record
            from (select row_number() over () as _source_line, line from {_lines_reader([str(path)])})
            where line is not null and not regexp_full_match(line, '\\s*')"""
    if fmt == "parquet":
        return f"""
            select {p} as _source_file, file_row_number + 1 as _source_line,
                   to_json(t) as rec, to_json(t)::varchar as raw_record
            from (select * exclude (file_row_number), file_row_number
                  from read_parquet({p}, file_row_number = true)) t"""
    raise ValueError(f"{path}: a source's own reader reads JSON lines or Parquet, not {fmt}")


@dataclass(frozen=True)
class FileSource:
    """A folder of files that feeds one raw table through one mapping.

    `fields`: when set, the mapping reads field records (each field a VARCHAR column of that name);
    otherwise it reads JSON records (`rec`). `reader`: a source's own reader of one file (path, format)
    into JSON records, instead of the built-in readers.
    """

    name: str
    table: str
    subdir: str
    parse_sql: str
    fields: tuple[str, ...] = ()
    reader: Callable[[Path, str], str] | None = None

    def folder(self, landing_dir: Path) -> Path:
        return landing_dir / self.subdir

    def discover(self, landing_dir: Path) -> list[Path]:
        folder = self.folder(landing_dir)
        if not folder.exists():
            return []
        return sorted((p for p in folder.rglob("*") if p.is_file() and file_format(p) and ".partial" not in p.parts),
                      key=str)


@dataclass
class LoadSummary:
    files_seen: int = 0
    files_loaded: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    # (path, reason) of each file this load quarantined
    quarantined: list[tuple[str, str]] = field(default_factory=list)

    @property
    def files_quarantined(self) -> int:
        return len(self.quarantined)


@dataclass(frozen=True)
class _File:
    path: Path
    fmt: str
    size: int
    modified: dt.datetime


@dataclass(frozen=True)
class _Records:
    """The `records` SELECT of a batch and how the loader reads it: how to turn `raw_record` into text,
    the CSV rows the reader refused, and how the records are numbered."""

    sql: str
    raw_text: str = "raw_record"
    structure_rejects: str | None = None
    # the records are every line of the files in order (`_source_line` null): the loader numbers them
    numbered_by_position: bool = False
    # the batch's one file, when the records leave `_source_file` null for the loader to fill in
    file: str | None = None
    # records to read instead when these cannot be (a stricter, faster reading failed)
    retry: Callable[[], _Records] | None = None


# --- readers -----------------------------------------------------------------------------------------

def _stage_lines(con: duckdb.DuckDBPyConnection, paths: list[str]) -> str:
    """Read JSON-lines files into `_ts_lines`; returns the SELECT of their non-blank lines, numbered.

    The files are read in one parallel scan that keeps the files' order and each file's line order, so
    a line's number is its row's position after the file's first row: no numbering pass over the data.
    """
    with _insertion_order(con, preserve=True):
        con.execute(f"create or replace temp table _ts_lines as select filename as _source_file, line "
                    f"from {_lines_reader(paths)}")
    return """
        select l._source_file, l.rowid - f._first_row + 1 as _source_line, l.line
        from _ts_lines l
        join (select _source_file, min(rowid) as _first_row from _ts_lines group by _source_file) f
          using (_source_file)
        where l.line is not null and not regexp_full_match(l.line, '\\s*')"""


def _file_column(paths: list[str], column: str) -> tuple[str | None, str]:
    """(the one file, null) for a batch of one file, whose path the loader sets on its rows at the end,
    else (None, the reader's file-name `column`)."""
    return (paths[0], "null::varchar") if len(paths) == 1 else (None, column)


def _jsonl_records(con: duckdb.DuckDBPyConnection, source: FileSource, paths: list[str],
                   tolerant: bool = False) -> _Records:
    """JSON lines as records. Field records parse each line once, as a whole: a batch with a line that is
    not JSON fails that parse and is read again `tolerant`ly, each line on its own (slower)."""
    if not source.fields:
        return _Records(f"""
            select _source_file, _source_line, try_cast(line as json) as rec, line as raw_record
            from ({_stage_lines(con, paths)})""")
    shape = sql_literal(json.dumps({f: "VARCHAR" for f in source.fields}))
    fields = [sql_identifier(f) for f in source.fields]
    parsed = f"try(json_transform(line, {shape}))" if tolerant else f"json_transform(line, {shape})"
    one_file, file_column = _file_column(paths, "filename")
    # Every line is a record, blank ones too, so that a line's number is its position in the file: the
    # loader numbers the mapped rows by position and then drops the blank lines. The object test parses
    # again only a line that does not start with '{'. A line with no space, no \u escape and only ASCII
    # cannot hold a value that starts or ends with a space, so its values need no trimming.
    return _Records(f"""
        select _source_file, null::bigint as _source_line, line as raw_record,
            case when _j is null then
                     case when line is null or regexp_full_match(line, '\\s*') then {sql_literal(BLANK_LINE)}
                          when json_valid(line) then 'not a JSON object'   -- the JSON literal null
                          else 'not valid JSON' end
                 when not starts_with(line, '{{') and coalesce(json_type(line), '') <> 'OBJECT'
                     then 'not a JSON object'
            end as _record_error,
            {", ".join(f"case when _unpadded then nullif({f}, '') else {field_text(f)} end as {f}" for f in fields)}
        from (select *, {", ".join(f"_j.{f} as {f}" for f in fields)},
                     not contains(line, ' ') and not contains(line, '\\u') and strlen(line) = length(line)
                         as _unpadded
              from (select {file_column} as _source_file, line,
                           case when starts_with(line, '{{') or not regexp_full_match(line, '\\s*') then {parsed}
                           end as _j
                    from {_lines_reader(paths)}))""", numbered_by_position=True, file=one_file,
                    retry=None if tolerant else (lambda: _jsonl_records(con, source, paths, tolerant=True)))


def _columns_records(source: FileSource, from_sql: str, file_sql: str, line_sql: str,
                     columns: list[tuple[str, str]]) -> _Records:
    """Records of a table-shaped file (CSV or Parquet) with `columns` [(name, type)]: the row as a STRUCT."""
    row = "struct_pack(" + ", ".join(f"{sql_identifier(c)} := {sql_identifier(c)}" for c, _ in columns) + ")"
    if not source.fields:
        return _Records(f"select {file_sql} as _source_file, {line_sql} as _source_line, "
                        f"to_json({row}) as rec, {row} as raw_record from {from_sql}",
                        raw_text="to_json(raw_record)::varchar")
    types = dict(columns)

    def text(field: str) -> str:
        if field not in types:
            return f"null::varchar as {sql_identifier(field)}"
        column, kind = sql_identifier(field), types[field]
        if kind.startswith(_NESTED_TYPES) or kind.endswith("]"):
            return f"to_json({column})::varchar as {column}"
        if kind.startswith(_PLAIN_TYPES):
            return f"cast({column} as varchar) as {column}"
        return f"{field_text(f'cast({column} as varchar)' if kind != 'VARCHAR' else column)} as {column}"

    return _Records(
        f"select {file_sql} as _source_file, {line_sql} as _source_line, null::varchar as _record_error, "
        f"{row} as raw_record, {', '.join(text(f) for f in source.fields)} from {from_sql}",
        raw_text="to_json(raw_record)::varchar",
    )


def _parquet_records(con: duckdb.DuckDBPyConnection, source: FileSource, paths: list[str]) -> _Records:
    """Parquet read as columns: the row number is the reader's own `file_row_number`."""
    files = "[" + ", ".join(sql_literal(p) for p in paths) + "]"
    scan = f"read_parquet({files}, union_by_name = true)"
    columns = [(name, kind) for name, kind, *_ in con.execute(f"describe select * from {scan}").fetchall()]
    reserved = [c for c, _ in columns if c in _PARQUET_VIRTUAL]
    if reserved:
        raise UnreadableFile(paths[0] if len(paths) == 1 else "a Parquet file",
                             f"column {reserved[0]!r} has the name of a column the Parquet reader adds; rename it")
    one_file, file_column = _file_column(paths, "filename")
    records = _columns_records(source, scan, file_column, "file_row_number + 1", columns)
    return _Records(records.sql, records.raw_text, file=one_file)


def _csv_records(con: duckdb.DuckDBPyConnection, source: FileSource, path: str) -> _Records:
    """One CSV file, its rows numbered by the file's own lines.

    DuckDB's reader keeps rows it cannot read (wrong column count, bad quoting) in `reject_errors`
    with their line; the rows it kept are the remaining lines in order (line 1 is the header), so each
    kept row gets its true line number even after a refused one. Refused rows become rejects.
    """
    p = sql_literal(path)
    # DuckDB appends every scan's refused rows to the same session tables: start each file afresh
    con.execute("drop table if exists reject_errors")
    con.execute("drop table if exists reject_scans")
    con.execute(f"""
        create or replace temp table _ts_csv as
        select row_number() over () as _ts_kept_idx, t.*
        from read_csv({p}, all_varchar = true, header = true, compression = 'auto', store_rejects = true) t""")
    if not con.execute("select count(*) from duckdb_tables() where table_name = 'reject_errors'").fetchone()[0]:
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
            select line, row_number() over (order by line) as _ts_kept_idx from candidates
        )
        select numbered.line as _ts_line, _ts_csv.* exclude (_ts_kept_idx)
        from _ts_csv join numbered using (_ts_kept_idx)""")
    columns = [(d[0], "VARCHAR") for d in con.execute("select * from _ts_csv_lines limit 0").description][1:]
    records = _columns_records(source, "_ts_csv_lines", p, "_ts_line", columns)
    structure = None
    if con.execute("select count(*) from reject_errors").fetchone()[0]:
        structure = f"""
            select {p} as _source_file, line as _source_line,
                   'CSV row could not be read: ' || error_message as _reject_reason, csv_line as raw_record
            from reject_errors"""
    return _Records(records.sql, records.raw_text, structure)


def _records(con: duckdb.DuckDBPyConnection, source: FileSource, batch: list[_File]) -> _Records:
    fmt, paths = batch[0].fmt, [str(f.path) for f in batch]
    if source.reader is not None:
        return _Records(source.reader(batch[0].path, fmt))
    if fmt == "jsonl":
        return _jsonl_records(con, source, paths)
    if fmt == "parquet":
        return _parquet_records(con, source, paths)
    if fmt == "csv":
        return _csv_records(con, source, paths[0])
    raise ValueError(f"{paths[0]}: unsupported file format {fmt!r}")


# --- reading and mapping a batch ----------------------------------------------------------------------

_TEMP_TABLES = ("_ts_parsed", "_ts_batch", "_ts_lines", "_ts_csv", "_ts_csv_lines", "_ts_exact",
                "_ts_exact_split")


def _rows_view(con: duckdb.DuckDBPyConnection, records: _Records) -> None:
    """`_ts_rows`: the mapped rows of the batch, each with its file and line."""
    file = f"{sql_literal(records.file)} as _source_file" if records.file else None
    if not records.numbered_by_position:
        con.execute(f"create or replace temp view _ts_rows as select * {f'replace ({file})' if file else ''} "
                    "from _ts_parsed")
        return
    # a file's rows are consecutive and in line order: line = position after the file's first row
    if records.file:
        con.execute(f"""
            create or replace temp view _ts_rows as
            select * replace (rowid + 1 as _source_line, {file}) from _ts_parsed
            where _reject_reason is distinct from {sql_literal(BLANK_LINE)}""")
        return
    con.execute(f"""
        create or replace temp view _ts_rows as
        select p.* replace (p.rowid - f._first_row + 1 as _source_line)
        from _ts_parsed p
        join (select _source_file, min(rowid) as _first_row from _ts_parsed group by _source_file) f
          using (_source_file)
        where p._reject_reason is distinct from {sql_literal(BLANK_LINE)}""")


@contextlib.contextmanager
def _insertion_order(con: duckdb.DuckDBPyConnection, preserve: bool) -> Iterator[None]:
    """Run with DuckDB's `preserve_insertion_order` set to `preserve`, then as it was.

    Raw tables promise no row order, and a parallel insert that need not keep one writes whole row
    groups instead of many partial ones that the next checkpoint would rewrite.
    """
    before = con.execute("select current_setting('preserve_insertion_order')").fetchone()[0]
    con.execute(f"set preserve_insertion_order = {'true' if preserve else 'false'}")
    try:
        yield
    finally:
        con.execute(f"set preserve_insertion_order = {'true' if before else 'false'}")


def _parse(con: duckdb.DuckDBPyConnection, source: FileSource, records: _Records) -> None:
    """`_ts_parsed`: the source's mapping over the records; a rejected row keeps its record as text.

    Records numbered by position keep their order; others need none."""
    with _insertion_order(con, preserve=records.numbered_by_position):
        con.execute(f"""
            create or replace temp table _ts_parsed as
            select * replace (case when _reject_reason is not null then {records.raw_text} end as raw_record)
            from (with records as ({records.sql}) {source.parse_sql})""")


# --- files that cannot be read ------------------------------------------------------------------------

# Errors of Python's own decompression and decoding (a source's reader may open the file itself).
_DECODING_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile, UnicodeError)


def _about_the_content(exc: BaseException) -> bool:
    """True when reading a file failed because of what the file holds (encoding, compression, structure).

    DuckDB reports those as invalid input or conversion errors, and a corrupt or truncated compressed
    stream as an I/O error naming the compression. Every other error (out of memory, interrupted, disk
    full, permission denied, a missing file, a binder error in a mapping) is not the file's and is raised.
    """
    if isinstance(exc, (UnreadableFile, *_DECODING_ERRORS)):
        return True
    if isinstance(exc, duckdb.InvalidInputException | duckdb.ConversionException):
        return True
    return (isinstance(exc, duckdb.IOException)
            and re.search(r"gzip|zstd|compress", str(exc), re.IGNORECASE) is not None)


def _line_reader_refused(exc: BaseException) -> bool:
    """True when DuckDB's CSV reader refused a file's lines: a lone carriage return (or mixed line ends)
    stops its state machine, and a line holding its delimiter has too many columns."""
    return isinstance(exc, duckdb.InvalidInputException) and any(
        s in str(exc) for s in ("state machine reached an invalid state", "Expected Number of Columns"))


def _reason(exc: BaseException, paths: list[Path], fmt: str) -> str:
    """Why a file could not be read, from the error: its own lines only (not the quoted line, DuckDB's
    hints, the reader's options or the SQL), a file named by its name, at most MAX_REASON_CHARS."""
    if isinstance(exc, UnreadableFile):
        return exc.reason
    kept = []
    for line in str(exc).splitlines():
        line = line.strip()
        if not line or line.startswith(("Possible ", "LINE ")):
            break
        if not line.startswith("Original Line"):
            kept.append(line)
    text = re.sub(r"^[A-Za-z ]*Error: ", "", " ".join(kept)) or type(exc).__name__
    if fmt == "jsonl":  # the line reader is DuckDB's CSV reader; its errors name a line, not a CSV row
        text = re.sub(r"CSV Error on Line: (\d+)", r"line \1:", text)
    for path in paths:
        text = text.replace(str(path), path.name)
    if len(text) > MAX_REASON_CHARS:
        text = text[: MAX_REASON_CHARS - 3] + "..."
    return f"could not be read as {fmt}: {text}"


def _not_utf8(f: _File) -> str | None:
    """Why a text file is not UTF-8, from a UTF-16 or UTF-32 byte order mark at its start; else None.

    Read from the file's first bytes (decompressed), before any batch: DuckDB would read a UTF-16 CSV as
    rows of garbage, and refuse UTF-16 JSON lines with a less telling error. Text without a mark is left
    to the readers (its lines are rejected as not JSON, or the file is refused as not UTF-8).
    """
    if f.fmt == "parquet":
        return None
    try:
        with (gzip.open if f.path.name.lower().endswith(_GZ) else open)(f.path, "rb") as stream:
            head = stream.read(4)
    except (OSError, *_DECODING_ERRORS):
        return None  # the reader reports it
    for mark, encoding in _NOT_UTF8_MARKS:
        if head.startswith(mark):
            return f"not UTF-8: {encoding} text (byte order mark {mark.hex(' ').upper()}); save the file as UTF-8"
    return None


@contextlib.contextmanager
def _exact_lines(con: duckdb.DuckDBPyConnection, path: Path) -> Iterator[None]:
    """Stage the lines of one JSON-lines file exactly, split at `\\n` only, in `_ts_exact` (`line`,
    `filename`, in order, a blank line as NULL, a line's final `\\r` and the file's UTF-8 byte order mark
    dropped), and have `_lines_reader` read them there while the context lasts.

    The file is read whole (`read_text`), so this is only for a file the fast reader refused, of at most
    EXACT_MAX_BYTES of text (else UnreadableFile); a `.gz` file is first decompressed (streamed, by
    Python's gzip) to a temporary file. Text that is not UTF-8 is refused by `read_text`.
    """
    too_large = UnreadableFile(str(path),
                               f"over {EXACT_MAX_BYTES >> 20} MiB of text, too large to read exactly")
    with contextlib.ExitStack() as cleanup:
        text_path = path
        if path.name.lower().endswith(_GZ):
            folder = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="tokenspend-lines-")))
            text_path = folder / "lines.txt"
            with gzip.open(path, "rb") as compressed, text_path.open("wb") as plain:
                while chunk := compressed.read(1 << 20):  # stopped at the bound, not after a huge copy
                    if plain.tell() + len(chunk) > EXACT_MAX_BYTES:
                        raise too_large
                    plain.write(chunk)
        elif path.stat().st_size > EXACT_MAX_BYTES:
            raise too_large
        # split, then unnest, as two statements: one statement doing both is far slower on large files
        con.execute(f"""
            create or replace temp table _ts_exact_split as
            select string_split(case when starts_with(content, chr(65279)) then substr(content, 2)
                                     else content end, chr(10)) as lines
            from read_text({sql_literal(str(text_path))})""")
        with _insertion_order(con, preserve=True):
            con.execute(f"""
                create or replace temp table _ts_exact as
                select nullif(regexp_replace(line, '\\r$', ''), '') as line, {sql_literal(str(path))} as filename
                from (select unnest(lines) as line from _ts_exact_split)""")
        con.execute("drop table _ts_exact_split")
    token = _exact_file.set(str(path))
    try:
        yield
    finally:
        _exact_file.reset(token)


def _read_records(con: duckdb.DuckDBPyConnection, source: FileSource, batch: list[_File]) -> _Records:
    """Read and map the batch into `_ts_parsed` (again, more tolerantly, when its records say how)."""
    records = _records(con, source, batch)
    try:
        _parse(con, source, records)
    except duckdb.Error as exc:
        if records.retry is None or _line_reader_refused(exc):
            raise
        records = records.retry()
        _parse(con, source, records)
    return records


def _read(con: duckdb.DuckDBPyConnection, source: FileSource, batch: list[_File]) -> _Records:
    """`_read_records`, reading one JSON-lines file again exactly when the fast line reader refused it.

    Raises UnreadableFile when the files' content cannot be read; any other error as it is.
    """
    fmt = batch[0].fmt
    try:
        return _read_records(con, source, batch)
    except Exception as exc:  # sorted below: only errors about the content quarantine
        if not _about_the_content(exc):
            raise
        error: BaseException = exc
    if len(batch) == 1 and fmt == "jsonl" and _line_reader_refused(error):
        try:
            with _exact_lines(con, batch[0].path):
                return _read_records(con, source, batch)
        except UnreadableFile as exc:  # too large to read exactly
            raise UnreadableFile(str(batch[0].path), "could not be read as jsonl: a lone carriage return or "
                                 f"mixed line ends, which only the exact reader reads, and {exc.reason}") from error
        except Exception as exc:
            if not _about_the_content(exc):
                raise
            error = exc
    where = str(batch[0].path) if len(batch) == 1 else f"{len(batch)} {fmt} files from {batch[0].path}"
    raise UnreadableFile(where, _reason(error, [f.path for f in batch], fmt)) from error


def _quarantine(con: duckdb.DuckDBPyConnection, source: FileSource, f: _File, reason: str) -> None:
    """Record `f` as quarantined: its `raw.landed_files` row (this version's size and modification time,
    so it is read again only once it changes) with the reason, in one transaction; nothing else.

    Rows an earlier version of the file loaded stay, and the row keeps their counts, so the entries
    still add up to what the raw tables hold.
    """
    key = [source.name, str(f.path)]
    kept = con.execute("select rows_loaded, rows_rejected from raw.landed_files where source = ? and path = ?",
                       key).fetchone() or (0, 0)
    loaded_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    replace_slices(con, [Slice(
        "landed_files", "source = ? and path = ?", key,
        "select ? as source, ? as path, ? as size_bytes, ?::timestamp as modified_at, ? as rows_loaded, "
        "? as rows_rejected, ? as quarantine_reason, ?::timestamp as _loaded_at",
        [*key, f.size, f.modified, *kept, reason, loaded_at],
    )])


# --- loading -----------------------------------------------------------------------------------------

def _load_batch(con: duckdb.DuckDBPyConnection, source: FileSource, batch: list[_File]) -> tuple[int, int]:
    """Load a batch of files of one format atomically; returns (rows loaded, rows rejected).

    Raises UnreadableFile, having written nothing, when the batch cannot be read."""
    try:
        records = _read(con, source, batch)
        _rows_view(con, records)
        con.execute(
            "create or replace temp table _ts_batch as select unnest(?::varchar[]) as path, "
            "unnest(?::bigint[]) as size_bytes, unnest(?::timestamp[]) as modified_at",
            [[str(f.path) for f in batch], [f.size for f in batch], [f.modified for f in batch]],
        )
        rejects = ("select _source_file, _source_line, _reject_reason as reason, raw_record from _ts_rows "
                   "where _reject_reason is not null")
        outcomes = "select _source_file, _reject_reason is null as ok from _ts_rows"
        if records.structure_rejects:
            rejects += f" union all select * from ({records.structure_rejects})"
            outcomes += f" union all select _source_file, false from ({records.structure_rejects})"
        in_batch = "_source_file in (select path from _ts_batch)"
        loaded_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        with _insertion_order(con, preserve=False):
            good, bad, _ = replace_slices(con, [
                Slice(
                    source.table, in_batch, [],
                    # each row keeps its file's modification time: staging orders re-deliveries by it
                    "select r.* exclude (_reject_reason, raw_record), b.modified_at as _source_modified_at, "
                    "?::timestamp as _loaded_at from _ts_rows r join _ts_batch b on r._source_file = b.path "
                    "where r._reject_reason is null",
                    [loaded_at],
                ),
                Slice(
                    "rejected_rows", f"source = ? and {in_batch}", [source.name],
                    f"select ? as source, *, ?::timestamp as _loaded_at from ({rejects})",
                    [source.name, loaded_at],
                ),
                Slice(
                    "landed_files", "source = ? and path in (select path from _ts_batch)", [source.name],
                    f"""select ? as source, b.path, b.size_bytes, b.modified_at,
                               coalesce(c.good, 0) as rows_loaded, coalesce(c.bad, 0) as rows_rejected,
                               ?::timestamp as _loaded_at
                        from _ts_batch b left join (
                            select _source_file, count(*) filter (where ok) as good, count(*) filter (where not ok) as bad
                            from ({outcomes}) group by _source_file
                        ) c on c._source_file = b.path""",
                    [source.name, loaded_at],
                ),
            ])
        return good, bad
    finally:
        con.execute("drop view if exists _ts_rows")
        for temp in _TEMP_TABLES:
            con.execute(f"drop table if exists {temp}")


def _batches(source: FileSource, files: list[_File]) -> Iterator[list[_File]]:
    """Consecutive files of one format, bounded in count and bytes. CSV files (each scan keeps its own
    refused rows) and files read by a source's own reader load one at a time."""
    batch: list[_File] = []
    size = 0
    for f in files:
        joins = (bool(batch) and f.fmt == batch[0].fmt and source.reader is None and f.fmt != "csv"
                 and len(batch) < BATCH_MAX_FILES and size + f.size <= BATCH_MAX_BYTES[f.fmt])
        if batch and not joins:
            yield batch
            batch, size = [], 0
        batch.append(f)
        size += f.size
    if batch:
        yield batch


def load_new_files(con: duckdb.DuckDBPyConnection, source: FileSource, landing_dir: Path) -> LoadSummary:
    """Load every file of `source` that is new or changed since it was last loaded (or quarantined).

    A file that cannot be read is quarantined (`_quarantine`) and the other files load; errors that are
    not about a file's content are raised.
    """
    landed = {
        path: (size, modified)
        for path, size, modified in con.execute(
            "select path, size_bytes, modified_at from raw.landed_files where source = ?", [source.name]
        ).fetchall()
    }
    summary = LoadSummary()
    pending = []
    for path in source.discover(landing_dir):
        summary.files_seen += 1
        stat = path.stat()
        modified = dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC).replace(tzinfo=None)
        if landed.get(str(path)) != (stat.st_size, modified):
            pending.append(_File(path, file_format(path), stat.st_size, modified))

    def quarantine(f: _File, reason: str) -> None:
        _quarantine(con, source, f, reason)
        summary.quarantined.append((str(f.path), reason))

    def loaded(files: int, rows: tuple[int, int]) -> None:
        summary.files_loaded += files
        summary.rows_loaded += rows[0]
        summary.rows_rejected += rows[1]

    readable = []
    for f in pending:
        if (reason := _not_utf8(f)) is not None:
            quarantine(f, reason)
        else:
            readable.append(f)
    for batch in _batches(source, readable):
        try:
            loaded(len(batch), _load_batch(con, source, batch))
            continue
        except UnreadableFile as exc:
            if len(batch) == 1:
                quarantine(batch[0], exc.reason)
                continue
        # narrow the failure to its files: load them one at a time, quarantining those that cannot be read
        for f in batch:
            try:
                loaded(1, _load_batch(con, source, [f]))
            except UnreadableFile as exc:
                quarantine(f, exc.reason)
    return summary
