"""The warehouse build follows provider ingest: `warehouse_build_after_ingest` requests one build per
successful `provider_ingest` run unless a build is waiting to start, and `warehouse_build_daily` builds
on the clock only where no provider is enabled."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from dagster_project.defs.schedules import (
    provider_ingest_daily,
    warehouse_build_after_ingest,
    warehouse_build_daily,
)

SENSOR = "warehouse_build_after_ingest"


# Stand-ins with the monitored job's name: the sensor matches runs by job name, and the
# real provider_ingest job would fetch from the providers. Their runs are real run records with real
# run events in the instance.
@dg.op
def _ok():
    pass


@dg.op
def _fails():
    raise RuntimeError("provider answered 500")


@dg.job(name="provider_ingest")
def ingest_ok():
    _ok()


@dg.job(name="provider_ingest")
def ingest_fails():
    _fails()


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def ingest(instance, job=ingest_ok) -> dg.ExecuteInProcessResult:
    return job.execute_in_process(instance=instance, raise_on_error=False)


def build_run(instance, status: dg.DagsterRunStatus, job: str = "warehouse_build", tags=None) -> dg.DagsterRun:
    """A run record of `job` in `status`, as the run queue or a launcher leaves it (a queued run names the
    code location it was submitted from)."""
    from dagster._core.remote_origin import (
        RegisteredCodeLocationOrigin,
        RemoteJobOrigin,
        RemoteRepositoryOrigin,
    )

    origin = RemoteJobOrigin(
        repository_origin=RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("tokenspend"), "__repository__"),
        job_name=job,
    )
    return instance.add_run(dg.DagsterRun(job_name=job, status=status, tags=tags or {}, remote_job_origin=origin))


def call_sensor(instance, result: dg.ExecuteInProcessResult):
    """The sensor's function for the run of `result`, as the daemon calls it for that run's success."""
    context = dg.build_run_status_sensor_context(
        sensor_name=SENSOR, dagster_instance=instance, dagster_run=result.dagster_run,
        dagster_event=result.get_run_success_event(),
    )
    return warehouse_build_after_ingest(context)


def tick(instance, cursor: str | None) -> tuple[dg.SensorExecutionData, str | None]:
    """One daemon tick of the whole sensor (run-status cursor and job filtering included)."""
    with dg.build_sensor_context(instance=instance, cursor=cursor) as context:
        data = warehouse_build_after_ingest.evaluate_tick(context)
    return data, data.cursor or cursor


# --- the sensor's function --------------------------------------------------------------------------------

def test_a_successful_ingest_requests_one_build_keyed_by_its_run(instance):
    result = ingest(instance)
    assert result.success
    request = call_sensor(instance, result)
    assert isinstance(request, dg.RunRequest)
    assert request.run_key == result.run_id
    assert request.tags["tokenspend/ingest_run"] == result.run_id
    assert warehouse_build_after_ingest.job_name == "warehouse_build"


@pytest.mark.parametrize("status", [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED,
                                    dg.DagsterRunStatus.STARTING])
def test_a_build_waiting_to_start_takes_the_ingest_instead_of_a_new_build(instance, status):
    waiting = build_run(instance, status)
    reply = call_sensor(instance, ingest(instance))
    assert isinstance(reply, dg.SkipReason)
    assert waiting.run_id in reply.skip_message
    assert "the queued build will include this ingest" in reply.skip_message


@pytest.mark.parametrize("status", [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.SUCCESS,
                                    dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED])
def test_a_build_that_began_or_ended_does_not_hold_back_the_next_one(instance, status):
    """A started build may have read the raw tables before this ingest committed: a new one is needed."""
    build_run(instance, status)
    result = ingest(instance)
    assert isinstance(call_sensor(instance, result), dg.RunRequest)


def test_only_builds_count_as_waiting(instance):
    build_run(instance, dg.DagsterRunStatus.QUEUED, job="provider_ingest")  # another day's ingest
    assert isinstance(call_sensor(instance, ingest(instance)), dg.RunRequest)


# --- the sensor as the daemon ticks it ---------------------------------------------------------------------

def test_ticks_follow_successes_only_and_a_backfill_queues_one_build(instance):
    data, cursor = tick(instance, None)  # the first tick only sets the cursor
    assert not data.run_requests

    failed = ingest(instance, ingest_fails)
    assert not failed.success
    data, cursor = tick(instance, cursor)
    assert not data.run_requests, "a failed ingest starts no build"

    day_one = ingest(instance)
    data, cursor = tick(instance, cursor)
    (request,) = data.run_requests
    assert request.run_key == day_one.run_id
    queued = build_run(instance, dg.DagsterRunStatus.QUEUED, tags=request.tags)  # as the daemon submits it

    # a backfill: more partitions succeed while that build is still queued; one success per tick
    for _ in range(3):
        ingest(instance)
    for _ in range(3):
        data, cursor = tick(instance, cursor)
        assert not data.run_requests
        assert queued.run_id in data.skip_message

    # once the build has started, the next success gets a build of its own
    instance.handle_run_event(queued.run_id, _run_start_event(queued))
    later = ingest(instance)
    data, cursor = tick(instance, cursor)
    (request,) = data.run_requests
    assert request.run_key == later.run_id


def _run_start_event(run: dg.DagsterRun):
    from dagster._core.events import DagsterEvent, DagsterEventType

    return DagsterEvent(DagsterEventType.RUN_START.value, job_name=run.job_name)


# --- the daily build for file-only deployments -------------------------------------------------------------

TICK = dt.datetime(2026, 10, 5, 2, 0, tzinfo=dt.UTC)


def evaluate_daily_build():
    with dg.build_schedule_context(scheduled_execution_time=TICK) as context:
        return warehouse_build_daily.evaluate_tick(context)


@pytest.fixture
def no_provider(monkeypatch):
    for var in ("OPENAI_ADMIN_KEY", "ANTHROPIC_ADMIN_KEY", "TOKENSPEND_PROVIDERS"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_with_no_provider_enabled_the_schedule_builds_once_a_day(no_provider):
    data = evaluate_daily_build()
    (request,) = data.run_requests
    assert request.run_key == "2026-10-05"
    assert warehouse_build_daily.job_name == "warehouse_build"


@pytest.mark.parametrize("env", [{"OPENAI_ADMIN_KEY": "fake-openai-admin-key"},
                                 {"TOKENSPEND_PROVIDERS": "anthropic"},
                                 {"TOKENSPEND_MODE": "demo"}])
def test_with_a_provider_enabled_the_schedule_leaves_the_build_to_the_sensor(no_provider, env):
    for var, value in env.items():
        no_provider.setenv(var, value)
    data = evaluate_daily_build()
    assert not data.run_requests
    assert SENSOR in data.skip_message
    assert "fake-openai-admin-key" not in data.skip_message


def test_the_build_schedule_runs_with_ingest_and_all_three_start_off_like_the_schedules():
    assert warehouse_build_daily.cron_schedule == provider_ingest_daily.cron_schedule == "0 2 * * *"
    assert warehouse_build_daily.execution_timezone == "UTC"
    assert provider_ingest_daily.default_status == dg.DefaultScheduleStatus.STOPPED
    assert warehouse_build_daily.default_status == dg.DefaultScheduleStatus.STOPPED
    assert warehouse_build_after_ingest.default_status == dg.DefaultSensorStatus.STOPPED
