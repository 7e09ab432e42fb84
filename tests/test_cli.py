"""`run --start/--end`: how a partial range is completed, and bad ranges refused before anything runs."""

from __future__ import annotations

import datetime as dt

import pytest

from dagster_project import cli
from dagster_project.cli import DateRangeError, resolve_range

D = dt.date
TODAY = D(2026, 11, 29)
FIRST = D(2026, 1, 1)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (D(2026, 6, 1), D(2026, 8, 30), (D(2026, 6, 1), D(2026, 8, 30))),
        (D(2026, 9, 1), D(2026, 9, 2), (D(2026, 9, 1), D(2026, 9, 2))),  # one day
        (D(2026, 9, 1), TODAY, (D(2026, 9, 1), TODAY)),  # through yesterday, the last complete day
        (FIRST, D(2026, 1, 2), (FIRST, D(2026, 1, 2))),  # the first partition
        # --start alone: from then to today (exclusive), so the last day fetched is yesterday
        (D(2026, 9, 1), None, (D(2026, 9, 1), TODAY)),
        (TODAY - dt.timedelta(days=1), None, (TODAY - dt.timedelta(days=1), TODAY)),
        # --end alone: the 30 days before it, from the first partition at the earliest
        (None, D(2026, 10, 31), (D(2026, 10, 1), D(2026, 10, 31))),
        (None, D(2026, 1, 10), (FIRST, D(2026, 1, 10))),
        # neither: the last 30 complete days
        (None, None, (D(2026, 10, 30), TODAY)),
    ],
)
def test_resolve_range(start, end, expected):
    assert resolve_range(start, end, TODAY, FIRST) == expected


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (D(2026, 9, 10), D(2026, 9, 1), "--start 2026-09-10 is not before --end 2026-09-01: the range is empty"),
        (D(2026, 9, 1), D(2026, 9, 1), "--start 2026-09-01 is not before --end 2026-09-01: the range is empty"),
        (TODAY, None, "--start 2026-11-29 is not before today (2026-11-29 UTC)"),
        (D(2026, 12, 5), None, "--start 2026-12-05 is not before today (2026-11-29 UTC)"),
        (D(2026, 11, 1), D(2026, 11, 30), "--end 2026-11-30 is after today (2026-11-29 UTC): the last complete UTC "
                                          "day is 2026-11-28, so the latest --end is 2026-11-29"),
        (None, D(2027, 1, 1), "--end 2027-01-01 is after today"),
        (D(2025, 12, 1), D(2026, 2, 1), "--start 2025-12-01 is before the first daily partition 2026-01-01"),
        (None, FIRST, "--end 2026-01-01 is not after the first daily partition 2026-01-01"),
    ],
)
def test_resolve_range_refuses(start, end, message):
    with pytest.raises(DateRangeError) as info:
        resolve_range(start, end, TODAY, FIRST)
    assert str(info.value).startswith(message)


def test_no_complete_day_since_the_first_partition():
    with pytest.raises(DateRangeError, match="no complete UTC day yet"):
        resolve_range(None, None, TODAY, TODAY)


@pytest.fixture
def nothing_runs(monkeypatch, tmp_path):
    """Records materialize_all calls instead of running anything, and stubs the summary; the run's log
    file goes under tmp_path."""
    calls = []
    monkeypatch.setattr(cli, "materialize_all", lambda start=None, end=None, **kwargs: calls.append((start, end)))
    monkeypatch.setattr(cli, "summary", lambda db_path=None, **kwargs: "(summary)")
    monkeypatch.setenv("TOKENSPEND_DUCKDB_PATH", str(tmp_path / "warehouse" / "tokenspend.duckdb"))
    monkeypatch.setattr(cli, "utc_today", lambda: TODAY)
    monkeypatch.setenv("TOKENSPEND_START_DATE", FIRST.isoformat())
    return calls


def test_a_reversed_range_is_an_argparse_error_and_nothing_runs(nothing_runs, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["run", "--start", "2026-09-10", "--end", "2026-09-01"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "tokenspend run: error: --start 2026-09-10 is not before --end 2026-09-01" in err
    assert nothing_runs == []


def test_a_date_that_is_not_one_is_an_argparse_error(nothing_runs, capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "--start", "2026-13-01"])
    assert "argument --start: not a date (YYYY-MM-DD): '2026-13-01'" in capsys.readouterr().err
    assert nothing_runs == []


def test_start_alone_runs_to_today(nothing_runs, capsys):
    assert cli.main(["run", "--start", "2026-11-01"]) == 0
    assert nothing_runs == [(D(2026, 11, 1), TODAY)]
    assert "(summary)" in capsys.readouterr().out


def test_no_dates_leave_the_window_to_materialize_all(nothing_runs):
    cli.main(["run"])
    assert nothing_runs == [(None, None)]


def test_materialize_all_checks_the_range_before_running(monkeypatch):
    def must_not_load():
        raise AssertionError("definitions were loaded")

    monkeypatch.setattr(cli, "load_definitions", must_not_load)
    monkeypatch.setattr(cli, "verify_deployment", must_not_load)
    with pytest.raises(DateRangeError, match="--start 2026-09-10 is not before --end 2026-09-01"):
        cli.materialize_all(D(2026, 9, 10), D(2026, 9, 1))


def write_marts(path, cost: str) -> None:
    """A file with a one-row marts.fct_token_spend, its mart_untagged_share and an empty ops.alerts: what the
    summary reads."""
    import duckdb

    from dagster_project.defs.alerts.state import ensure_alerts_table

    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute(f"""create table marts.fct_token_spend as select date '2026-10-01' as usage_date,
            'openai' as provider, 'search' as feature, 'triage' as workflow, 'support' as team,
            'request_tag' as attribution_method, cast({cost} as decimal(38, 9)) as cost_usd""")
        con.execute(f"""create table marts.mart_untagged_share as select
            cast({cost} as decimal(38, 9)) as overall_total_cost_usd, cast(0 as decimal(38, 9)) as overall_untagged_cost_usd""")
        ensure_alerts_table(con)


def test_summary_reads_the_published_copy_even_while_a_build_holds_the_warehouse(tmp_path, monkeypatch, capsys):
    from tests.duckdb_holder import held

    working = tmp_path / "warehouse" / "tokenspend.duckdb"
    monkeypatch.setenv("TOKENSPEND_DUCKDB_PATH", str(working))
    monkeypatch.delenv("TOKENSPEND_PUBLISHED_PATH", raising=False)
    write_marts(working, "99")
    write_marts(tmp_path / "warehouse" / "published" / "tokenspend.duckdb", "12.5")
    with held(working, read_only=False):
        assert cli.main(["summary"]) == 0
    out = capsys.readouterr().out
    assert f"Warehouse: {tmp_path / 'warehouse' / 'published' / 'tokenspend.duckdb'} (schema marts" in out
    assert "Total billed spend 2026-10-01 .. 2026-10-01: $12.50" in out
    assert "$12.50" in cli.summary() and "$99.00" in cli.summary(working)


def test_summary_without_a_published_copy_says_how_to_make_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TOKENSPEND_DUCKDB_PATH", str(tmp_path / "tokenspend.duckdb"))
    monkeypatch.delenv("TOKENSPEND_PUBLISHED_PATH", raising=False)
    assert cli.main(["summary"]) == 1
    assert "no published warehouse at" in capsys.readouterr().err


def test_run_is_quiet_with_a_log_file_unless_verbose(nothing_runs, tmp_path, capsys):
    logs = tmp_path / "warehouse" / "logs"
    assert cli.main(["run", "--start", "2026-11-01", "-v"]) == 0
    assert not logs.exists()
    assert cli.main(["run", "--start", "2026-11-01"]) == 0
    (log,) = logs.glob("run-*.log")
    assert f"==> full log: {log} " in capsys.readouterr().out
    assert nothing_runs == [(D(2026, 11, 1), TODAY)] * 2
