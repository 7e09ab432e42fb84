"""Delivering alerts: the run log, the webhook POST (payload, retries, failure -> next tick), the sensor,
and that the webhook URL (which may hold a token) never reaches a log or an error."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from dataclasses import replace

import dagster as dg
import pytest
import requests

from dagster_project.defs.alerts.notify import (
    WEBHOOK_POLICY,
    WebhookError,
    idempotency_key,
    notify_pending,
    pending_alerts,
    post_json,
    url_host,
)
from dagster_project.defs.alerts.sensor import alerts_sensor
from dagster_project.defs.alerts.state import current_breaches, sync_alerts
from tests.alerts.conftest import AS_OF, anomaly_row, budget_row

NOW = dt.datetime(2026, 10, 31, 3, 0, tzinfo=dt.UTC)
# the webhook's policy without the waits: retries at once, Retry-After cut to 0.2 s
FAST = replace(WEBHOOK_POLICY, backoff_seconds=0.0, max_wait_seconds=0.2, timeout_seconds=2.0)
SECRET = "T000/B000/s3cr3t-t0ken"


class Log:
    """Stands in for context.log: keeps every message."""

    def __init__(self):
        self.messages: list[str] = []

    def _keep(self, msg, *args, **kwargs):
        self.messages.append(str(msg))

    info = warning = error = debug = _keep


def fast_post(url, payload):
    post_json(url, payload, policy=FAST)


@pytest.fixture
def two_alerts(marts):
    """A breached soft budget and a spend anomaly, opened and not yet sent."""
    marts.set_budgets([budget_row("code-review", "860.46", "850")])
    marts.set_anomalies([anomaly_row("search-answers", AS_OF, cost="40.00")])
    with marts.connect() as con:
        sync_alerts(con, current_breaches(con, 7), NOW)
    return marts


def notified(marts) -> dict[str, object]:
    with marts.connect() as con:
        return dict(con.execute("select scope, notified_at from ops.alerts").fetchall())


def test_without_a_webhook_alerts_go_to_the_log_once(two_alerts):
    log = Log()
    first = notify_pending(two_alerts.path, log, None, NOW)
    second = notify_pending(two_alerts.path, log, None, NOW)
    assert first.delivered and len(first.alerts) == 2 and not second.alerts
    assert len(log.messages) == 2
    assert any("soft budget breached: workflow code-review 2026-10 spent $860.46 of $850.00" in m for m in log.messages)
    assert any("spend anomaly: feature search-answers spent $40.00 on 2026-10-30" in m for m in log.messages)
    assert set(notified(two_alerts).values()) == {NOW.replace(tzinfo=None)}


def test_webhook_receives_the_alerts_as_json(two_alerts, httpserver):
    httpserver.expect_oneshot_request("/hook", method="POST").respond_with_data("ok")
    result = notify_pending(two_alerts.path, Log(), httpserver.url_for("/hook"), NOW, post=fast_post)
    httpserver.check_assertions()
    (request, _), = httpserver.log
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.get_data())
    assert body["source"] == "tokenspend" and body["text"].startswith("tokenspend: 2 new alert(s)")
    by_kind = {a["kind"]: a for a in body["alerts"]}
    assert set(by_kind) == {"budget_soft", "spend_anomaly"}
    budget = by_kind["budget_soft"]
    assert (budget["scope_type"], budget["scope"], budget["period_start"], budget["severity"], budget["status"]) == (
        "workflow", "code-review", "2026-10-01", "critical", "open")
    assert budget["details"]["spend_to_date_usd"] == "860.46" and budget["details"]["monthly_budget_usd"] == "850.00"
    assert budget["details"]["action"] == "alert" and len(budget["alert_id"]) == 32
    assert by_kind["spend_anomaly"]["period_start"] == AS_OF.isoformat()
    assert result.delivered and all(notified(two_alerts).values())


def test_a_failed_post_leaves_alerts_pending_and_the_next_tick_sends_them(two_alerts, httpserver):
    url = httpserver.url_for(f"/services/{SECRET}")
    httpserver.expect_request(f"/services/{SECRET}").respond_with_data("down", status=503)
    log = Log()
    failed = notify_pending(two_alerts.path, log, url, NOW, post=fast_post)
    assert not failed.delivered and failed.error
    assert len(httpserver.log) == FAST.max_attempts, "retried within the tick"
    assert not any(notified(two_alerts).values())
    with two_alerts.connect() as con:
        attempts = con.execute("select distinct notify_attempts from ops.alerts").fetchall()
        assert attempts == [(1,)] and len(pending_alerts(con)) == 2

    httpserver.clear()
    httpserver.expect_request(f"/services/{SECRET}").respond_with_data("ok")
    retried = notify_pending(two_alerts.path, log, url, NOW, post=fast_post)
    assert retried.delivered and len(retried.alerts) == 2
    assert len(httpserver.log) == 1
    assert all(notified(two_alerts).values())
    text = "\n".join(log.messages) + failed.error
    assert SECRET not in text and "s3cr3t" not in text
    assert url_host(url) in failed.error and "HTTP 503" in failed.error


def test_429_then_success_is_delivered_in_one_tick(two_alerts, httpserver):
    httpserver.expect_ordered_request("/hook").respond_with_data("slow down", status=429, headers={"Retry-After": "0"})
    httpserver.expect_ordered_request("/hook").respond_with_data("ok")
    result = notify_pending(two_alerts.path, Log(), httpserver.url_for("/hook"), NOW, post=fast_post)
    assert result.delivered and len(httpserver.log) == 2


def test_the_webhook_waits_for_retry_after(httpserver):
    httpserver.expect_ordered_request("/hook").respond_with_data("slow down", status=429, headers={"Retry-After": "1"})
    httpserver.expect_ordered_request("/hook").respond_with_data("ok")
    began = time.monotonic()
    post_json(httpserver.url_for("/hook"), {"alerts": []}, policy=replace(FAST, max_wait_seconds=5.0))
    assert len(httpserver.log) == 2 and 1.0 <= time.monotonic() - began < 4.0


def test_retries_and_the_next_tick_send_the_same_idempotency_key(two_alerts, httpserver):
    httpserver.expect_ordered_request("/hook").respond_with_data("down", status=502)
    httpserver.expect_ordered_request("/hook").respond_with_data("down", status=502)
    httpserver.expect_ordered_request("/hook").respond_with_data("down", status=502)
    httpserver.expect_ordered_request("/hook").respond_with_data("ok")
    failed = notify_pending(two_alerts.path, Log(), httpserver.url_for("/hook"), NOW, post=fast_post)
    sent = notify_pending(two_alerts.path, Log(), httpserver.url_for("/hook"), NOW, post=fast_post)
    assert not failed.delivered and sent.delivered
    keys = {request.headers["Idempotency-Key"] for request, _ in httpserver.log}
    assert len(httpserver.log) == 4 and len(keys) == 1
    ids = [a["alert_id"] for a in json.loads(httpserver.log[-1][0].get_data())["alerts"]]
    assert keys == {idempotency_key({"alerts": [{"alert_id": i} for i in reversed(ids)]})}


def test_the_webhook_policy_retries_post_and_fits_in_a_sensor_tick():
    retry = WEBHOOK_POLICY.retry()
    assert "POST" in retry.allowed_methods and retry.respect_retry_after_header
    assert {429, 500, 503} <= set(retry.status_forcelist)
    assert WEBHOOK_POLICY.worst_case_seconds() < 60, "Dagster stops a sensor evaluation after 60 s"


def test_a_client_error_is_not_retried_within_the_tick(httpserver):
    httpserver.expect_request("/hook").respond_with_data("gone", status=404)
    with pytest.raises(WebhookError, match="HTTP 404"):
        fast_post(httpserver.url_for("/hook"), {"alerts": []})
    assert len(httpserver.log) == 1


def test_an_unreachable_webhook_names_only_its_host(caplog):
    url = f"http://127.0.0.1:9/hooks/{SECRET}?token=abc"  # port 9 (discard): connection refused
    with caplog.at_level(logging.DEBUG), pytest.raises(WebhookError) as info:
        fast_post(url, {"alerts": []})
    assert "127.0.0.1:9" in str(info.value) and SECRET not in str(info.value) and "token" not in str(info.value)
    assert "gave up after 3 attempt(s)" in str(info.value)
    # urllib3 logs each retry; the path and query (the token) are hidden, the host is not
    assert "Retrying" in caplog.text and "127.0.0.1" in caplog.text
    assert "s3cr3t" not in caplog.text and "token=abc" not in caplog.text


def test_post_has_a_timeout(monkeypatch):
    seen = {}

    class Session:
        def post(self, url, json, headers, timeout):
            seen["timeout"] = timeout
            raise requests.Timeout(f"read timed out for {url}")

    with pytest.raises(WebhookError, match="Timeout") as info:
        post_json("https://hooks.example/x", {}, policy=FAST, session=Session())
    assert seen["timeout"] == FAST.timeout_seconds
    assert "hooks.example" in str(info.value) and "/x" not in str(info.value)


def test_sensor_sends_new_alerts_then_skips(two_alerts, httpserver, monkeypatch):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    monkeypatch.setenv("TOKENSPEND_ALERT_WEBHOOK_URL", httpserver.url_for("/hook"))
    with dg.instance_for_test() as instance:
        first = alerts_sensor(dg.build_sensor_context(instance=instance))
        second = alerts_sensor(dg.build_sensor_context(instance=instance))
    assert isinstance(first, dg.SkipReason) and "sent 2 new alert(s)" in first.skip_message
    assert f"webhook at {url_host(httpserver.url_for('/hook'))}" in first.skip_message
    assert second.skip_message == "no new alerts"
    assert len(httpserver.log) == 1
    assert len(json.loads(httpserver.log[0][0].get_data())["alerts"]) == 2


def test_sensor_tick_fails_on_webhook_failure_and_the_next_tick_retries(two_alerts, httpserver, monkeypatch):
    import dagster_project.defs.alerts.notify as notify

    monkeypatch.setattr(notify, "WEBHOOK_POLICY", FAST)
    monkeypatch.setenv("TOKENSPEND_ALERT_WEBHOOK_URL", httpserver.url_for(f"/services/{SECRET}"))
    httpserver.expect_request(f"/services/{SECRET}").respond_with_data("down", status=500)
    with dg.instance_for_test() as instance:
        with pytest.raises(WebhookError) as info:
            alerts_sensor(dg.build_sensor_context(instance=instance))
        assert SECRET not in str(info.value)
        httpserver.clear()
        httpserver.expect_request(f"/services/{SECRET}").respond_with_data("ok")
        retried = alerts_sensor(dg.build_sensor_context(instance=instance))
    assert "sent 2 new alert(s)" in retried.skip_message


def test_sensor_without_a_warehouse_skips(tmp_path, monkeypatch):
    monkeypatch.setenv("TOKENSPEND_DUCKDB_PATH", str(tmp_path / "none" / "tokenspend.duckdb"))
    result = alerts_sensor(dg.build_sensor_context())
    assert "no warehouse" in result.skip_message


def test_sensor_without_a_webhook_logs_only(two_alerts):
    result = alerts_sensor(dg.build_sensor_context())
    assert result.skip_message == "sent 2 new alert(s) to the log"
