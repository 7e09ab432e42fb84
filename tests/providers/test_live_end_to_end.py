"""Live mode against a local server that speaks both providers' documented formats.

With admin keys and base URLs in the environment, the same assets fetch from the "provider" instead of
the demo, and everything downstream works unchanged: the fact ties to the server's cost fixtures to
the cent per day and provider, no key is written anywhere, and a 90-day backfill makes a known number
of requests.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal

import dagster as dg
import duckdb
import pytest
from werkzeug import Response

from dagster_project.defs.anthropic.endpoints import ENDPOINTS as ANTHROPIC_ENDPOINTS
from dagster_project.defs.openai.endpoints import ENDPOINTS as OPENAI_ENDPOINTS
from tests.providers.fake_provider import FakeBucketedEndpoint

pytestmark = pytest.mark.slow

OPENAI_KEY = "fake-openai-admin-key-0123456789abcdef"
ANTHROPIC_KEY = "fake-anthropic-admin-key-0123456789abcdef"
START, END = dt.date(2026, 9, 1), dt.date(2026, 9, 6)
DAYS = [START + dt.timedelta(days=i) for i in range((END - START).days)]


def openai_usage(d: dt.date) -> list[dict]:
    n = d.day
    return [
        {"object": "organization.usage.completions.result", "input_tokens": 1_000_000 + n, "output_tokens": 200_000,
         "num_model_requests": 100, "project_id": "proj_a", "user_id": None, "api_key_id": "key_a",
         "model": "gpt-4.1-mini-2025-04-14", "batch": False, "service_tier": "default",
         "input_cached_tokens": 400_000, "input_uncached_tokens": 600_000 + n, "input_cache_write_tokens": 0},
        {"object": "organization.usage.completions.result", "input_tokens": 50_000, "output_tokens": 5_000,
         "num_model_requests": 10, "project_id": None, "user_id": None, "api_key_id": None,
         "model": "gpt-4.1-2025-04-14", "batch": True, "service_tier": None,
         "input_cached_tokens": 0, "input_uncached_tokens": 50_000, "input_cache_write_tokens": 0},
    ]


def openai_costs(d: dt.date) -> list[dict]:
    n = d.day
    return [
        {"object": "organization.costs.result", "amount": {"value": round(0.84 + n / 1000, 6), "currency": "usd"},
         "line_item": "gpt-4.1-mini-2025-04-14, input", "project_id": "proj_a", "quantity": None},
        {"object": "organization.costs.result", "amount": {"value": 0.32, "currency": "usd"},
         "line_item": "gpt-4.1-mini-2025-04-14, output", "project_id": "proj_a", "quantity": None},
        {"object": "organization.costs.result", "amount": {"value": 0.07, "currency": "usd"},
         "line_item": "gpt-4.1-2025-04-14, batch input", "project_id": None, "quantity": None},
    ]


def anthropic_usage(d: dt.date) -> list[dict]:
    return [
        {"api_key_id": "apikey_01", "workspace_id": "wrkspc_01", "model": "claude-sonnet-4-5-20250929",
         "uncached_input_tokens": 412_330, "cache_read_input_tokens": 2_950_114,
         "cache_creation": {"ephemeral_5m_input_tokens": 188_402, "ephemeral_1h_input_tokens": 0},
         "output_tokens": 96_771 + d.day, "server_tool_use": {"web_search_requests": 0}, "service_tier": "standard",
         "context_window": "0-200k", "account_id": None, "service_account_id": None, "inference_geo": None},
        {"api_key_id": None, "workspace_id": None, "model": "claude-haiku-4-5-20251001",
         "uncached_input_tokens": 10_000, "cache_read_input_tokens": 0,
         "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
         "output_tokens": 2_000, "server_tool_use": {"web_search_requests": 0}, "service_tier": "standard",
         "context_window": "0-200k", "account_id": None, "service_account_id": None, "inference_geo": None},
    ]


def anthropic_costs(d: dt.date) -> list[dict]:
    return [
        {"amount": f"{123.699 + d.day / 100:.5f}", "currency": "USD", "workspace_id": "wrkspc_01",
         "description": "Claude Sonnet 4.5 Usage - Input Tokens", "cost_type": "tokens",
         "token_type": "uncached_input_tokens", "model": "claude-sonnet-4-5-20250929", "service_tier": "standard",
         "context_window": "0-200k"},
        {"amount": "145.15650", "currency": "USD", "workspace_id": "wrkspc_01",
         "description": "Claude Sonnet 4.5 Usage - Output Tokens", "cost_type": "tokens", "token_type": "output_tokens",
         "model": "claude-sonnet-4-5-20250929", "service_tier": "standard", "context_window": "0-200k"},
        {"amount": "2.0", "currency": "USD", "workspace_id": None, "description": "Claude Haiku 4.5 Usage - Input Tokens",
         "cost_type": "tokens", "token_type": "uncached_input_tokens", "model": "claude-haiku-4-5-20251001",
         "service_tier": "standard", "context_window": "0-200k"},
        {"amount": "50", "currency": "USD", "workspace_id": None, "description": "Code Execution Usage",
         "cost_type": "code_execution", "token_type": None, "model": None, "service_tier": None, "context_window": None},
    ]


def claude_code(request) -> Response:
    day = request.args["starting_at"]
    body = {"data": [{
        "date": f"{day}T00:00:00Z", "actor": {"type": "user_actor", "email_address": "dev@example.com"},
        "organization_id": "org", "customer_type": "api", "subscription_type": None, "terminal_type": "vscode",
        "core_metrics": {"num_sessions": 2, "lines_of_code": {"added": 10, "removed": 2},
                         "commits_by_claude_code": 1, "pull_requests_by_claude_code": 0},
        "tool_actions": {}, "model_breakdown": [{"model": "claude-sonnet-4-5-20250929",
            "tokens": {"input": 100, "output": 50, "cache_read": 10, "cache_creation": 5},
            "estimated_cost": {"amount": 186, "currency": "USD"}}]}], "has_more": False, "next_page": None}
    return Response(json.dumps(body), content_type="application/json")


@pytest.fixture
def live_env(tmp_path, monkeypatch, httpserver):
    endpoints = {
        "/v1/organization/usage/completions": FakeBucketedEndpoint("openai", {d: openai_usage(d) for d in DAYS}),
        "/v1/organization/usage/embeddings": FakeBucketedEndpoint("openai", {}),
        "/v1/organization/costs": FakeBucketedEndpoint("openai", {d: openai_costs(d) for d in DAYS}),
        "/v1/organizations/usage_report/messages": FakeBucketedEndpoint("anthropic", {d: anthropic_usage(d) for d in DAYS}),
        "/v1/organizations/cost_report": FakeBucketedEndpoint("anthropic", {d: anthropic_costs(d) for d in DAYS}),
    }
    for path, handler in endpoints.items():
        httpserver.expect_request(path).respond_with_handler(handler)
    httpserver.expect_request("/v1/organizations/usage_report/claude_code").respond_with_handler(claude_code)
    monkeypatch.setenv("OPENAI_ADMIN_KEY", OPENAI_KEY)
    monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", ANTHROPIC_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", httpserver.url_for("/v1"))
    monkeypatch.setenv("ANTHROPIC_BASE_URL", httpserver.url_for("/v1"))
    monkeypatch.setenv("TOKENSPEND_DUCKDB_PATH", str(tmp_path / "w" / "tokenspend.duckdb"))
    monkeypatch.setenv("TOKENSPEND_LANDING_DIR", str(tmp_path / "landing"))
    monkeypatch.setenv("TOKENSPEND_REFETCH_DAYS", "0")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return tmp_path, endpoints


def test_live_ingest_ties_to_the_server_to_the_cent_and_never_writes_a_key(live_env, httpserver, capfd):
    from dagster_project.cli import materialize_all

    tmp_path, _ = live_env
    instance = dg.DagsterInstance.ephemeral()
    statuses = materialize_all(START, END, instance=instance)
    assert all(s == dg.DagsterRunStatus.SUCCESS for s in statuses)

    expected = {}
    for d in DAYS:
        expected[(d, "openai")] = sum(Decimal(str(r["amount"]["value"])) for r in openai_costs(d))
        expected[(d, "anthropic")] = sum(Decimal(r["amount"]) for r in anthropic_costs(d)) / 100
    con = duckdb.connect(str(tmp_path / "w" / "tokenspend.duckdb"), read_only=True)
    got = {(d, p): c for d, p, c in con.execute(
        "select usage_date, provider, sum(cost_usd) from marts.fct_token_spend group by 1, 2").fetchall()}
    assert got.keys() == expected.keys()
    for k, v in expected.items():
        assert abs(got[k] - v) < Decimal("0.005"), (k, got[k], v)
    # every day's Console usage (no key, default workspace) is kept and attributed, never dropped
    console = con.execute("""select sum(cost_usd) from marts.fct_token_spend
                             where provider = 'anthropic' and api_key_id is null""").fetchone()[0]
    assert console > 0

    # the keys appear nowhere: not in DuckDB, not in landed files, not in run logs or output
    for table, column in con.execute("""select table_schema || '.' || table_name, column_name
                                        from information_schema.columns where data_type = 'VARCHAR'""").fetchall():
        hits = con.execute(f'select count(*) from {table} where "{column}" like ? or "{column}" like ?',
                           [f"%{OPENAI_KEY}%", f"%{ANTHROPIC_KEY}%"]).fetchone()[0]
        assert hits == 0, (table, column)
    con.close()
    for path in (tmp_path / "landing").rglob("*"):
        if path.is_file():
            text = path.read_bytes()
            assert OPENAI_KEY.encode() not in text and ANTHROPIC_KEY.encode() not in text, path
    logs = ""
    for run in instance.get_runs():
        for record in instance.all_logs(run.run_id):
            logs += record.user_message or ""
            logs += repr(record.dagster_event) if record.dagster_event else ""
    out, err = capfd.readouterr()
    for text in (logs, out, err):
        assert OPENAI_KEY not in text and ANTHROPIC_KEY not in text
    # the admin keys were sent, in the providers' headers
    sent = [req for req, _ in httpserver.log]
    assert {r.headers.get("Authorization") for r in sent if "/organization/" in r.path} == {f"Bearer {OPENAI_KEY}"}
    assert {r.headers.get("x-api-key") for r in sent if "/organizations/" in r.path} == {ANTHROPIC_KEY}


def test_a_90_day_backfill_request_count(live_env, httpserver, monkeypatch):
    """One single-run backfill of 90 days: requests per endpoint = pages of `limit` buckets (per day for Claude Code)."""
    from dagster_project.lib.provider_api import AnthropicAdminApi, OpenAIAdminApi
    from dagster_project.lib.provider_ingest import land_window
    from dagster_project.lib.warehouse import connect

    tmp_path, _ = live_env
    start, end = dt.date(2026, 6, 1), dt.date(2026, 8, 30)
    assert (end - start).days == 90
    counts = {}
    with connect(tmp_path / "bf.duckdb") as con:
        for resource, endpoints in ((OpenAIAdminApi(), OPENAI_ENDPOINTS), (AnthropicAdminApi(), ANTHROPIC_ENDPOINTS)):
            for endpoint in endpoints:
                before = len(httpserver.log)
                land_window(resource.client(), endpoint, start, end, tmp_path / "landing", con)
                counts[(endpoint.provider, endpoint.table)] = len(httpserver.log) - before
    for (_provider, table), n in counts.items():
        endpoint = next(e for e in (*OPENAI_ENDPOINTS, *ANTHROPIC_ENDPOINTS) if e.table == table)
        expected = 90 if endpoint.window_style == "per_day" else math.ceil(90 / endpoint.limit)
        assert n == expected, (table, n)
    per_provider = {p: sum(n for (pp, _), n in counts.items() if pp == p) for p in ("openai", "anthropic")}
    print(f"90-day backfill HTTP requests: {per_provider} by endpoint {counts}")
    assert per_provider == {"openai": 9, "anthropic": 96}
