"""Landing a provider window: pages, null dimensions, empty buckets, re-runs and failed runs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from werkzeug import Response

from dagster_project.defs.anthropic.endpoints import COST_REPORT, MESSAGES_USAGE
from dagster_project.defs.openai.endpoints import COMPLETIONS, COSTS
from dagster_project.lib.http import PagedApi, ProviderApiError, RetryPolicy
from dagster_project.lib.provider_ingest import land_window
from dagster_project.lib.warehouse import connect
from tests.providers.fake_provider import FakeBucketedEndpoint

START, END = dt.date(2026, 9, 1), dt.date(2026, 9, 11)


def openai_costs(d: dt.date) -> list[dict]:
    n = d.day
    return [
        {"object": "organization.costs.result", "amount": {"value": round(1.234567 * n, 6), "currency": "usd"},
         "line_item": "gpt-4.1-mini-2025-04-14, input", "project_id": "proj_a", "api_key_id": None, "quantity": 1000.0 * n},
        {"object": "organization.costs.result", "amount": {"value": 0.000001, "currency": "usd"},
         "line_item": "gpt-4.1-mini-2025-04-14, output", "project_id": None, "api_key_id": None, "quantity": None},
    ]


def api_for(httpserver, **policy) -> PagedApi:
    return PagedApi(httpserver.url_for("/v1"), {"Authorization": "Bearer test"}, "OPENAI_ADMIN_KEY",
                    RetryPolicy(**{"max_attempts": 3, "backoff_seconds": 0.0, **policy}))


@pytest.fixture
def costs_server(httpserver):
    buckets = {START + dt.timedelta(days=i): openai_costs(START + dt.timedelta(days=i)) for i in range(10) if i != 4}
    endpoint = FakeBucketedEndpoint("openai", buckets)
    httpserver.expect_request("/v1/organization/costs").respond_with_handler(endpoint)
    return endpoint, buckets


def test_lands_every_page_and_row_with_its_source(tmp_path, httpserver, costs_server):
    endpoint, buckets = costs_server
    limited = COSTS.__class__(**{**COSTS.__dict__, "limit": 3})
    with connect(tmp_path / "w.duckdb") as con:
        result = land_window(api_for(httpserver), limited, START, END, tmp_path / "landing", con)
        rows = con.execute("select bucket_start, project_id, line_item, amount_value, _page, _source_file from raw.openai_costs order by all").fetchall()
    assert result.pages == 4 == endpoint.calls  # 10 daily buckets, 3 per page
    assert result.rows == len(rows) == sum(len(v) for v in buckets.values())
    assert {r[4] for r in rows} == {1, 2, 3, 4}
    assert all(r[5].startswith(str(result.folder)) for r in rows)
    assert not (tmp_path / "landing" / "openai" / "openai_costs" / f"{START}_{END}.partial").exists()
    # null dimensions stay null; amounts keep their decimal text
    assert any(r[1] is None for r in rows)
    total = sum(Decimal(r[3]) for r in rows)
    expected = sum(Decimal(str(x["amount"]["value"])) for v in buckets.values() for x in v)
    assert total == expected
    # group_by is sent as group_by[]=...
    assert endpoint.requests[0]["group_by[]"] == ["project_id", "line_item"]


def test_rerunning_a_window_leaves_the_same_rows(tmp_path, httpserver, costs_server):
    with connect(tmp_path / "w.duckdb") as con:
        land_window(api_for(httpserver), COSTS, START, END, tmp_path / "landing", con)
        first = con.execute("select * exclude (_loaded_at) from raw.openai_costs order by all").fetchall()
        land_window(api_for(httpserver), COSTS, START, END, tmp_path / "landing", con)
        second = con.execute("select * exclude (_loaded_at) from raw.openai_costs order by all").fetchall()
    assert first == second and len(first) > 0


def test_overlapping_window_replaces_only_its_days(tmp_path, httpserver, costs_server):
    with connect(tmp_path / "w.duckdb") as con:
        land_window(api_for(httpserver), COSTS, START, END, tmp_path / "landing", con)
        before = con.execute("select count(*) from raw.openai_costs").fetchone()[0]
        land_window(api_for(httpserver), COSTS, dt.date(2026, 9, 8), END, tmp_path / "landing", con)
        after = con.execute("select count(*) from raw.openai_costs").fetchone()[0]
    assert before == after


def test_a_failed_page_leaves_earlier_data_exactly_as_it_was(tmp_path, httpserver):
    good = FakeBucketedEndpoint("openai", {START + dt.timedelta(days=i): openai_costs(START) for i in range(10)})
    httpserver.expect_request("/v1/organization/costs").respond_with_handler(good)
    limited = COSTS.__class__(**{**COSTS.__dict__, "limit": 2})
    landing = tmp_path / "landing"
    with connect(tmp_path / "w.duckdb") as con:
        land_window(api_for(httpserver), limited, START, END, landing, con)
        before = con.execute("select * from raw.openai_costs order by all").fetchall()
        files_before = sorted(p.read_text() for p in landing.rglob("*.json"))

        # the same window again, but page 3 of 5 answers 500 until the retries run out
        httpserver.clear()
        changed = {START + dt.timedelta(days=i): openai_costs(START + dt.timedelta(days=3)) for i in range(10)}
        failing = FakeBucketedEndpoint("openai", changed, fail=lambda page, call: Response("oops", status=500) if page == 3 else None)
        httpserver.expect_request("/v1/organization/costs").respond_with_handler(failing)
        with pytest.raises(ProviderApiError, match=r"openai /organization/costs window 2026-09-01\.\.2026-09-11, page 3: gave up after 3"):
            land_window(api_for(httpserver), limited, START, END, landing, con)
        after = con.execute("select * from raw.openai_costs order by all").fetchall()
    assert after == before
    assert sorted(p.read_text() for p in landing.rglob("*.json") if ".partial" not in str(p)) == files_before


def test_anthropic_usage_and_costs_map_every_field(tmp_path, httpserver):
    day = START
    usage = [{"account_id": None, "api_key_id": None, "cache_creation": {"ephemeral_1h_input_tokens": 7, "ephemeral_5m_input_tokens": 188402},
              "cache_read_input_tokens": 2950114, "context_window": "0-200k", "inference_geo": None,
              "model": "claude-sonnet-4-5-20250929", "output_tokens": 96771, "server_tool_use": {"web_search_requests": 3},
              "service_account_id": None, "service_tier": "batch", "uncached_input_tokens": 412330, "workspace_id": None}]
    cost = [{"amount": "123.699", "context_window": "0-200k", "cost_type": "tokens", "currency": "USD",
             "description": "Claude Sonnet 4.5 Usage - Input Tokens", "inference_geo": "not_available",
             "model": "claude-sonnet-4-5-20250929", "service_tier": "standard", "token_type": "uncached_input_tokens",
             "workspace_id": "wrkspc_01"},
            {"amount": "5", "cost_type": "code_execution", "currency": "USD", "description": "Code Execution Usage",
             "model": None, "token_type": None, "workspace_id": None}]
    httpserver.expect_request("/v1/organizations/usage_report/messages").respond_with_handler(FakeBucketedEndpoint("anthropic", {day: usage}))
    httpserver.expect_request("/v1/organizations/cost_report").respond_with_handler(FakeBucketedEndpoint("anthropic", {day: cost}))
    with connect(tmp_path / "w.duckdb") as con:
        land_window(api_for(httpserver), MESSAGES_USAGE, START, END, tmp_path / "l", con)
        land_window(api_for(httpserver), COST_REPORT, START, END, tmp_path / "l", con)
        u = con.execute("select bucket_start, api_key_id, workspace_id, uncached_input_tokens, cache_read_input_tokens, "
                        "cache_creation_5m_input_tokens, cache_creation_1h_input_tokens, output_tokens, web_search_requests, service_tier "
                        "from raw.anthropic_usage_messages").fetchall()
        c = con.execute("select amount, cost_type, token_type, model, workspace_id from raw.anthropic_cost_report order by amount").fetchall()
    assert u == [(dt.datetime(2026, 9, 1), None, None, 412330, 2950114, 188402, 7, 96771, 3, "batch")]
    assert c == [("123.699", "tokens", "uncached_input_tokens", "claude-sonnet-4-5-20250929", "wrkspc_01"),
                 ("5", "code_execution", None, None, None)]


def test_openai_completions_window_is_sent_in_unix_seconds(tmp_path, httpserver):
    endpoint = FakeBucketedEndpoint("openai", {})
    httpserver.expect_request("/v1/organization/usage/completions").respond_with_handler(endpoint)
    with connect(tmp_path / "w.duckdb") as con:
        result = land_window(api_for(httpserver), COMPLETIONS, START, END, tmp_path / "l", con)
    assert result.rows == 0 and result.pages == 1
    sent = endpoint.requests[0]
    assert sent["start_time"] == ["1788220800"] and sent["end_time"] == ["1789084800"]
    assert sent["bucket_width"] == ["1d"] and sent["limit"] == ["31"]
