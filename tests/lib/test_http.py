"""The paged HTTP client: retries, Retry-After, cursors and error messages, against a local server."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import requests
from werkzeug import Response

from dagster_project.lib.http import (
    PagedApi,
    ProviderApiError,
    ProviderAuthError,
    RetryPolicy,
    backoff_seconds,
    retry_after_seconds,
)

SECRET = "fake-admin-key-never-shown-0123456789"


def make_api(httpserver, **policy) -> tuple[PagedApi, list[float]]:
    slept: list[float] = []
    api = PagedApi(
        session=requests.Session(),
        base_url=httpserver.url_for("/v1"),
        headers={"Authorization": f"Bearer {SECRET}"},
        key_env_var="OPENAI_ADMIN_KEY",
        policy=RetryPolicy(**{"max_attempts": 4, "max_total_seconds": 60, **policy}),
        sleep=slept.append,
    )
    return api, slept


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("", None), ("7", 7.0), ("0", 0.0), ("-3", 0.0), ("soon", None),
     ("Sat, 28 Nov 2026 10:00:30 GMT", 30.0)],
)
def test_retry_after_parses_seconds_and_http_dates(header, expected):
    now = dt.datetime(2026, 11, 28, 10, 0, 0, tzinfo=dt.UTC)
    assert retry_after_seconds(header, now=now) == expected


@pytest.mark.parametrize(("attempt", "retry_after", "expected"), [(1, None, 1.0), (3, None, 4.0), (2, 9.0, 9.0), (1, 500.0, 60.0)])
def test_backoff_prefers_retry_after_and_is_capped(attempt, retry_after, expected):
    assert backoff_seconds(attempt, RetryPolicy(), retry_after) == expected


def test_follows_next_page_until_has_more_is_false(httpserver):
    pages = {
        None: {"data": [1], "has_more": True, "next_page": "p2"},
        "p2": {"data": [2], "has_more": True, "next_page": "p3"},
        "p3": {"data": [3], "has_more": False, "next_page": None},
    }

    def handler(request):
        return Response(json.dumps(pages[request.args.get("page")]), content_type="application/json")

    httpserver.expect_request("/v1/things").respond_with_handler(handler)
    api, _ = make_api(httpserver)
    got = [(n, body["data"][0]) for n, body, _ in api.iter_pages("/things", [("group_by[]", "a"), ("group_by[]", "b")], "test")]
    assert got == [(1, 1), (2, 2), (3, 3)]
    first = httpserver.log[0][0]
    assert first.args.getlist("group_by[]") == ["a", "b"]


def test_429_then_success_waits_for_retry_after(httpserver):
    httpserver.expect_ordered_request("/v1/x").respond_with_data("slow down", status=429, headers={"Retry-After": "2"})
    httpserver.expect_ordered_request("/v1/x").respond_with_json({"ok": 1, "has_more": False})
    api, slept = make_api(httpserver)
    body, text = api.get_json("/x", [], "x")
    assert body == {"ok": 1, "has_more": False}
    assert json.loads(text) == body
    assert slept == [2.0]


def test_persistent_500_gives_up_naming_the_request(httpserver):
    httpserver.expect_request("/v1/x").respond_with_data("boom", status=500)
    api, slept = make_api(httpserver, max_attempts=3)
    with pytest.raises(ProviderApiError, match=r"GET costs window 2026-09-01\.\.2026-09-08, page 3: gave up after 3 attempt\(s\).*HTTP 500"):
        api.get_json("/x", [], "GET costs window 2026-09-01..2026-09-08, page 3")
    assert slept == [1.0, 2.0]


def test_total_time_budget_bounds_the_retries(httpserver):
    httpserver.expect_request("/v1/x").respond_with_data("busy", status=503, headers={"Retry-After": "50"})
    api, slept = make_api(httpserver, max_attempts=10, max_total_seconds=120)
    with pytest.raises(ProviderApiError, match="gave up after 3 attempt"):
        api.get_json("/x", [], "x")
    assert slept == [50.0, 50.0]


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failure_names_the_variable_never_the_key(httpserver, status):
    httpserver.expect_request("/v1/x").respond_with_data("no", status=status)
    api, slept = make_api(httpserver)
    with pytest.raises(ProviderAuthError) as info:
        api.get_json("/x", [], "x")
    assert "OPENAI_ADMIN_KEY" in str(info.value)
    assert SECRET not in str(info.value)
    assert slept == []


def test_malformed_json_is_a_clear_error(httpserver):
    httpserver.expect_request("/v1/x").respond_with_data('{"data": [', content_type="application/json")
    api, _ = make_api(httpserver)
    with pytest.raises(ProviderApiError, match="x: the response is not valid JSON"):
        api.get_json("/x", [], "x")


def test_connection_errors_are_retried_then_reported():
    slept: list[float] = []
    api = PagedApi(requests.Session(), "http://127.0.0.1:9/v1", {}, "OPENAI_ADMIN_KEY",
                   RetryPolicy(max_attempts=2, timeout_seconds=2), sleep=slept.append)
    with pytest.raises(ProviderApiError, match="connection error"):
        api.get_json("/x", [], "x")
    assert slept == [1.0]


def test_has_more_without_cursor_is_an_error(httpserver):
    httpserver.expect_request("/v1/x").respond_with_json({"data": [], "has_more": True, "next_page": None})
    api, _ = make_api(httpserver)
    with pytest.raises(ProviderApiError, match="has_more is true but next_page is empty"):
        list(api.iter_pages("/x", [], "x"))
