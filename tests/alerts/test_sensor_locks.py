"""The alert sensor never holds the warehouse file across network I/O, and a delivery it could not
record because a build took the file is recorded later, not lost and not sent again."""

from __future__ import annotations

import contextlib
import datetime as dt
import subprocess
import sys
from dataclasses import replace

import dagster as dg
import pytest
from werkzeug import Response

import dagster_project.defs.alerts.notify as notify
from dagster_project.defs.alerts.notify import Delivery, notify_pending, read_pending
from dagster_project.defs.alerts.sensor import alerts_sensor, read_cursor
from dagster_project.defs.alerts.state import current_breaches, sync_alerts
from tests.alerts.conftest import AS_OF, anomaly_row, budget_row
from tests.duckdb_holder import held

NOW = dt.datetime(2026, 10, 31, 3, 0, tzinfo=dt.UTC)
SENT = dt.datetime(2026, 10, 31, 2, 0)

# another process writing the warehouse file, as a build does
WRITER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("create table if not exists main.build_marker (written_at timestamp)")
con.execute("insert into main.build_marker values (now())")
con.close()
"""


class Log:
    def __init__(self):
        self.messages: list[str] = []

    def _keep(self, msg, *args, **kwargs):
        self.messages.append(str(msg))

    info = warning = error = debug = _keep


@pytest.fixture
def two_alerts(marts, monkeypatch):
    """A breached soft budget and a spend anomaly, opened and not yet sent; one quick webhook attempt."""
    marts.set_budgets([budget_row("code-review", "860.46", "850")])
    marts.set_anomalies([anomaly_row("search-answers", AS_OF, cost="40.00")])
    with marts.connect() as con:
        sync_alerts(con, current_breaches(con, 7), NOW)
    monkeypatch.setattr(notify, "WEBHOOK_POLICY", replace(notify.WEBHOOK_POLICY, max_attempts=1, timeout_seconds=60))
    return marts


def notified(marts) -> dict[str, object]:
    with marts.connect() as con:
        return dict(con.execute("select scope, notified_at from ops.alerts").fetchall())


def test_the_webhook_post_holds_no_connection_to_the_warehouse(two_alerts, httpserver, monkeypatch):
    """While the webhook is answering, another process opens the warehouse read-write and writes."""
    writes = []

    def webhook(request):
        writes.append(subprocess.run([sys.executable, "-c", WRITER, str(two_alerts.path)],
                                     capture_output=True, text=True, timeout=120))
        return Response("ok")

    httpserver.expect_request("/hook", method="POST").respond_with_handler(webhook)
    monkeypatch.setenv("TOKENSPEND_ALERT_WEBHOOK_URL", httpserver.url_for("/hook"))
    with dg.instance_for_test() as instance:
        result = alerts_sensor(dg.build_sensor_context(instance=instance))
    (write,) = writes
    assert write.returncode == 0, write.stderr
    assert result.skip_message.startswith("sent 2 new alert(s) to the log and the webhook")
    assert all(notified(two_alerts).values())
    with two_alerts.connect() as con:
        assert con.execute("select count(*) from build_marker").fetchone()[0] == 1


def test_a_mark_a_build_blocks_is_kept_in_the_cursor_and_recorded_next_tick(two_alerts, httpserver, monkeypatch):
    monkeypatch.setattr(notify, "MARK_LOCK_WAIT_SECONDS", 0.2)
    ids = {a["alert_id"] for a in read_pending(two_alerts.path)}
    build = contextlib.ExitStack()

    def webhook(request):
        build.enter_context(held(two_alerts.path, read_only=False))  # a build takes the file meanwhile
        return Response("ok")

    httpserver.expect_oneshot_request("/hook", method="POST").respond_with_handler(webhook)
    monkeypatch.setenv("TOKENSPEND_ALERT_WEBHOOK_URL", httpserver.url_for("/hook"))
    with build, dg.instance_for_test() as instance:
        tick = dg.build_sensor_context(instance=instance)
        sent = alerts_sensor(tick)
        assert sent.skip_message.startswith("sent 2 new alert(s)")
        assert sent.skip_message.endswith("; 2 sent alert(s) to record as notified next tick")
        cursor = tick.cursor
        assert {d.alert_id for d in read_cursor(cursor)} == ids
        assert "hook" not in cursor and "code-review" not in cursor  # ids, severities and times only

        busy_tick = dg.build_sensor_context(instance=instance, cursor=cursor)
        busy = alerts_sensor(busy_tick)  # the build still holds the file: nothing read, nothing sent
        assert busy.skip_message.startswith("the warehouse is busy") and busy_tick.cursor == cursor

        build.close()  # the build ends
        after = dg.build_sensor_context(instance=instance, cursor=cursor)
        recorded = alerts_sensor(after)
        assert recorded.skip_message == "recorded 2 sent alert(s) as notified; no new alerts"
        assert read_cursor(after.cursor) == []
    assert len(httpserver.log) == 1, "sent once"
    sent_at = {d.sent_at for d in read_cursor(cursor)}
    assert set(notified(two_alerts).values()) == sent_at and None not in sent_at


def test_a_change_a_build_made_after_the_send_is_sent_again_not_marked_away(two_alerts):
    """A delivery applies to the row as it was sent: a re-opened alert is a new message."""
    pending = {a["scope"]: a for a in read_pending(two_alerts.path)}
    budget, anomaly = pending["code-review"], pending["search-answers"]
    carried = [Delivery.of(budget, SENT), Delivery.of(anomaly, SENT)]
    with two_alerts.connect() as con:  # after the send, the anomaly resolved and opened again
        con.execute("update ops.alerts set times_opened = 2 where alert_id = ?", [anomaly["alert_id"]])
    result = notify_pending(two_alerts.path, Log(), None, NOW, unmarked=carried)
    assert result.recorded == 2 and [a["scope"] for a in result.alerts] == ["search-answers"]
    assert notified(two_alerts) == {"code-review": SENT, "search-answers": NOW.replace(tzinfo=None)}


def test_a_tick_while_a_build_holds_the_warehouse_sends_nothing(two_alerts, httpserver, monkeypatch):
    monkeypatch.setenv("TOKENSPEND_ALERT_WEBHOOK_URL", httpserver.url_for("/hook"))
    with held(two_alerts.path, read_only=False), dg.instance_for_test() as instance:
        result = alerts_sensor(dg.build_sensor_context(instance=instance))
    assert result.skip_message == "the warehouse is busy (a run holds it); retrying next tick"
    assert not httpserver.log and not any(notified(two_alerts).values())


def test_the_sensor_reads_only_a_warehouse_of_its_mode_and_the_demo_never_posts(two_alerts, httpserver, monkeypatch):
    from dagster_project.lib.deployment import WrongDeployment
    from tests.conftest import demo_deployment

    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    monkeypatch.setenv("TOKENSPEND_ALERT_WEBHOOK_URL", httpserver.url_for("/hook"))
    with two_alerts.connect() as con:  # a warehouse the demo built
        con.execute("create schema if not exists ops")
        con.execute("create table ops.warehouse_mode (mode varchar, recorded_at timestamp)")
        con.execute("insert into ops.warehouse_mode values ('demo', now())")
    with dg.instance_for_test() as instance:
        with pytest.raises(WrongDeployment, match="was built in demo mode"):
            alerts_sensor(dg.build_sensor_context(instance=instance))
        assert not httpserver.log and not any(notified(two_alerts).values())
        # in demo mode, on the demo's own file: the alerts go to the log, never to the webhook
        demo_deployment(monkeypatch, two_alerts.path.parent)
        monkeypatch.delenv("TOKENSPEND_DUCKDB_PATH")
        result = alerts_sensor(dg.build_sensor_context(instance=instance))
    assert result.skip_message.startswith("sent 2 new alert(s) to the log")
    assert "webhook" not in result.skip_message and not httpserver.log
