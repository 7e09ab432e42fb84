"""Answer OpenAI and Anthropic admin API requests for the demo organisation.

In demo mode the ingest code's HTTP client talks to a fake base URL whose transport adapter calls
`demo_response`. Answering in the providers' documented shapes, with their pagination, units and
traps (OpenAI dollars as a JSON number and inclusive input tokens; Anthropic cents as a decimal
string, disjoint token classes, null default workspace and null Console key) is what lets the demo
exercise the exact paging and parsing code that real data goes through.

Each response is aggregated by DuckDB from the provider-side truth that `generator.py` wrote; no
request-level row is touched in Python.

Deliberate simplifications, all documented in README.md: only `bucket_width=1d` is served; buckets
are whole UTC days (a start inside a day is floored to midnight, and the first bucket reports the
midnight, not the requested instant); with no end given, the demo's "now" is the end of its period.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs

from dagster_project.demo.generator import DEMO_END, backend_dir

_DAY = dt.timedelta(days=1)
_ORGANIZATION_ID = "6c1f3a52-8e0d-4b7e-9a41-2f5d7c9e0b13"


class _BadRequest(Exception):
    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param


@dataclass(frozen=True)
class _Page:
    """The buckets one response covers and where the next page starts."""

    days: list[dt.date]
    next_day: dt.date | None


def demo_response(provider: str, path: str, query: dict[str, list[str]], landing_dir: Path) -> tuple[int, dict]:
    """Answer one GET on the demo organisation's admin API: (HTTP status, JSON body).

    `path` is what follows the host (e.g. `/v1/organization/costs`); a query string left on it is
    merged into `query`, whose keys are as sent (`group_by[]`, `page`, ...), values lists as from
    `urllib.parse.parse_qs`. A bad query returns 400 with the provider's error body; an unknown
    path returns 404. Raises FileNotFoundError if the demo organisation was never generated.
    """
    path, _, query_string = path.partition("?")
    merged = {k: list(v) for k, v in (query or {}).items()}
    for key, values in parse_qs(query_string, keep_blank_values=True).items():
        merged.setdefault(key, []).extend(values)
    route = _ROUTES.get((provider, path.rstrip("/")))
    if route is None:
        kind = "not_found_error" if provider == "anthropic" else "invalid_request_error"
        return 404, _error(provider, f"Unknown demo endpoint {path!r} for provider {provider!r}.", None, kind)
    backend = backend_dir(Path(landing_dir))
    if not (backend / "manifest.json").exists():
        raise FileNotFoundError(f"no demo organisation under {backend}; call generate_demo_org() first")
    try:
        return 200, route(merged, backend)
    except _BadRequest as exc:
        return 400, _error(provider, exc.message, exc.param, "invalid_request_error")


def _error(provider: str, message: str, param: str | None, kind: str) -> dict:
    """The provider's own error envelope, so the client's error handling is exercised too."""
    if provider == "anthropic":
        return {"type": "error", "error": {"type": kind, "message": message}}
    return {"error": {"message": message, "type": kind, "param": param, "code": None}}


# ---- query parsing ------------------------------------------------------------------------------


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name) or []
    return values[-1] if values else None


def _many(query: dict[str, list[str]], name: str) -> list[str]:
    """Array parameters arrive as `name[]=a&name[]=b` (the SDKs' bracket format); accept bare `name` too."""
    return [v for key in (f"{name}[]", name) for v in query.get(key, [])]


def _group_by(query: dict[str, list[str]], allowed: tuple[str, ...]) -> list[str]:
    chosen = _many(query, "group_by")
    for value in chosen:
        if value not in allowed:
            raise _BadRequest(f"Invalid group_by value {value!r}; expected one of {', '.join(allowed)}.", "group_by")
    return [d for d in allowed if d in chosen]


def _limit(query: dict[str, list[str]], default: int, maximum: int) -> int:
    raw = _one(query, "limit")
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _BadRequest(f"Invalid limit {raw!r}: expected an integer.", "limit") from None
    if not 1 <= value <= maximum:
        raise _BadRequest(f"limit must be between 1 and {maximum}, got {value}.", "limit")
    return value


def _bucket_width(query: dict[str, list[str]]) -> None:
    width = _one(query, "bucket_width") or "1d"
    if width != "1d":
        raise _BadRequest(f"The demo organisation serves bucket_width=1d only, got {width!r}.", "bucket_width")


def _unix_day(query: dict[str, list[str]], name: str, required: bool) -> dt.date | None:
    raw = _one(query, name)
    if raw is None:
        if required:
            raise _BadRequest(f"Missing required parameter: '{name}'.", name)
        return None
    try:
        instant = dt.datetime.fromtimestamp(int(raw), tz=dt.UTC)
    except (ValueError, OverflowError, OSError):
        raise _BadRequest(f"Invalid {name} {raw!r}: expected unix seconds.", name) from None
    return _day_containing(instant, ceil=(name == "end_time"))


def _rfc3339_day(query: dict[str, list[str]], name: str, required: bool) -> dt.date | None:
    raw = _one(query, name)
    if raw is None:
        if required:
            raise _BadRequest(f"{name}: Field required", name)
        return None
    try:
        instant = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise _BadRequest(f"{name}: Input should be a valid RFC 3339 datetime, got {raw!r}", name) from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=dt.UTC)
    return _day_containing(instant.astimezone(dt.UTC), ceil=(name == "ending_at"))


def _day_containing(instant: dt.datetime, ceil: bool) -> dt.date:
    """A start floors to its UTC day; an exclusive end inside a day still includes that day."""
    day = instant.date()
    if ceil and instant.time() != dt.time(0):
        day += _DAY
    return day


def _encode_cursor(day: dt.date) -> str:
    """Opaque to clients; like Anthropic's, base64 of the next bucket's RFC 3339 start."""
    return "page_" + base64.b64encode(f"{day.isoformat()}T00:00:00Z".encode()).decode()


def _decode_cursor(cursor: str) -> dt.date:
    try:
        text = base64.b64decode(cursor.removeprefix("page_"), validate=True).decode()
        return dt.date.fromisoformat(text.removesuffix("T00:00:00Z"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _BadRequest(f"Invalid page cursor {cursor!r}.", "page") from None


def _page(query: dict[str, list[str]], first: dt.date, end: dt.date | None, limit: int) -> _Page:
    """Pick the buckets of this page: `limit` whole days from the cursor (or the start), before `end`."""
    end = end or max(DEMO_END, first + _DAY)
    if end <= first:
        raise _BadRequest("The end of the range must be after its start.", None)
    cursor = _one(query, "page")
    start = _decode_cursor(cursor) if cursor else first
    if not first <= start < end:
        raise _BadRequest(f"Page cursor {cursor!r} is outside the requested range.", "page")
    days = []
    day = start
    while day < end and len(days) < limit:
        days.append(day)
        day += _DAY
    return _Page(days, day if day < end else None)


def _envelope_openai(page: _Page, rows_by_day: dict[dt.date, list[dict]]) -> dict:
    return {
        "object": "page",
        "data": [
            {
                "object": "bucket",
                "start_time": _unix(day),
                "end_time": _unix(day + _DAY),
                "results": rows_by_day.get(day, []),
            }
            for day in page.days
        ],
        "has_more": page.next_day is not None,
        "next_page": _encode_cursor(page.next_day) if page.next_day else None,
    }


def _envelope_anthropic(page: _Page, rows_by_day: dict[dt.date, list[dict]]) -> dict:
    return {
        "data": [
            {"starting_at": _rfc3339(day), "ending_at": _rfc3339(day + _DAY), "results": rows_by_day.get(day, [])}
            for day in page.days
        ],
        "has_more": page.next_day is not None,
        "next_page": _encode_cursor(page.next_day) if page.next_day else None,
    }


def _unix(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC).timestamp())


def _rfc3339(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


# ---- aggregation ---------------------------------------------------------------------------------


def _aggregate(
    backend: Path,
    table: str,
    page: _Page,
    dims: dict[str, str],
    grouped: list[str],
    metrics: dict[str, str],
    filters: dict[str, list[str]] | None = None,
) -> dict[dt.date, list[dict]]:
    """Sum a backend table over the page's days and the grouped dimensions; the others come back null."""
    import duckdb

    if not page.days:
        return {}
    select = ["day"]
    select += [f"{dims[d]} as {d}" if d in grouped else f"NULL as {d}" for d in dims]
    select += [f"{expr} as {name}" for name, expr in metrics.items()]
    where = ["day >= ?", "day < ?"]
    params: list = [page.days[0], page.days[-1] + _DAY]
    for column, values in (filters or {}).items():
        if values:
            where.append(f"list_contains(?, {column})")
            params.append(values)
    group = ["day"] + [dims[d] for d in grouped]
    order = ", ".join(["day"] + [f"{d} nulls first" for d in grouped])
    sql = (
        f"select {', '.join(select)} from read_parquet(?) where {' and '.join(where)} "
        f"group by {', '.join(group)} order by {order}"
    )
    with duckdb.connect() as con:
        cursor = con.execute(sql, [str(backend / f"{table}.parquet"), *params])
        names = [c[0] for c in cursor.description]
        rows = cursor.fetchall()
    out: dict[dt.date, list[dict]] = {}
    for row in rows:
        record = dict(zip(names, row, strict=True))
        out.setdefault(record.pop("day"), []).append(record)
    return out


def _bool(query: dict[str, list[str]], name: str) -> list[bool]:
    raw = _one(query, name)
    if raw is None:
        return []
    if raw.lower() not in ("true", "false"):
        raise _BadRequest(f"Invalid {name} {raw!r}: expected true or false.", name)
    return [raw.lower() == "true"]


# ---- OpenAI --------------------------------------------------------------------------------------


def _openai_usage_completions(query: dict[str, list[str]], backend: Path) -> dict:
    _bucket_width(query)
    first = _unix_day(query, "start_time", required=True)
    page = _page(query, first, _unix_day(query, "end_time", required=False), _limit(query, 7, 31))
    dims = {"project_id": "project_id", "user_id": "NULL::varchar", "api_key_id": "api_key_id",
            "model": "model", "batch": "batch", "service_tier": "service_tier"}
    grouped = _group_by(query, tuple(dims))
    metrics = {
        "input_uncached_tokens": "sum(input_uncached_tokens)",
        "input_cached_tokens": "sum(input_cached_tokens)",
        "input_cache_write_tokens": "sum(input_cache_write_tokens)",
        "output_tokens": "sum(output_tokens)",
        "num_model_requests": "sum(num_model_requests)",
    }
    filters = {"project_id": _many(query, "project_ids"), "api_key_id": _many(query, "api_key_ids"),
               "model": _many(query, "models"), "batch": _bool(query, "batch")}
    rows = _aggregate(backend, "openai_usage", page, dims, grouped, metrics, filters)

    def result(r: dict) -> dict:
        uncached, cached, written = (int(r["input_uncached_tokens"]), int(r["input_cached_tokens"]),
                                     int(r["input_cache_write_tokens"]))
        return {
            "object": "organization.usage.completions.result",
            # input_tokens includes cached and cache-write tokens; the three parts are sent as well.
            "input_tokens": uncached + cached + written,
            "output_tokens": int(r["output_tokens"]),
            "num_model_requests": int(r["num_model_requests"]),
            "project_id": r["project_id"],
            "user_id": r["user_id"],
            "api_key_id": r["api_key_id"],
            "model": r["model"],
            "batch": r["batch"],
            "service_tier": r["service_tier"],
            "input_cached_tokens": cached,
            "input_uncached_tokens": uncached,
            "input_cache_write_tokens": written,
            "input_text_tokens": uncached,
            "input_audio_tokens": 0,
            "input_image_tokens": 0,
            "input_cached_text_tokens": cached,
            "output_text_tokens": int(r["output_tokens"]),
            "output_audio_tokens": 0,
            "output_image_tokens": 0,
        }

    return _envelope_openai(page, {day: [result(r) for r in rs] for day, rs in rows.items()})


def _openai_usage_embeddings(query: dict[str, list[str]], backend: Path) -> dict:  # noqa: ARG001
    """The demo organisation makes no embedding calls: every bucket is present and empty."""
    _bucket_width(query)
    first = _unix_day(query, "start_time", required=True)
    page = _page(query, first, _unix_day(query, "end_time", required=False), _limit(query, 7, 31))
    _group_by(query, ("project_id", "user_id", "api_key_id", "model"))
    return _envelope_openai(page, {})


def _openai_costs(query: dict[str, list[str]], backend: Path) -> dict:
    _bucket_width(query)
    first = _unix_day(query, "start_time", required=True)
    page = _page(query, first, _unix_day(query, "end_time", required=False), _limit(query, 7, 180))
    dims = {"project_id": "project_id", "line_item": "line_item", "api_key_id": "api_key_id"}
    grouped = _group_by(query, tuple(dims))
    metrics = {"amount_usd": "sum(amount_usd)", "quantity": "sum(quantity)"}
    filters = {"project_id": _many(query, "project_ids"), "api_key_id": _many(query, "api_key_ids")}
    rows = _aggregate(backend, "openai_costs", page, dims, grouped, metrics, filters)

    def result(r: dict) -> dict:
        return {
            "object": "organization.costs.result",
            # Dollars as a JSON number, as OpenAI sends them: at most 9 decimals, so the float's
            # shortest representation is the exact decimal.
            "amount": {"value": float(r["amount_usd"]), "currency": "usd"},
            "line_item": r["line_item"],
            "project_id": r["project_id"],
            "api_key_id": r["api_key_id"],
            "quantity": float(r["quantity"]) if "line_item" in grouped else None,
        }

    return _envelope_openai(page, {day: [result(r) for r in rs] for day, rs in rows.items()})


# ---- Anthropic -----------------------------------------------------------------------------------


def _anthropic_messages(query: dict[str, list[str]], backend: Path) -> dict:
    _bucket_width(query)
    first = _rfc3339_day(query, "starting_at", required=True)
    page = _page(query, first, _rfc3339_day(query, "ending_at", required=False), _limit(query, 7, 31))
    dims = {"api_key_id": "api_key_id", "workspace_id": "workspace_id", "model": "model",
            "service_tier": "service_tier", "context_window": "context_window",
            "inference_geo": "'not_available'", "account_id": "NULL::varchar",
            "service_account_id": "NULL::varchar"}
    grouped = _group_by(query, tuple(dims))
    metrics = {
        "uncached_input_tokens": "sum(uncached_input_tokens)",
        "cache_read_input_tokens": "sum(cache_read_input_tokens)",
        "cache_creation_5m_input_tokens": "sum(cache_creation_5m_input_tokens)",
        "cache_creation_1h_input_tokens": "sum(cache_creation_1h_input_tokens)",
        "output_tokens": "sum(output_tokens)",
        "web_search_requests": "sum(web_search_requests)",
    }
    filters = {"api_key_id": _many(query, "api_key_ids"), "workspace_id": _many(query, "workspace_ids"),
               "model": _many(query, "models"), "service_tier": _many(query, "service_tiers"),
               "context_window": _many(query, "context_window")}
    rows = _aggregate(backend, "anthropic_usage", page, dims, grouped, metrics, filters)

    def result(r: dict) -> dict:
        return {
            "account_id": r["account_id"],
            "api_key_id": r["api_key_id"],  # null when grouped: Console / Workbench usage
            "cache_creation": {
                "ephemeral_1h_input_tokens": int(r["cache_creation_1h_input_tokens"]),
                "ephemeral_5m_input_tokens": int(r["cache_creation_5m_input_tokens"]),
            },
            "cache_read_input_tokens": int(r["cache_read_input_tokens"]),
            "context_window": r["context_window"],
            "inference_geo": r["inference_geo"],
            "model": r["model"],
            "output_tokens": int(r["output_tokens"]),
            "server_tool_use": {"web_search_requests": int(r["web_search_requests"])},
            "service_account_id": r["service_account_id"],
            "service_tier": r["service_tier"],
            "uncached_input_tokens": int(r["uncached_input_tokens"]),
            "workspace_id": r["workspace_id"],  # null when grouped: the default workspace
        }

    return _envelope_anthropic(page, {day: [result(r) for r in rs] for day, rs in rows.items()})


def _anthropic_costs(query: dict[str, list[str]], backend: Path) -> dict:
    _bucket_width(query)
    first = _rfc3339_day(query, "starting_at", required=True)
    page = _page(query, first, _rfc3339_day(query, "ending_at", required=False), _limit(query, 7, 31))
    grouped = _group_by(query, ("workspace_id", "description"))
    # The description determines the parsed fields, so grouping on it groups on them too.
    parsed = ("cost_type", "token_type", "model", "service_tier", "context_window", "inference_geo")
    dims = {"workspace_id": "workspace_id", "description": "description", **{p: p for p in parsed}}
    if "description" in grouped:
        grouped = grouped + list(parsed)
    rows = _aggregate(backend, "anthropic_costs", page, dims, grouped, {"amount_cents": "sum(amount_cents)"},
                      {"workspace_id": _many(query, "workspace_ids")})

    def result(r: dict) -> dict:
        return {
            "amount": _decimal_text(r["amount_cents"]),  # cents, as a decimal string
            "context_window": r["context_window"],
            "cost_type": r["cost_type"],
            "currency": "USD",
            "description": r["description"],
            "inference_geo": r["inference_geo"],
            "model": r["model"],
            "service_tier": r["service_tier"],
            "token_type": r["token_type"],
            "workspace_id": r["workspace_id"],
        }

    return _envelope_anthropic(page, {day: [result(r) for r in rs] for day, rs in rows.items()})


def _decimal_text(value: Decimal) -> str:
    """Exact plain decimal text without trailing zeros ('123.699', never '1.23699E+2')."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _claude_code(query: dict[str, list[str]], backend: Path) -> dict:
    """Per-user Claude Code records for one UTC day, paged by record (not by bucket)."""
    import duckdb

    raw = _one(query, "starting_at")
    if raw is None:
        raise _BadRequest("starting_at: Field required", "starting_at")
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise _BadRequest(f"starting_at: expected a UTC date YYYY-MM-DD, got {raw!r}", "starting_at") from None
    limit = _limit(query, 20, 1000)
    cursor = _one(query, "page")
    offset = 0
    if cursor:
        try:
            cursor_day, _, cursor_offset = base64.b64decode(cursor.removeprefix("page_"), validate=True).decode().partition("|")
            offset = int(cursor_offset)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise _BadRequest(f"Invalid page cursor {cursor!r}.", "page") from None
        if cursor_day != day.isoformat() or offset < 0:
            raise _BadRequest(f"Page cursor {cursor!r} does not belong to starting_at={raw}.", "page")
    sql = """
        with users as (
            select * from read_parquet(?) where day = ? order by email limit ? offset ?
        )
        select u.email, u.terminal_type, u.num_sessions, u.lines_added, u.lines_removed, u.commits,
               u.pull_requests, u.edit_accepted, u.edit_rejected, u.write_accepted, u.write_rejected,
               list(struct_pack(model := m.model, input := m.input_tokens, output := m.output_tokens,
                                cache_read := m.cache_read_tokens, cache_creation := m.cache_creation_tokens,
                                cents := m.estimated_cost_cents) order by m.model) as models
        from users u
        join read_parquet(?) m on m.day = u.day and m.email = u.email
        group by all
        order by u.email
    """
    users, models = str(backend / "claude_code_users.parquet"), str(backend / "claude_code_models.parquet")
    with duckdb.connect() as con:
        cursor_ = con.execute(sql, [users, day, limit + 1, offset, models])
        names = [c[0] for c in cursor_.description]
        rows = [dict(zip(names, r, strict=True)) for r in cursor_.fetchall()]
    has_more = len(rows) > limit
    rows = rows[:limit]
    data = [
        {
            "date": f"{day.isoformat()}T00:00:00Z",
            "actor": {"type": "user_actor", "email_address": r["email"]},
            "organization_id": _ORGANIZATION_ID,
            "customer_type": "subscription",
            "subscription_type": "enterprise",
            "terminal_type": r["terminal_type"],
            "core_metrics": {
                "num_sessions": r["num_sessions"],
                "lines_of_code": {"added": r["lines_added"], "removed": r["lines_removed"]},
                "commits_by_claude_code": r["commits"],
                "pull_requests_by_claude_code": r["pull_requests"],
            },
            "tool_actions": {
                "edit_tool": {"accepted": r["edit_accepted"], "rejected": r["edit_rejected"]},
                "write_tool": {"accepted": r["write_accepted"], "rejected": r["write_rejected"]},
            },
            "model_breakdown": [
                {
                    "model": m["model"],
                    "tokens": {"input": m["input"], "output": m["output"], "cache_read": m["cache_read"],
                               "cache_creation": m["cache_creation"]},
                    # an estimate in cents, as a JSON number
                    "estimated_cost": {"amount": float(m["cents"]), "currency": "USD"},
                }
                for m in r["models"]
            ],
        }
        for r in rows
    ]
    next_cursor = "page_" + base64.b64encode(f"{day.isoformat()}|{offset + limit}".encode()).decode()
    return {"data": data, "has_more": has_more, "next_page": next_cursor if has_more else None}


_ROUTES: dict[tuple[str, str], Callable[[dict[str, list[str]], Path], dict]] = {
    ("openai", "/v1/organization/usage/completions"): _openai_usage_completions,
    ("openai", "/v1/organization/usage/embeddings"): _openai_usage_embeddings,
    ("openai", "/v1/organization/costs"): _openai_costs,
    ("anthropic", "/v1/organizations/usage_report/messages"): _anthropic_messages,
    ("anthropic", "/v1/organizations/cost_report"): _anthropic_costs,
    ("anthropic", "/v1/organizations/usage_report/claude_code"): _claude_code,
}
