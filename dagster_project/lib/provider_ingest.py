"""One mechanism for every provider endpoint: fetch a window's pages, land them, load them atomically.

An `Endpoint` says where to ask (path and fixed query), how the window is sent (unix seconds, RFC 3339,
or one request per UTC date), and how its JSON maps onto the raw table, as DuckDB SQL over the landed
pages. `land_window` then:

1. fetches every page of the window into a `.partial` folder (nothing is touched if a page fails);
2. in one transaction, deletes the window's rows from the raw table and inserts the new ones, read
   from the landed files by DuckDB (row data never loops through Python);
3. only then moves the pages into the window's landing folder, replacing the previous fetch.

So a re-run of a window never duplicates, a failure leaves the earlier landed data and rows exactly as
they were, and every raw row names the landed page it came from.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from dagster_project.lib.http import PagedApi
from dagster_project.lib.warehouse import replace_rows

MAX_PAGE_BYTES = 1 << 30


@dataclass(frozen=True)
class Column:
    """One raw column read from a result object: a JSON path and a DuckDB type."""

    path: str
    type: str = "VARCHAR"

    def sql(self, obj: str) -> str:
        return f"cast(json_extract_string({obj}, '{self.path}') as {self.type})"


@dataclass(frozen=True)
class Endpoint:
    """A provider endpoint and how its pages map onto `raw.<table>`."""

    provider: str
    table: str
    path: str
    params: tuple[tuple[str, str], ...]
    window_style: str  # "unix" (start_time/end_time), "rfc3339" (starting_at/ending_at) or "per_day"
    limit: int
    columns: dict[str, Column] = field(default_factory=dict)
    # For endpoints that are not bucketed (one request per day, flat records), the full SELECT over
    # `pages(doc, _source_file, _page)` that yields the raw columns, and the window column.
    rows_sql: str | None = None
    window_column: str = "bucket_start"

    def window_params(self, start: dt.date, end: dt.date) -> list[tuple[str, str]]:
        if self.window_style == "unix":
            to_unix = lambda d: str(int(dt.datetime.combine(d, dt.time(), dt.UTC).timestamp()))  # noqa: E731
            return [("start_time", to_unix(start)), ("end_time", to_unix(end))]
        if self.window_style == "rfc3339":
            return [("starting_at", f"{start.isoformat()}T00:00:00Z"), ("ending_at", f"{end.isoformat()}T00:00:00Z")]
        raise ValueError(f"{self.window_style} endpoints are fetched one day at a time")

    def select_sql(self) -> str:
        """The SELECT that turns landed pages (CTE `pages`) into raw rows."""
        if self.rows_sql is not None:
            return self.rows_sql
        if self.window_style == "unix":
            start = "to_timestamp(cast(b->>'$.start_time' as bigint)) at time zone 'UTC'"
            end = "to_timestamp(cast(b->>'$.end_time' as bigint)) at time zone 'UTC'"
        else:
            start = "cast(b->>'$.starting_at' as timestamptz) at time zone 'UTC'"
            end = "cast(b->>'$.ending_at' as timestamptz) at time zone 'UTC'"
        cols = ",\n            ".join(f"{c.sql('r')} as {name}" for name, c in self.columns.items())
        return f"""
        , buckets as (
            select _source_file, _page, unnest(cast(json_extract(doc, '$.data') as json[])) as b from pages
        ), results as (
            select _source_file, _page, b, unnest(cast(json_extract(b, '$.results') as json[])) as r
            from buckets
        )
        select
            {start} as bucket_start,
            {end} as bucket_end,
            {cols},
            _source_file, _page
        from results"""


@dataclass(frozen=True)
class LandResult:
    endpoint: str
    window_start: dt.date
    window_end: dt.date
    pages: int
    queries: int  # paged queries: one per window, or one per day for per-day endpoints
    rows: int
    folder: Path


def _pages_cte(partial: Path, final: Path) -> str:
    return f"""
        with pages as (
            select json as doc,
                   replace(filename, '{partial.as_posix()}', '{final.as_posix()}') as _source_file,
                   cast(regexp_extract(filename, 'page-(\\d+)\\.json$', 1) as integer) as _page
            from read_json_objects(?, filename = true, maximum_object_size = {MAX_PAGE_BYTES})
        )"""


def land_window(
    api: PagedApi,
    endpoint: Endpoint,
    start: dt.date,
    end: dt.date,
    landing_dir: Path,
    con: duckdb.DuckDBPyConnection,
) -> LandResult:
    """Fetch [start, end) from `endpoint`, land the pages and replace the window in the raw table."""
    final = landing_dir / endpoint.provider / endpoint.table / f"{start.isoformat()}_{end.isoformat()}"
    partial = final.with_name(final.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)

    where = f"{endpoint.provider} {endpoint.path} window {start}..{end}"
    base = [*endpoint.params, ("limit", str(endpoint.limit))]
    if endpoint.window_style == "per_day":
        days = [start + dt.timedelta(days=i) for i in range((end - start).days)]
        requests = [(f"{d.isoformat()}-", [*base, ("starting_at", d.isoformat())]) for d in days]
    else:
        requests = [("", [*base, *endpoint.window_params(start, end)])]

    files: list[Path] = []
    for prefix, params in requests:
        for page_no, _body, text in api.iter_pages(endpoint.path, params, where):
            path = partial / f"{prefix}page-{page_no:04d}.json"
            path.write_text(text, encoding="utf-8")
            files.append(path)

    loaded_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    select = f"select *, ?::timestamp as _loaded_at from ({_pages_cte(partial, final)} {endpoint.select_sql()})"
    rows = replace_rows(
        con,
        endpoint.table,
        f"{endpoint.window_column} >= ? and {endpoint.window_column} < ?",
        [start, end],
        select,
        [loaded_at, [str(f) for f in files]],
    )

    shutil.rmtree(final, ignore_errors=True)
    partial.rename(final)
    return LandResult(endpoint.table, start, end, len(files), len(requests), rows, final)
