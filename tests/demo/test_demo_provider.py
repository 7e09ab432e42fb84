"""The demo admin API: documented shapes, units, pagination and errors, and totals that tie to the truth."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter, defaultdict
from decimal import Decimal

import pytest

from dagster_project.demo.generator import DEMO_END, DEMO_START, generate_demo_org
from dagster_project.demo.provider import demo_response
from tests.demo.conftest import rfc3339, unix, walk

OPENAI_USAGE = "/v1/organization/usage/completions"
OPENAI_COSTS = "/v1/organization/costs"
ANTHROPIC_USAGE = "/v1/organizations/usage_report/messages"
ANTHROPIC_COSTS = "/v1/organizations/cost_report"
CLAUDE_CODE = "/v1/organizations/usage_report/claude_code"

# A range wider than the period, so empty buckets at both ends are part of every walk.
FIRST, END = DEMO_START - dt.timedelta(days=3), DEMO_END + dt.timedelta(days=2)
ALL_DAYS = [FIRST + dt.timedelta(days=i) for i in range((END - FIRST).days)]
BUCKETED = [
    pytest.param("openai", OPENAI_USAGE, {"start_time": [unix(FIRST)], "end_time": [unix(END)]}, 31,
                 id="openai-usage"),
    pytest.param("openai", OPENAI_COSTS, {"start_time": [unix(FIRST)], "end_time": [unix(END)]}, 180,
                 id="openai-costs"),
    pytest.param("anthropic", ANTHROPIC_USAGE, {"starting_at": [rfc3339(FIRST)], "ending_at": [rfc3339(END)]}, 31,
                 id="anthropic-usage"),
    pytest.param("anthropic", ANTHROPIC_COSTS, {"starting_at": [rfc3339(FIRST)], "ending_at": [rfc3339(END)]}, 31,
                 id="anthropic-costs"),
]


def bucket_day(provider: str, bucket: dict) -> dt.date:
    if provider == "openai":
        return dt.datetime.fromtimestamp(bucket["start_time"], tz=dt.UTC).date()
    return dt.date.fromisoformat(bucket["starting_at"][:10])


def as_client_sees(body: dict) -> dict:
    """Serialise and parse as the ingest client does, numbers with a fraction read as Decimal."""
    return json.loads(json.dumps(body), parse_float=Decimal)


def results(pages: list[dict], provider: str):
    for page in pages:
        for bucket in as_client_sees(page)["data"]:
            for result in bucket["results"]:
                yield bucket_day(provider, bucket), result


@pytest.mark.parametrize("limit", [1, 3, 7, 31])
@pytest.mark.parametrize(("provider", "path", "window", "max_limit"), BUCKETED)
def test_pages_walk_every_bucket_exactly_once(demo_org, provider, path, window, max_limit, limit):
    pages = walk(provider, path, {**window, "limit": [str(limit)], "bucket_width": ["1d"]}, demo_org.landing_dir)
    days = [bucket_day(provider, b) for p in pages for b in p["data"]]
    assert days == ALL_DAYS
    assert all(len(p["data"]) == limit for p in pages[:-1]) and 1 <= len(pages[-1]["data"]) <= limit
    assert all(p["has_more"] for p in pages[:-1])
    for page in pages:
        for bucket in page["data"]:
            day = bucket_day(provider, bucket)
            assert (len(bucket["results"]) > 0) == (DEMO_START <= day < DEMO_END)
            if provider == "openai":
                assert bucket["object"] == "bucket" and bucket["end_time"] - bucket["start_time"] == 86400
            else:
                assert bucket["ending_at"] == rfc3339(day + dt.timedelta(days=1))


@pytest.mark.parametrize(("provider", "path", "window", "max_limit"), BUCKETED)
def test_limit_bounds_and_default(demo_org, provider, path, window, max_limit):
    status, body = demo_response(provider, path, {**window, "limit": [str(max_limit)]}, demo_org.landing_dir)
    assert status == 200 and len(body["data"]) == min(max_limit, len(ALL_DAYS))
    status, body = demo_response(provider, path, {**window, "limit": [str(max_limit + 1)]}, demo_org.landing_dir)
    assert status == 400
    status, body = demo_response(provider, path, dict(window), demo_org.landing_dir)
    assert status == 200 and len(body["data"]) == 7 and body["has_more"]


def test_openai_costs_tie_to_the_bill_and_the_requests_per_day(demo_org, demo):
    pages = walk("openai", OPENAI_COSTS, {"start_time": [unix(DEMO_START)], "limit": ["10"],
                                          "group_by[]": ["project_id", "line_item"]}, demo_org.landing_dir)
    api = defaultdict(Decimal)
    for day, r in results(pages, "openai"):
        value = r["amount"]["value"]
        assert isinstance(value, Decimal) and -value.as_tuple().exponent <= 9 and r["amount"]["currency"] == "usd"
        api[day] += value
    bill = dict(demo.execute("select day, sum(amount_usd) from openai_costs group by 1").fetchall())
    assert api == bill  # exact: the API sends the provider's own figures
    requests = dict(demo.execute("""select day, sum(uncached_usd + cache_read_usd + cache_write_usd + output_usd)
                                    from requests where provider = 'openai' group by 1""").fetchall())
    assert set(requests) == set(api)
    assert all(abs(api[d] - requests[d]) < Decimal("0.005") for d in api)


def test_anthropic_costs_are_cents_strings_and_tie_to_the_bill_per_day(demo_org, demo):
    pages = walk("anthropic", ANTHROPIC_COSTS, {"starting_at": [rfc3339(DEMO_START)], "limit": ["5"],
                                                "group_by[]": ["workspace_id", "description"]}, demo_org.landing_dir)
    api = defaultdict(Decimal)
    kinds = Counter()
    for day, r in results(pages, "anthropic"):
        assert isinstance(r["amount"], str) and re.fullmatch(r"\d+(\.\d+)?", r["amount"]) and r["currency"] == "USD"
        api[day] += Decimal(r["amount"]) / 100
        kinds[(r["cost_type"], r["token_type"] is None, r["model"] is None)] += 1
    assert kinds[("code_execution", True, True)] > 0 and kinds[("tokens", False, False)] > 0
    assert kinds[("web_search", True, True)] > 0
    bill = dict(demo.execute("select day, sum(amount_cents) from anthropic_costs group by 1").fetchall())
    assert api == {d: v / 100 for d, v in bill.items()}
    truth = dict(demo.execute("""
        select day, sum(usd) from (
            select day, uncached_usd + cache_read_usd + cache_write_usd + output_usd as usd from requests
            where provider = 'anthropic'
            union all select day, amount_cents * 0.01::decimal(3, 2) from anthropic_costs where cost_type <> 'tokens')
        group by 1""").fetchall())
    assert set(truth) == set(api) and all(abs(api[d] - truth[d]) < Decimal("0.005") for d in api)


@pytest.mark.parametrize(
    ("provider", "path", "window", "groupings"),
    [
        ("openai", OPENAI_COSTS, {"start_time": [unix(DEMO_START)]},
         [[], ["project_id"], ["line_item"], ["project_id", "line_item", "api_key_id"]]),
        ("anthropic", ANTHROPIC_COSTS, {"starting_at": [rfc3339(DEMO_START)]},
         [[], ["workspace_id"], ["description"], ["workspace_id", "description"]]),
    ],
)
def test_cost_totals_do_not_depend_on_grouping(demo_org, provider, path, window, groupings):
    totals = []
    for group_by in groupings:
        pages = walk(provider, path, {**window, "limit": ["31"], "group_by[]": group_by}, demo_org.landing_dir)
        per_day = defaultdict(Decimal)
        for day, r in results(pages, provider):
            per_day[day] += r["amount"]["value"] if provider == "openai" else Decimal(r["amount"])
            for dim in ("project_id", "line_item", "api_key_id", "workspace_id", "description"):
                if dim in r and dim not in group_by:
                    assert r[dim] is None
        totals.append(dict(per_day))
    assert all(t == totals[0] for t in totals)


def test_openai_usage_input_includes_cached_and_ties_to_all_true_requests(demo_org, demo):
    pages = walk("openai", OPENAI_USAGE, {"start_time": [unix(DEMO_START)], "limit": ["31"],
                                          "group_by[]": ["project_id", "api_key_id", "model", "batch",
                                                         "service_tier"]}, demo_org.landing_dir)
    per_day = defaultdict(Counter)
    for day, r in results(pages, "openai"):
        assert r["object"] == "organization.usage.completions.result"
        assert r["input_tokens"] == r["input_uncached_tokens"] + r["input_cached_tokens"] + r["input_cache_write_tokens"]
        assert r["project_id"] and r["model"] and r["batch"] in (True, False) and r["user_id"] is None
        per_day[day].update(input=r["input_tokens"], cached=r["input_cached_tokens"], output=r["output_tokens"],
                            requests=r["num_model_requests"])
    truth = demo.execute("""
        select day, sum(uncached_input_tokens + cache_read_input_tokens + cache_write_input_tokens),
               sum(cache_read_input_tokens), sum(output_tokens), count(*)
        from requests where provider = 'openai' group by 1""").fetchall()
    assert {d: Counter(input=i, cached=c, output=o, requests=n) for d, i, c, o, n in truth} == per_day


def test_anthropic_usage_classes_are_disjoint_and_tie_to_all_true_requests(demo_org, demo):
    pages = walk("anthropic", ANTHROPIC_USAGE, {"starting_at": [rfc3339(DEMO_START)], "limit": ["31"],
                                                "group_by[]": ["api_key_id", "workspace_id", "model", "service_tier",
                                                               "context_window"]}, demo_org.landing_dir)
    per_day = defaultdict(Counter)
    nulls = Counter()
    for day, r in results(pages, "anthropic"):
        counts = dict(uncached=r["uncached_input_tokens"], read=r["cache_read_input_tokens"],
                      w5m=r["cache_creation"]["ephemeral_5m_input_tokens"],
                      w1h=r["cache_creation"]["ephemeral_1h_input_tokens"], output=r["output_tokens"])
        assert min(counts.values()) >= 0
        per_day[day].update(counts)
        per_day[day].update(searches=r["server_tool_use"]["web_search_requests"])
        nulls.update(workspace=r["workspace_id"] is None, console=r["api_key_id"] is None)
        assert r["model"] and r["service_tier"] in ("standard", "batch") and r["context_window"] in ("0-200k", "200k-1M")
    assert nulls["workspace"] > 0 and nulls["console"] > 0  # default workspace and Console usage
    truth = demo.execute("""
        select day, sum(uncached_input_tokens), sum(cache_read_input_tokens),
               sum(cache_write_input_tokens) filter (where cache_write_ttl = '5m'),
               sum(cache_write_input_tokens) filter (where cache_write_ttl = '1h'), sum(output_tokens),
               sum(web_search_requests)
        from requests where provider = 'anthropic' group by 1""").fetchall()
    expected = {d: Counter(uncached=u, read=r, w5m=w5 or 0, w1h=w1 or 0, output=o, searches=n)
                for d, u, r, w5, w1, o, n in truth}
    assert {d: +c for d, c in expected.items()} == {d: +c for d, c in per_day.items()}


def test_logged_events_explain_less_than_the_usage(demo_org, demo):
    for provider, path, window in [("openai", OPENAI_USAGE, {"start_time": [unix(DEMO_START)]}),
                                   ("anthropic", ANTHROPIC_USAGE, {"starting_at": [rfc3339(DEMO_START)]})]:
        pages = walk(provider, path, {**window, "limit": ["31"]}, demo_org.landing_dir)
        usage = defaultdict(int)
        for day, r in results(pages, provider):
            assert all(r[d] is None for d in ("api_key_id", "model", "service_tier"))  # not grouped: null
            usage[day] += r["output_tokens"]
        logged = dict(demo.execute("""select cast(left(occurred_at, 10) as date), sum(output_tokens) from events
                                      where provider = ? group by 1""", [provider]).fetchall())
        assert all(logged[d] <= usage[d] for d in usage)
        assert sum(logged.values()) < sum(usage.values())


def test_claude_code_report_pages_per_user_for_seat_holders(demo_org, demo):
    day = DEMO_START + dt.timedelta(days=1)
    pages = walk("anthropic", CLAUDE_CODE, {"starting_at": [day.isoformat()], "limit": ["3"]}, demo_org.landing_dir)
    records = [r for p in pages for r in as_client_sees(p)["data"]]
    emails = [r["actor"]["email_address"] for r in records]
    assert len(emails) == len(set(emails)) > 3 and len(pages) > 1
    expected = demo.execute("select email from claude_code_users where day = ? order by email", [day]).fetchall()
    assert emails == [e for (e,) in expected]
    seat_holders = {e for (e,) in demo.execute("select email from employees where has_ai_seat = 'true'").fetchall()}
    assert set(emails) <= seat_holders
    for r in records:
        assert r["actor"]["type"] == "user_actor" and r["date"] == f"{day.isoformat()}T00:00:00Z"
        assert r["model_breakdown"]
        for m in r["model_breakdown"]:
            assert m["estimated_cost"]["amount"] > 0 and m["estimated_cost"]["currency"] == "USD"
            assert set(m["tokens"]) == {"input", "output", "cache_read", "cache_creation"}
    status, body = demo_response("anthropic", CLAUDE_CODE, {"starting_at": [(DEMO_END + dt.timedelta(days=5)).isoformat()]},
                                 demo_org.landing_dir)
    assert status == 200 and body == {"data": [], "has_more": False, "next_page": None}


@pytest.mark.parametrize(
    ("provider", "path", "query", "param"),
    [
        ("openai", OPENAI_USAGE, {}, "start_time"),
        ("openai", OPENAI_COSTS, {"end_time": ["1790000000"]}, "start_time"),
        ("openai", OPENAI_USAGE, {"start_time": ["yesterday"]}, "start_time"),
        ("openai", OPENAI_USAGE, {"start_time": ["1788220800"], "group_by[]": ["team"]}, "group_by"),
        ("openai", OPENAI_COSTS, {"start_time": ["1788220800"], "group_by[]": ["model"]}, "group_by"),
        ("openai", OPENAI_USAGE, {"start_time": ["1788220800"], "bucket_width": ["1h"]}, "bucket_width"),
        ("openai", OPENAI_COSTS, {"start_time": ["1788220800"], "limit": ["0"]}, "limit"),
        ("openai", OPENAI_COSTS, {"start_time": ["1788220800"], "page": ["not-a-cursor!"]}, "page"),
        ("openai", OPENAI_COSTS, {"start_time": ["1788220800"], "end_time": ["1788220800"]}, None),
    ],
)
def test_openai_bad_queries_get_openai_errors(demo_org, provider, path, query, param):
    status, body = demo_response(provider, path, query, demo_org.landing_dir)
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error" and body["error"]["param"] == param
    assert body["error"]["message"]


@pytest.mark.parametrize(
    ("path", "query"),
    [
        (ANTHROPIC_USAGE, {}),
        (ANTHROPIC_COSTS, {"ending_at": ["2026-10-01T00:00:00Z"]}),
        (ANTHROPIC_USAGE, {"starting_at": ["1st of September"]}),
        (ANTHROPIC_COSTS, {"starting_at": ["2026-09-01T00:00:00Z"], "group_by[]": ["api_key_id"]}),
        (ANTHROPIC_USAGE, {"starting_at": ["2026-09-01T00:00:00Z"], "limit": ["32"]}),
        (ANTHROPIC_USAGE, {"starting_at": ["2026-09-01T00:00:00Z"], "page": ["page_bm9wZQ=="]}),
        (CLAUDE_CODE, {}),
        (CLAUDE_CODE, {"starting_at": ["2026-09-01T00:00:00Z"]}),
        (CLAUDE_CODE, {"starting_at": ["2026-09-01"], "limit": ["1001"]}),
    ],
)
def test_anthropic_bad_queries_get_anthropic_errors(demo_org, path, query):
    status, body = demo_response("anthropic", path, query, demo_org.landing_dir)
    assert status == 400
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error" and body["error"]["message"]


def test_unknown_paths_are_not_found(demo_org):
    assert demo_response("openai", "/v1/organization/usage/teleport", {}, demo_org.landing_dir)[0] == 404
    assert demo_response("anthropic", OPENAI_COSTS, {"start_time": ["1"]}, demo_org.landing_dir)[0] == 404
    status, body = demo_response("anthropic", "/v1/nope", {}, demo_org.landing_dir)
    assert status == 404 and body["error"]["type"] == "not_found_error"


def test_query_string_on_the_path_and_embeddings_without_usage(demo_org):
    path = f"{OPENAI_COSTS}?start_time={unix(DEMO_START)}&group_by[]=line_item&limit=2"
    status, body = demo_response("openai", path, {}, demo_org.landing_dir)
    assert status == 200 and len(body["data"]) == 2 and body["data"][0]["results"][0]["line_item"]
    status, body = demo_response("openai", "/v1/organization/usage/embeddings",
                                 {"start_time": [unix(DEMO_START)], "limit": ["3"]}, demo_org.landing_dir)
    assert status == 200 and [b["results"] for b in body["data"]] == [[], [], []] and body["has_more"]


def test_responses_are_deterministic(demo_org):
    query = {"starting_at": [rfc3339(DEMO_START)], "group_by[]": ["workspace_id", "description"], "limit": ["4"]}
    assert demo_response("anthropic", ANTHROPIC_COSTS, query, demo_org.landing_dir) == \
        demo_response("anthropic", ANTHROPIC_COSTS, dict(query), demo_org.landing_dir)


def test_an_ungenerated_landing_dir_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="generate_demo_org"):
        demo_response("openai", OPENAI_COSTS, {"start_time": ["1788220800"]}, tmp_path)


def test_providers_not_generated_answer_with_empty_buckets(tmp_path):
    org = generate_demo_org(tmp_path, scale=0.1, providers=("openai",))
    pages = walk("anthropic", ANTHROPIC_COSTS, {"starting_at": [rfc3339(DEMO_START)], "limit": ["31"]}, org.landing_dir)
    assert sum(len(p["data"]) for p in pages) == 60
    assert all(b["results"] == [] for p in pages for b in p["data"])
