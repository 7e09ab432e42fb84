"""Fixtures for the quality checks: a tmp_path warehouse with good rows, and a copy of the GX context.

Every test starts from data that passes every check and breaks one thing, so a failure names the
thing broken. The marts are created with the columns and types of their dbt contracts. The GX context
is the repository's `expectations/` copied without `uncommitted/`, so runs never write into the
working tree.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import jinja2
import pandas as pd
import pytest
import yaml

from dagster_project import settings
from dagster_project.lib.raw_tables import create_raw_tables

REPO_EXPECTATIONS = settings.EXPECTATIONS_DIR
# recent dates, so "not in the future" holds whatever the machine's clock says
DAY = dt.datetime.combine(dt.date.today() - dt.timedelta(days=10), dt.time())
EARLIER_LOAD = DAY + dt.timedelta(days=1, hours=6)
LATEST_LOAD = DAY + dt.timedelta(days=2, hours=6)
NEXT_DAY = (DAY + dt.timedelta(days=1)).date().isoformat()

MARTS_YML = settings.DBT_PROJECT_DIR / "models" / "marts" / "_marts__models.yml"


def contract_columns(model: str) -> str:
    """The column list of a mart's dbt contract (names and DuckDB types), for CREATE TABLE."""
    models = {m["name"]: m for m in yaml.safe_load(MARTS_YML.read_text(encoding="utf-8"))["models"]}
    return ", ".join(
        f"{c['name']} {jinja2.Template(c['data_type']).render(target={'type': 'duckdb'})}"
        for c in models[model]["columns"]
    )


def good_row(table: str, i: int = 0, **overrides) -> dict:
    """One row of `table` that every suite accepts; `overrides` break it."""
    bucket = {"bucket_start": DAY, "bucket_end": DAY + dt.timedelta(days=1)}
    page = {"_source_file": f"landing/{table}/page-{i:04d}.json", "_page": 1, "_loaded_at": LATEST_LOAD}
    line = {"_source_file": f"landing/{table}/file.jsonl", "_source_line": i + 1, "_loaded_at": LATEST_LOAD}
    rows = {
        "request_events": {
            "request_id": f"req-{i}", "occurred_at": DAY + dt.timedelta(minutes=i), "provider": "openai",
            "model": "gpt-4.1", "api_key_id": "key-1", "project_id": "proj-1", "uncached_input_tokens": 100,
            "cache_read_input_tokens": 20, "cache_write_input_tokens": 0, "output_tokens": 50, "batch": False,
            "feature": "search", "team": "core", "source_system": "app", **line,
        },
        "outcome_events": {
            "task_id": f"task-{i}", "workflow": "triage", "completed_at": DAY, "outcome": "success", **line,
        },
        "openai_usage_completions": {
            **bucket, "project_id": "proj-1", "api_key_id": "key-1", "model": "gpt-4.1", "batch": False,
            "input_tokens": 120, "output_tokens": 50, "input_cached_tokens": 20, "input_uncached_tokens": 100,
            "input_cache_write_tokens": 0, "num_model_requests": 1, **page,
        },
        "openai_costs": {
            **bucket, "project_id": "proj-1", "line_item": "gpt-4.1, input", "amount_value": "1.25",
            "amount_currency": "usd", **page,
        },
        "anthropic_usage_messages": {
            **bucket, "api_key_id": "key-2", "workspace_id": "ws-1", "model": "claude-sonnet-4",
            "uncached_input_tokens": 100, "cache_read_input_tokens": 10, "cache_creation_5m_input_tokens": 5,
            "cache_creation_1h_input_tokens": 0, "output_tokens": 40, "web_search_requests": 0, **page,
        },
        "anthropic_cost_report": {
            **bucket, "workspace_id": "ws-1", "description": "Claude Sonnet 4 Usage - Input Tokens",
            "cost_type": "tokens", "model": "claude-sonnet-4", "amount": "123.45", "currency": "USD", **page,
        },
        "fct_token_spend": {
            "token_spend_id": f"ts-{i}", "usage_date": DAY.date(), "provider": "openai", "project_id": "proj-1",
            "api_key_id": "key-1", "model": "gpt-4.1", "model_key": "gpt-4.1", "is_batch": False,
            "feature": "search", "attribution_method": "request_tag", "record_type": "request",
            "request_count": 1, "uncached_input_tokens": 100, "cache_read_input_tokens": 20,
            "cache_write_5m_input_tokens": 0, "cache_write_1h_input_tokens": 0, "output_tokens": 50,
            "total_tokens": 170, "estimated_cost_usd": 0.5, "is_unpriced": False, "cost_usd": 0.5,
            "allocation_basis": "estimated_cost",
        },
    }
    return {**rows[table], **overrides}


def insert(db: Path, table: str, rows: list[dict], schema: str = "raw") -> None:
    """Append `rows` (dicts; missing columns are NULL) to `<schema>.<table>`."""
    con = duckdb.connect(str(db))
    try:
        con.register("new_rows", pd.DataFrame(rows))
        con.execute(f"insert into {schema}.{table} by name select * from new_rows")
    finally:
        con.close()


@pytest.fixture
def gx_dir(tmp_path, monkeypatch) -> Path:
    """A copy of the repository's GX context (without uncommitted/); the checks use it."""
    target = tmp_path / "expectations"
    shutil.copytree(REPO_EXPECTATIONS, target, ignore=shutil.ignore_patterns("uncommitted"))
    monkeypatch.setattr(settings, "EXPECTATIONS_DIR", target)
    return target


@pytest.fixture
def warehouse_db(tmp_path, monkeypatch, gx_dir) -> Path:
    """A tmp_path warehouse: raw tables and marts.fct_token_spend, each with good rows only."""
    db = tmp_path / "warehouse" / "tokenspend.duckdb"
    db.parent.mkdir()
    monkeypatch.setenv("TOKENSPEND_DUCKDB_PATH", str(db))
    monkeypatch.delenv("TOKENSPEND_UNTAGGED_SHARE_WARN", raising=False)
    con = duckdb.connect(str(db))
    create_raw_tables(con)
    con.execute("create schema marts")
    for mart in ("fct_token_spend", "mart_untagged_share", "mart_untagged_offenders"):
        con.execute(f"create table marts.{mart} ({contract_columns(mart)})")
    con.close()
    for table in ("request_events", "outcome_events", "openai_usage_completions", "openai_costs",
                  "anthropic_usage_messages", "anthropic_cost_report"):
        insert(db, table, [good_row(table, i) for i in range(3)])
    fct = [good_row("fct_token_spend", 0, cost_usd=9.9),
           good_row("fct_token_spend", 1, attribution_method="untagged", feature=None, cost_usd=0.1),
           good_row("fct_token_spend", 2, provider="anthropic", model="claude-sonnet-4", cost_usd=5),
           good_row("fct_token_spend", 3, record_type="unmatched_billed", is_unpriced=True, model=None,
                    estimated_cost_usd=None, cost_usd=0.25)]
    insert(db, "fct_token_spend", fct, schema="marts")
    set_untagged_share(db, GOOD_UNTAGGED_DAYS)
    return db


# (usage_date, provider, billed, untagged) of the good fact rows above
GOOD_UNTAGGED_DAYS = [(DAY.date().isoformat(), "openai", "10.25", "0.1"), (DAY.date().isoformat(), "anthropic", "5", "0")]


def _share(part: Decimal, whole: Decimal) -> Decimal | None:
    return (part / whole).quantize(Decimal("0.000000001")) if whole else None


def set_untagged_share(db: Path, days: list[tuple[str, str, str, str]]) -> None:
    """Replace marts.mart_untagged_share with one row per (usage_date, provider, billed, untagged)."""
    total = sum(Decimal(d[2]) for d in days)
    untagged = sum(Decimal(d[3]) for d in days)
    rows = [
        {"usage_date": day, "provider": provider, "total_cost_usd": Decimal(billed),
         "untagged_cost_usd": Decimal(part), "untagged_share": _share(Decimal(part), Decimal(billed)),
         "overall_total_cost_usd": total, "overall_untagged_cost_usd": untagged,
         "overall_untagged_share": _share(untagged, total)}
        for day, provider, billed, part in days
    ]
    con = duckdb.connect(str(db))
    try:
        con.execute("delete from marts.mart_untagged_share")
    finally:
        con.close()
    if rows:
        insert(db, "mart_untagged_share", rows, schema="marts")


def check_by_name(name: str) -> dg.AssetChecksDefinition:
    from dagster_project.defs.quality.checks import gx_checks

    return next(c for c in gx_checks if c.check_key.name == name)


@pytest.fixture(scope="session")
def instance():
    """One ephemeral Dagster instance for direct invocations (it records no materialisation)."""
    instance = dg.DagsterInstance.ephemeral()
    yield instance
    instance.dispose()


@pytest.fixture
def run_check(warehouse_db, instance) -> Callable[[str], dg.AssetCheckResult]:
    """Invoke a GX check directly against the tmp warehouse; returns its AssetCheckResult."""

    def _run(name: str) -> dg.AssetCheckResult:
        return check_by_name(name)(dg.build_asset_check_context(instance=instance))

    return _run


def failures(result: dg.AssetCheckResult) -> list[dict]:
    return result.metadata["failures"].value if "failures" in result.metadata else []


def failure_for(result: dg.AssetCheckResult, expectation: str, column: str | None) -> dict:
    found = [f for f in failures(result) if f["expectation"] == expectation and f.get("column") == column]
    assert found, f"no failed {expectation} on {column}: {failures(result)}"
    return found[0]
