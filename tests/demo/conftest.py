"""Fixtures for the demo organisation: one generation per session, and DuckDB views over its files.

The tests check the demo against its own files and the seeds, never against figures written here, so
they keep holding when the organisation's shape is tuned.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from dagster_project import settings
from dagster_project.demo.generator import DemoOrg, generate_demo_org
from dagster_project.demo.provider import demo_response

EVENT_TYPES = {
    "request_id": "VARCHAR", "occurred_at": "VARCHAR", "provider": "VARCHAR", "model": "VARCHAR",
    "api_key_id": "VARCHAR", "project_id": "VARCHAR", "uncached_input_tokens": "BIGINT",
    "cache_read_input_tokens": "BIGINT", "cache_write_input_tokens": "BIGINT", "output_tokens": "BIGINT",
    "batch": "BOOLEAN", "service_tier": "VARCHAR", "feature": "VARCHAR", "workflow": "VARCHAR",
    "task_id": "VARCHAR", "team": "VARCHAR", "employee_id": "VARCHAR", "customer_id": "VARCHAR",
}
SEEDS = ("teams", "features", "workflows", "workflow_baselines", "employees", "api_key_owners",
         "project_owners", "price_book", "customers")
BACKEND = ("requests", "openai_usage", "openai_costs", "anthropic_usage", "anthropic_costs",
           "claude_code_users", "claude_code_models")


@pytest.fixture(scope="session")
def demo_org(tmp_path_factory) -> DemoOrg:
    return generate_demo_org(tmp_path_factory.mktemp("demo") / "landing", scale=1.0)


def _struct(types: dict[str, str]) -> str:
    return "{" + ", ".join(f"'{k}': '{v}'" for k, v in types.items()) + "}"


def open_demo(org: DemoOrg) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the seeds, the provider truth and the event and outcome files as views."""
    con = duckdb.connect()
    for seed in SEEDS:
        con.execute(f"create view {seed} as select * from read_csv('{settings.SEEDS_DIR / (seed + '.csv')}', "
                    "header = true, all_varchar = true)")
    for table in BACKEND:
        con.execute(f"create view {table} as select * from read_parquet('{org.backend_dir / (table + '.parquet')}')")
    columns = ", ".join(f"cast({c} as {t}) as {c}" for c, t in EVENT_TYPES.items())
    parts = []
    for name in org.event_files:
        path = org.events_dir / name
        if name.endswith(".csv"):
            reader = f"read_csv('{path}', header = true, columns = {_struct(EVENT_TYPES)})"
        elif name.endswith(".parquet"):
            reader = f"read_parquet('{path}')"
        else:
            reader = f"read_json('{path}', format = 'newline_delimited', columns = {_struct(EVENT_TYPES)})"
        parts.append(f"select {columns}, '{name}' as file from {reader}")
    con.execute("create view events as " + " union all ".join(parts))
    outcome_files = [str(org.outcomes_dir / n) for n in org.outcome_files]
    con.execute(
        f"create view outcomes as select * from read_json({outcome_files!r}, format = 'newline_delimited', "
        "columns = {'task_id': 'VARCHAR', 'workflow': 'VARCHAR', 'completed_at': 'VARCHAR', "
        "'outcome': 'VARCHAR', 'parent_task_id': 'VARCHAR'})"
    )
    return con


@pytest.fixture(scope="session")
def demo(demo_org) -> Iterator[duckdb.DuckDBPyConnection]:
    con = open_demo(demo_org)
    yield con
    con.close()


def unix(day: dt.date) -> str:
    return str(int(dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC).timestamp()))


def rfc3339(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def walk(provider: str, path: str, query: dict[str, list[str]], landing: Path) -> list[dict]:
    """Follow `next_page` to the end, as a client would; every page must be a 200."""
    pages = []
    q = dict(query)
    for _ in range(10_000):
        status, body = demo_response(provider, path, q, landing)
        assert status == 200, body
        pages.append(body)
        if not body["has_more"]:
            assert body["next_page"] is None
            return pages
        assert isinstance(body["next_page"], str) and body["next_page"]
        q = {**query, "page": [body["next_page"]]}
    raise AssertionError("pagination never ended")
