"""The paged HTTP client and the retry mechanism: Retry-After, bounded retries, cursors and error
messages, against a local server."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import time

import pytest
from werkzeug import Response

from dagster_project.lib.http import (
    RETRY_STATUSES,
    PagedApi,
    ProviderApiError,
    ProviderAuthError,
    RetryPolicy,
    hide_from_logs,
    retrying_session,
)

SECRET = "fake-admin-key-never-shown-0123456789"


def make_api(httpserver, **policy) -> PagedApi:
    # no backoff unless a test asks for it: only Retry-After makes these tests wait
    return PagedApi(
        base_url=httpserver.url_for("/v1"),
        headers={"Authorization": f"Bearer {SECRET}"},
        key_env_var="OPENAI_ADMIN_KEY",
        policy=RetryPolicy(**{"max_attempts": 4, "backoff_seconds": 0.0, "max_wait_seconds": 5.0, **policy}),
    )


def test_the_policy_is_urllib3_retry_on_429_and_5xx_honouring_retry_after():
    retry = RetryPolicy(max_attempts=4, backoff_seconds=0.5, max_wait_seconds=7.0).retry()
    assert retry.total == 3
    assert {429, 500, 502, 503, 504} <= set(retry.status_forcelist) and not {400, 401, 403, 404} & RETRY_STATUSES
    assert retry.respect_retry_after_header and retry.retry_after_max == 7.0 and retry.backoff_max == 7.0
    assert retry.backoff_factor == 0.5
    assert "GET" in retry.allowed_methods and "POST" not in retry.allowed_methods
    assert "POST" in RetryPolicy(retry_post=True).retry().allowed_methods


def test_retrying_session_mounts_the_retry_for_http_and_https():
    session = retrying_session(RetryPolicy(max_attempts=2))
    for url in ("http://127.0.0.1/x", "https://api.openai.com/v1/x"):
        assert session.get_adapter(url).max_retries.total == 1


@pytest.mark.parametrize(("header", "expected"), [("7", 7), ("0", 0), ("soon", None), ("-3", None)])
def test_retry_after_in_seconds_and_unreadable_values(header, expected):
    retry = RetryPolicy(max_wait_seconds=60).retry()
    response = Response("", status=429, headers={"Retry-After": header})
    assert retry.get_retry_after(response) == expected


def test_retry_after_as_an_http_date_is_capped():
    in_30s = email.utils.format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30), usegmt=True)
    response = Response("", status=503, headers={"Retry-After": in_30s})
    assert 25 <= RetryPolicy(max_wait_seconds=60).retry().get_retry_after(response) <= 30
    assert RetryPolicy(max_wait_seconds=2).retry().get_retry_after(response) == 2


def test_follows_next_page_until_has_more_is_false(httpserver):
    pages = {
        None: {"data": [1], "has_more": True, "next_page": "p2"},
        "p2": {"data": [2], "has_more": True, "next_page": "p3"},
        "p3": {"data": [3], "has_more": False, "next_page": None},
    }

    def handler(request):
        return Response(json.dumps(pages[request.args.get("page")]), content_type="application/json")

    httpserver.expect_request("/v1/things").respond_with_handler(handler)
    api = make_api(httpserver)
    got = [(n, body["data"][0]) for n, body, _ in api.iter_pages("/things", [("group_by[]", "a"), ("group_by[]", "b")], "test")]
    assert got == [(1, 1), (2, 2), (3, 3)]
    first = httpserver.log[0][0]
    assert first.args.getlist("group_by[]") == ["a", "b"]


def test_429_then_success_waits_for_retry_after(httpserver):
    httpserver.expect_ordered_request("/v1/x").respond_with_data("slow down", status=429, headers={"Retry-After": "1"})
    httpserver.expect_ordered_request("/v1/x").respond_with_json({"ok": 1, "has_more": False})
    api = make_api(httpserver)
    began = time.monotonic()
    body, text = api.get_json("/x", [], "x")
    waited = time.monotonic() - began
    assert body == {"ok": 1, "has_more": False}
    assert json.loads(text) == body
    assert len(httpserver.log) == 2
    assert 1.0 <= waited < 4.0, "the retry came after the server's Retry-After, and no later than needed"


def test_an_unreadable_retry_after_falls_back_to_the_backoff(httpserver):
    httpserver.expect_ordered_request("/v1/x").respond_with_data("slow down", status=429, headers={"Retry-After": "soon"})
    httpserver.expect_ordered_request("/v1/x").respond_with_json({"ok": 1})
    body, _ = make_api(httpserver).get_json("/x", [], "x")
    assert body == {"ok": 1} and len(httpserver.log) == 2


def test_persistent_500_gives_up_naming_the_request(httpserver):
    httpserver.expect_request("/v1/x").respond_with_data("boom", status=500)
    api = make_api(httpserver, max_attempts=3)
    with pytest.raises(ProviderApiError, match=r"GET costs window 2026-09-01\.\.2026-09-08, page 3: gave up after 3 attempt\(s\).*HTTP 500"):
        api.get_json("/x", [], "GET costs window 2026-09-01..2026-09-08, page 3")
    assert len(httpserver.log) == 3


def test_a_long_retry_after_is_capped_and_the_retries_stop(httpserver):
    httpserver.expect_request("/v1/x").respond_with_data("busy", status=503, headers={"Retry-After": "3600"})
    api = make_api(httpserver, max_attempts=3, max_wait_seconds=0.2)
    began = time.monotonic()
    with pytest.raises(ProviderApiError, match=r"gave up after 3 attempt\(s\); last error: HTTP 503"):
        api.get_json("/x", [], "x")
    assert len(httpserver.log) == 3
    assert 0.4 <= time.monotonic() - began < 3.0, "two waits, each cut from an hour to max_wait_seconds"


def test_the_backoff_doubles_up_to_its_cap(httpserver):
    httpserver.expect_request("/v1/x").respond_with_data("boom", status=502)
    # 4 attempts, 3 retries: the first at once, then 0.1 * 2 = 0.2 s, then 0.1 * 4 capped to 0.3 s
    api = make_api(httpserver, max_attempts=4, backoff_seconds=0.1, max_wait_seconds=0.3)
    began = time.monotonic()
    with pytest.raises(ProviderApiError, match="gave up after 4 attempt"):
        api.get_json("/x", [], "x")
    assert 0.5 <= time.monotonic() - began < 3.0


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failure_names_the_variable_never_the_key(httpserver, status):
    httpserver.expect_request("/v1/x").respond_with_data("no", status=status)
    api = make_api(httpserver)
    with pytest.raises(ProviderAuthError) as info:
        api.get_json("/x", [], "x")
    assert "OPENAI_ADMIN_KEY" in str(info.value)
    assert SECRET not in str(info.value)
    assert len(httpserver.log) == 1, "a refused key is not retried"


def test_a_client_error_is_not_retried(httpserver):
    httpserver.expect_request("/v1/x").respond_with_data("bad group_by", status=400)
    with pytest.raises(ProviderApiError, match="x: HTTP 400: bad group_by"):
        make_api(httpserver).get_json("/x", [], "x")
    assert len(httpserver.log) == 1


def test_malformed_json_is_a_clear_error(httpserver):
    httpserver.expect_request("/v1/x").respond_with_data('{"data": [', content_type="application/json")
    api = make_api(httpserver)
    with pytest.raises(ProviderApiError, match="x: the response is not valid JSON"):
        api.get_json("/x", [], "x")


def test_connection_errors_are_retried_then_reported(caplog):
    api = PagedApi("http://127.0.0.1:9/v1", {"Authorization": f"Bearer {SECRET}"}, "OPENAI_ADMIN_KEY",
                   RetryPolicy(max_attempts=2, backoff_seconds=0.0, timeout_seconds=2))
    with caplog.at_level(logging.DEBUG), pytest.raises(ProviderApiError) as info:
        api.get_json("/x", [], "x")
    assert "x: gave up after 2 attempt(s); last error: connection error (NewConnectionError)" == str(info.value)
    assert "Retrying" in caplog.text, "urllib3 retried the connection"
    assert SECRET not in caplog.text


def test_a_read_timeout_is_retried(httpserver):
    calls = []

    def slow_then_fast(request):
        calls.append(time.monotonic())
        if len(calls) == 1:
            time.sleep(0.8)  # longer than the 0.5 s timeout: the client gives up on this attempt
        return Response(json.dumps({"ok": len(calls)}), content_type="application/json")

    httpserver.expect_request("/v1/x").respond_with_handler(slow_then_fast)
    body, _ = make_api(httpserver, timeout_seconds=0.5).get_json("/x", [], "x")
    assert body == {"ok": 2} and len(calls) == 2


def test_read_timeouts_that_persist_are_reported(httpserver):
    def slow(request):
        time.sleep(0.3)
        return Response("{}", content_type="application/json")

    httpserver.expect_request("/v1/x").respond_with_handler(slow)
    with pytest.raises(ProviderApiError, match=r"x: gave up after 2 attempt\(s\); last error: connection error \(ReadTimeoutError\)"):
        make_api(httpserver, max_attempts=2, timeout_seconds=0.1).get_json("/x", [], "x")


def test_a_url_registered_as_secret_never_reaches_urllib3_logs(caplog):
    url = "http://127.0.0.1:9/hooks/T000/B000/s3cr3t-path?token=s3cr3t-query"
    hide_from_logs("http://127.0.0.1:9/hooks")  # a shorter secret that the longer one starts with
    hide_from_logs(url)
    session = retrying_session(RetryPolicy(max_attempts=3, backoff_seconds=0.0, retry_post=True, timeout_seconds=2))
    with caplog.at_level(logging.DEBUG), pytest.raises(Exception):  # noqa: B017, PT011 - connection refused
        session.post(url, json={}, timeout=2)
    assert "Retrying" in caplog.text and "127.0.0.1" in caplog.text
    assert "s3cr3t" not in caplog.text


def test_has_more_without_cursor_is_an_error(httpserver):
    httpserver.expect_request("/v1/x").respond_with_json({"data": [], "has_more": True, "next_page": None})
    api = make_api(httpserver)
    with pytest.raises(ProviderApiError, match="has_more is true but next_page is empty"):
        list(api.iter_pages("/x", [], "x"))
