"""What `make run` prints: one line per step with its counts, the full logs in a file, and a summary that ends
with the untagged share explained, the open alerts and every check that failed.

The progress and summary are read from the session's demo build (its recorded runs replayed through the
same listener `cli run` attaches); one test runs `cli run --demo` for real in a subprocess, the way
`make run` does, and reads what reached the terminal and what went to the log.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from decimal import Decimal

import dagster as dg
import pytest

from dagster_project import cli
from dagster_project.defs.quality.gx_check import describe_failure
from dagster_project.settings import REPO_ROOT

STEP_LINE = re.compile(r"^\s+\d+\.\ds  (.*)$")


def replayed(instance: dg.DagsterInstance) -> tuple[cli.RunProgress, list[str]]:
    out = io.StringIO()
    progress = cli.RunProgress(out, heartbeat=None)
    for run in reversed(instance.get_runs()):  # oldest first, as `cli run` started them
        progress.replay(instance, run.run_id)
    return progress, out.getvalue().splitlines()


def step_events(instance: dg.DagsterInstance, kind: dg.DagsterEventType) -> list:
    return [e for run in instance.get_runs() for e in instance.all_logs(run.run_id, of_type=kind)]


def test_one_line_per_step_with_the_counts_of_its_metadata(built_warehouse, warehouse):
    instance = built_warehouse["instance"]
    _, lines = replayed(instance)
    steps = [STEP_LINE.match(line).group(1) for line in lines if STEP_LINE.match(line)]
    assert len(steps) == len(step_events(instance, dg.DagsterEventType.STEP_SUCCESS)) == len(lines)

    loaded = warehouse.execute("select count(*) from raw.request_events").fetchone()[0]
    assert any(s.startswith("raw/request_events:") and f"rows_loaded {loaded:,}" in s for s in steps), steps

    from dagster_project.demo.generator import DEMO_END, DEMO_START

    partitions = (DEMO_END - DEMO_START).days
    usage = warehouse.execute("select count(*) from raw.openai_usage_completions").fetchone()[0]
    assert f"raw/openai_usage_completions: {partitions} partitions, pages" in "\n".join(steps)
    assert any(s.startswith("raw/openai_usage_completions:") and s.endswith(f"rows {usage:,}") for s in steps)

    dbt_materialized = [e for e in step_events(instance, dg.DagsterEventType.ASSET_MATERIALIZATION)
                        if e.dagster_event.step_key == "tokenspend_dbt_models"]
    dbt_checks = [e for e in step_events(instance, dg.DagsterEventType.ASSET_CHECK_EVALUATION)
                  if e.dagster_event.step_key == "tokenspend_dbt_models"]
    dbt = next(s for s in steps if s.startswith("tokenspend_dbt_models:"))
    assert dbt.startswith(f"tokenspend_dbt_models: {len(dbt_materialized)} assets (")
    assert f"; {len(dbt_checks)} checks: " in dbt


def test_the_checks_that_failed_are_listed_one_line_each_with_their_figure(built_warehouse, warehouse):
    progress, _ = replayed(built_warehouse["instance"])
    failed = {e.check_name: e for e in progress.evaluations if not e.passed}
    # the demo organisation's known findings, all warnings
    assert {"no_unpriced_spend", "reconciliation_variance_within_tolerance", "soft_budgets_within_forecast",
            "mart_untagged_share", "untagged_spend_share"} <= set(failed)
    lines = cli.check_lines(progress.evaluations)
    distinct = {(e.asset_key, e.check_name) for e in progress.evaluations}
    assert lines[0].startswith(f"Checks that failed: {len(failed)} of {len(distinct)} (")
    assert len(lines) == 1 + len(failed)
    for name, evaluation in failed.items():
        line = next(x for x in lines[1:] if f" {name} on {evaluation.asset_key.to_user_string()}: " in x)
        assert line.startswith(f"  {evaluation.severity.value}")
        assert line.endswith(" ".join(evaluation.description.split()))

    # the GX check's description carries its figure: the rule and how many day x provider rows break it
    threshold = cli.current_settings().untagged_share_warn
    breaking, rows = warehouse.execute(
        "select count(*) filter (where untagged_share > ?), count(*) from marts.mart_untagged_share", [threshold]
    ).fetchone()
    assert failed["mart_untagged_share"].description.startswith(
        f"untagged_share <= {threshold:g} broken by {breaking:,} of {rows:,} rows, first: ")


def _money(value) -> str:
    return f"${Decimal(value):,.2f}"


def test_the_summary_explains_the_untagged_share_and_lists_the_open_alerts(built_warehouse, warehouse):
    lines = cli.summary(built_warehouse["db"]).splitlines()
    total, untagged, owned = warehouse.execute("""
        select sum(cost_usd), sum(cost_usd) filter (where attribution_method = 'untagged'),
               sum(cost_usd) filter (where feature is null and attribution_method <> 'untagged')
        from marts.fct_token_spend""").fetchone()
    assert untagged > 0 and owned > 0, "the demo has both kinds of spend without a feature"
    share = f"{untagged / total:.1%}"
    assert f"Untagged spend: {_money(untagged)} ({share} of billed spend): no tag and no owner" in "\n".join(lines)
    assert (f"Spend without a feature: {_money(untagged + owned)} ({(untagged + owned) / total:.1%}) = the untagged "
            f"{_money(untagged)} + {_money(owned)} ({owned / total:.1%}) a team owns") in "\n".join(lines)

    open_alerts = warehouse.execute(
        "select kind, scope_type, scope, severity from ops.alerts where status = 'open'").fetchall()
    assert open_alerts, "the demo opens alerts"
    start = lines.index(f"Open alerts ({len(open_alerts)}, ops.alerts):")
    shown = lines[start + 1:start + 1 + len(open_alerts)]
    for kind, scope_type, scope, severity in open_alerts:
        assert any(line.split()[0] == severity and f" {scope_type} {scope} " in line for line in shown), (kind, shown)
    hard_cap = next(line for line in shown if cli.ALERT_KINDS["budget_hard_cap"] in line)
    assert hard_cap.endswith("cap to enforce")


def test_a_section_is_one_function_in_the_list(built_warehouse):
    def month_change(con):
        return ["Month change: (a section added later)"]

    sections = [*cli.SUMMARY_SECTIONS[:2], month_change, *cli.SUMMARY_SECTIONS[2:]]
    lines = cli.summary(built_warehouse["db"], sections=sections).splitlines()
    assert lines[lines.index("Month change: (a section added later)") - 1].startswith("Top teams: ")


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        ({"expectation": "expect_column_values_to_be_between", "column": "share", "kwargs": {"max_value": 0.05},
          "unexpected_count": 3, "element_count": 1200,
          "partial_unexpected_index_list": [{"day": "2026-09-01", "share": 0.123456, "note": "x" * 60}]},
         "share <= 0.05 broken by 3 of 1,200 rows, first: day 2026-09-01, share 0.1235"),
        ({"expectation": "expect_column_values_to_be_between", "column": "n", "kwargs": {"min_value": 0, "max_value": 0},
          "unexpected_count": 1, "element_count": 9, "partial_unexpected_list": [138]},
         "n = 0 broken by 1 of 9 rows, first value 138"),
        ({"expectation": "expect_column_values_to_not_be_null", "column": "id", "kwargs": {},
          "unexpected_count": 2, "element_count": 5, "partial_unexpected_index_list": [{"line": 7}]},
         "id not null broken by 2 of 5 rows, first: line 7"),
        ({"expectation": "expect_table_columns_to_match_set", "kwargs": {"column_set": ["a"]},
          "observed_value": ["a", "b"]},
         'table columns to match set (observed ["a", "b"])'),
        ({"expectation": "expect_column_values_to_be_in_set", "column": "p", "kwargs": {"value_set": ["a", "b"]},
          "exception": "no such column"},
         "p in {a, b}: could not be evaluated (no such column)"),
    ],
)
def test_a_failed_expectation_in_one_line(failure, expected):
    assert describe_failure(failure) == expected


def test_a_narrowed_frame_counts_the_rows_it_stands_for():
    """A raw load's frame holds only the rows breaking a rule; the description counts the whole load."""
    failure = {"expectation": "expect_column_values_to_not_be_null", "column": "model", "kwargs": {},
               "unexpected_count": 2, "element_count": 2, "partial_unexpected_index_list": [{"line": 7}]}
    assert describe_failure(failure, rows=150_000) == "model not null broken by 2 of 150,000 rows, first: line 7"


def _fake_run(start=None, end=None, instance=None, progress=None):
    """Prints as Dagster and dbt do (Python, a child process, a warning), and reports one step."""
    print("12 of 343 START sql table model marts.fct_token_spend ... [RUN]", flush=True)
    subprocess.run([sys.executable, "-c", "print('a line dbt printed')"], check=True)
    print("UserWarning: a library's warning", file=sys.stderr, flush=True)
    progress.section("files, dbt models, checks and the published copy: 1 asset(s)")
    return [dg.DagsterRunStatus.SUCCESS]


@pytest.fixture
def fake_run(monkeypatch, tmp_path):
    monkeypatch.setattr(cli, "materialize_all", _fake_run)
    monkeypatch.setenv("TOKENSPEND_DUCKDB_PATH", str(tmp_path / "warehouse" / "tokenspend.duckdb"))
    return tmp_path / "warehouse" / "logs"


def test_quiet_mode_sends_every_output_to_the_log_file(fake_run, capfd):
    status, _ = cli.run_command(None, None, cli.current_settings(), verbose=False)
    assert status == 0
    out, err = capfd.readouterr()
    assert "START sql" not in out + err and "a line dbt printed" not in out + err and "warning" not in out + err
    assert "==> files, dbt models, checks and the published copy: 1 asset(s)" in out
    (log,) = fake_run.glob("run-*.log")
    assert f"==> full log: {log} " in out
    text = log.read_text()
    assert "START sql table model" in text and "a line dbt printed" in text and "a library's warning" in text
    assert "==> files, dbt models" in text  # the progress lines are in the log too


def test_verbose_mode_prints_everything_and_writes_no_log(fake_run, capfd):
    status, _ = cli.run_command(None, None, cli.current_settings(), verbose=True)
    assert status == 0
    out, err = capfd.readouterr()
    assert "START sql table model" in out and "a line dbt printed" in out and "a library's warning" in err
    assert not fake_run.exists()


def test_a_failure_is_printed_in_full_with_the_log(monkeypatch, tmp_path, capfd):
    def failing(start=None, end=None, instance=None, progress=None):
        print("the log before the failure", flush=True)
        raise RuntimeError("dbt build failed: model marts.fct_token_spend: Binder Error: column x")

    monkeypatch.setattr(cli, "materialize_all", failing)
    monkeypatch.setenv("TOKENSPEND_DUCKDB_PATH", str(tmp_path / "tokenspend.duckdb"))
    status, _ = cli.run_command(None, None, cli.current_settings(), verbose=False)
    assert status == 1
    out, err = capfd.readouterr()
    (log,) = (tmp_path / "logs").glob("run-*.log")
    assert f"tokenspend: the run failed; the full log is {log}" in err
    assert "Traceback (most recent call last)" in err
    assert "RuntimeError: dbt build failed: model marts.fct_token_spend: Binder Error: column x" in err
    assert "the log before the failure" not in out and "the log before the failure" in log.read_text()


@pytest.mark.slow
def test_make_runs_output_on_the_demo(tmp_path):
    """`cli run --demo` as `make run` starts it, on a fresh demo deployment and Dagster home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKENSPEND_", "DAGSTER_"))}
    env.update(TOKENSPEND_DEMO_DIR=str(tmp_path / "demo"), DAGSTER_HOME=str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    result = subprocess.run([sys.executable, "-m", "dagster_project.cli", "run", "--demo"], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=1800, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stderr == ""
    out = result.stdout
    progress, _, summary = out.partition("\nWarehouse: ")
    lines = progress.splitlines()
    # nothing of the logs: no dbt node, no Dagster log line, no telemetry banner, no warning
    for noise in ("START sql", "dagster - INFO", "Telemetry", "Welcome to Dagster", "Warning:"):
        assert noise not in out, noise
    assert not re.search(r"^\d+ of \d+ (START|OK|PASS)", out, re.M)
    # one line per step, three runs, the log's path, the heartbeats of a long step
    instance = dg.DagsterInstance.from_config(str(tmp_path / "dagster_home"))
    succeeded = step_events(instance, dg.DagsterEventType.STEP_SUCCESS)
    assert len([line for line in lines if STEP_LINE.match(line)]) == len(succeeded)
    heartbeats = [line for line in lines if line.startswith("   ... ")]
    assert len(lines) == 2 + 3 + len(succeeded) + len(heartbeats) + 1
    assert lines[-1].startswith("==> built in ")
    log = re.search(r"==> full log: (\S+) ", out).group(1)
    text = open(log, encoding="utf-8").read()
    assert "Telemetry" in text and "START sql" in text and "dagster - INFO" in text
    # the summary ends with the untagged share explained, the open alerts and the failed checks
    tail = summary.splitlines()
    assert any(line.startswith("Untagged spend: ") for line in tail)
    assert any(line.startswith("Spend without a feature: ") for line in tail)
    assert any(line.startswith("Open alerts (") for line in tail)
    checks = next(i for i, line in enumerate(tail) if line.startswith("Checks that failed: "))
    assert all(line.startswith(("  WARN ", "  ERROR ")) for line in tail[checks + 1:])
    assert len(tail) - checks - 1 == int(re.search(r"failed: (\d+) of", tail[checks]).group(1))


def test_the_bench_echoes_a_steps_progress_as_it_comes(tmp_path):
    from dagster_project.benchmark import measure

    lines = measure._NewLines(tmp_path / "step.progress")
    assert lines() == []
    (tmp_path / "step.progress").write_text("one\ntw")
    assert lines() == ["one"]
    with (tmp_path / "step.progress").open("a") as f:
        f.write("o\nthree\n")
    assert lines() == ["two", "three"]

    events = tmp_path / "landing" / "events"
    events.mkdir(parents=True)
    (events / "day.jsonl").write_text('{"request_id": "a"}\n{"request_id": "b"}\n')
    echoed: list[str] = []
    m = measure.run_step("reader alone", "reader", {"landing": str(tmp_path / "landing"), "format": "jsonl",
                                                    "db": str(tmp_path / "reader.duckdb")},
                         dict(os.environ), tmp_path / "logs", echo=echoed.append, heartbeat=0.0)
    assert m.result["rows"] == 2
    assert echoed and all(re.fullmatch(r"\.\.\. reader alone: running for \d+ s", line) for line in echoed)


def _entry(kind: str, step: str, timestamp: float):
    """An event log entry of a step event, as the listener receives it."""
    from types import SimpleNamespace

    return SimpleNamespace(timestamp=timestamp, dagster_event=SimpleNamespace(
        event_type_value=kind, step_key=step, event_specific_data=None))


def test_a_long_step_says_it_is_still_running_counted_from_its_start():
    import time

    out = io.StringIO()
    with cli.RunProgress(out, heartbeat=2.0) as progress:
        progress._last_line -= 100  # the last line is long past: the step's start counts, not that line
        progress(_entry("STEP_START", "tokenspend_dbt_models", time.time()))
        time.sleep(1.2)
        assert out.getvalue() == ""
        deadline = time.time() + 8
        while "running for" not in out.getvalue() and time.time() < deadline:
            time.sleep(0.2)
        progress(_entry("STEP_SUCCESS", "tokenspend_dbt_models", time.time()))
    lines = out.getvalue().splitlines()
    assert re.fullmatch(r"   \.\.\. tokenspend_dbt_models: running for [2-9] s, 0 materialisation\(s\) and 0 "
                        r"check\(s\) so far", lines[0]), lines
    assert STEP_LINE.match(lines[-1]) and lines[-1].endswith("tokenspend_dbt_models: done")


def test_the_summary_explains_the_months_change_and_names_the_top_segments(built_warehouse, warehouse):
    lines = cli.summary(built_warehouse["db"]).splitlines()
    change_line = next(line for line in lines if line.startswith("Spend change "))
    period, prior, change = warehouse.execute("""
        select period_start, prior_period_start, sum(change_usd) from marts.mart_spend_change
        where period_grain = 'month' group by 1, 2 order by 1 desc limit 1""").fetchone()
    billed = warehouse.execute("""
        select sum(case when usage_date >= ? then cost_usd else -cost_usd end) from marts.fct_token_spend
        where usage_date >= ?""", [period, prior]).fetchone()[0]
    assert change == billed
    assert change_line.startswith(f"Spend change {str(period)[:7]} vs {str(prior)[:7]}")
    assert f": {'+' if change >= 0 else '-'}{_money(abs(change))} (" in change_line
    # the largest effect summed over every scope comes first, with its sign and amount
    sums = warehouse.execute(f"""
        select {', '.join(f'sum({c})' for c in EFFECT_COLUMNS)} from marts.mart_spend_change
        where period_grain = 'month' and period_start = ?""", [period]).fetchone()
    largest, value = max(zip(cli.EFFECTS.values(), sums, strict=True), key=lambda ev: abs(ev[1]))
    assert f"): {largest} {'+' if value >= 0 else '-'}{_money(abs(value))} (" in change_line

    segment_line = next(line for line in lines if line.startswith("Top customer segments "))
    top = warehouse.execute("""
        select scope, cost_usd from marts.mart_customer_spend
        where scope_type = 'segment' and scope <> '(no customer)'
          and month = (select max(month) from marts.mart_customer_spend)
        order by cost_usd desc, scope limit 1""").fetchone()
    assert segment_line.split(": ", 1)[1].startswith(f"{top[0]} {_money(top[1])} (")


EFFECT_COLUMNS = ["volume_effect_usd", "model_mix_effect_usd", "batch_share_effect_usd", "output_share_effect_usd",
                  "cache_effect_usd", "unit_price_effect_usd", "new_scope_usd", "gone_scope_usd",
                  "other_charges_effect_usd"]
