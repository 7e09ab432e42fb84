"""Event and outcome files: every format, rejects with file/line/reason, incremental and atomic loads."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os

import pytest

from dagster_project.defs.events.sources import EVENT_FILES, OUTCOME_FILES
from dagster_project.lib.file_ingest import file_format, load_new_files
from dagster_project.lib.warehouse import connect

GOOD = {
    "request_id": "req-1", "occurred_at": "2026-09-01T08:00:00Z", "provider": "openai", "model": "gpt-4.1-mini",
    "api_key_id": "key_a", "project_id": "proj_a", "uncached_input_tokens": 100, "cache_read_input_tokens": 20,
    "cache_write_input_tokens": 0, "output_tokens": 7, "batch": False, "service_tier": "default",
    "feature": "search-answers", "workflow": None, "task_id": "t-1", "team": "support",
}


def event(**changes) -> dict:
    return {**GOOD, **changes}


def write_jsonl(path, rows, raw_lines=()):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "".join(line + "\n" for line in raw_lines))


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("a.jsonl", "jsonl"), ("a.JSONL.gz", "jsonl"), ("a.ndjson", "jsonl"), ("a.csv", "csv"), ("a.csv.gz", "csv"),
     ("a.parquet", "parquet"), ("a.txt", None), ("a.gz", None)],
)
def test_file_format_from_name(tmp_path, name, fmt):
    assert file_format(tmp_path / name) == fmt


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (event(request_id=None), "missing request_id"),
        (event(request_id="  "), "missing request_id"),
        (event(occurred_at="yesterday"), "occurred_at is not an RFC 3339 timestamp: yesterday"),
        (event(provider="mistral"), "unknown provider: mistral"),
        (event(model=""), "missing model"),
        (event(output_tokens=-5), "output_tokens is negative: -5"),
        (event(cache_read_input_tokens=1.5), "cache_read_input_tokens is not a whole number: 1.5"),
        (event(batch="maybe"), "batch is not a boolean: maybe"),
    ],
)
def test_bad_rows_are_rejected_with_file_line_and_reason(tmp_path, row, reason):
    landing = tmp_path / "landing"
    path = landing / "events" / "day.jsonl"
    write_jsonl(path, [event(request_id="ok-1"), row, event(request_id="ok-2")])
    with connect(tmp_path / "w.duckdb") as con:
        summary = load_new_files(con, EVENT_FILES, landing)
        good = con.execute("select request_id from raw.request_events order by 1").fetchall()
        rejects = con.execute("select source, _source_file, _source_line, reason, raw_record from raw.rejected_rows").fetchall()
    assert (summary.rows_loaded, summary.rows_rejected) == (2, 1)
    assert good == [("ok-1",), ("ok-2",)]
    assert rejects == [("event_files", str(path), 2, reason, json.dumps(row))]


def test_lines_that_are_not_json_are_kept_as_rejects(tmp_path):
    landing = tmp_path / "landing"
    write_jsonl(landing / "events" / "x.jsonl", [event()], raw_lines=["not json", "", "[1, 2]", "null", ' "text"'])
    with connect(tmp_path / "w.duckdb") as con:
        load_new_files(con, EVENT_FILES, landing)
        rejects = con.execute("select _source_line, reason, raw_record from raw.rejected_rows order by 1").fetchall()
    assert rejects == [(2, "not valid JSON", "not json"), (4, "not a JSON object", "[1, 2]"),
                       (5, "not a JSON object", "null"), (6, "not a JSON object", ' "text"')]


def test_every_format_loads_the_same_rows(tmp_path):
    landing = tmp_path / "landing"
    rows = [event(request_id=f"r{i}", output_tokens=i) for i in range(5)]
    write_jsonl(landing / "events" / "a.jsonl", rows)
    with gzip.open(landing / "events" / "b.jsonl.gz", "wt") as f:
        f.write("".join(json.dumps(event(request_id=f"g{i}", output_tokens=i)) + "\n" for i in range(5)))
    with connect(tmp_path / "w.duckdb") as con:
        con.execute(f"copy (select * replace ('c' || request_id as request_id) from read_json('{landing}/events/a.jsonl')) "
                    f"to '{landing}/events/c.csv' (header)")
        con.execute(f"copy (select * replace ('p' || request_id as request_id) from read_json('{landing}/events/a.jsonl')) "
                    f"to '{landing}/events/d.parquet'")
        summary = load_new_files(con, EVENT_FILES, landing)
        got = con.execute(
            "select substr(_source_file, -8), count(*), sum(output_tokens), bool_or(batch), min(occurred_at), "
            "count(distinct feature), max(_source_line) from raw.request_events group by 1 order by 1"
        ).fetchall()
    assert summary.files_loaded == 4 and summary.rows_rejected == 0
    assert [g[1:6] for g in got] == [(5, 10, False, dt.datetime(2026, 9, 1, 8), 1)] * 4
    # line numbers are the file's own: the CSV's header is line 1
    assert {g[0].split(".")[-1]: g[6] for g in got} == {"jsonl": 5, "gz": 5, "csv": 6, "parquet": 5}


def test_csv_rows_of_the_wrong_shape_are_rejected_not_lost(tmp_path):
    landing = tmp_path / "landing"
    (landing / "events").mkdir(parents=True)
    (landing / "events" / "e.csv").write_text(
        "request_id,occurred_at,provider,model,output_tokens\n"
        "c1,2026-09-02T00:00:00Z,anthropic,claude-haiku-4-5,3\n"
        "c2,2026-09-02T00:00:00Z,anthropic,claude-haiku-4-5,3,surplus\n"
        "c3,2026-09-02T00:00:00+02:00,anthropic,claude-haiku-4-5,4\n"
    )
    with connect(tmp_path / "w.duckdb") as con:
        summary = load_new_files(con, EVENT_FILES, landing)
        good = con.execute("select request_id, occurred_at::varchar from raw.request_events order by 1").fetchall()
        rejects = con.execute("select _source_line, reason from raw.rejected_rows").fetchall()
    assert good == [("c1", "2026-09-02 00:00:00"), ("c3", "2026-09-01 22:00:00")]
    assert summary.rows_rejected == 1
    assert rejects[0][0] == 3 and rejects[0][1].startswith("CSV row could not be read")


def test_loaded_files_are_not_read_again_and_changed_files_replace_their_rows(tmp_path):
    landing = tmp_path / "landing"
    path = landing / "events" / "day.jsonl"
    write_jsonl(path, [event(request_id="a"), event(request_id="b", provider="nope")])
    with connect(tmp_path / "w.duckdb") as con:
        first = load_new_files(con, EVENT_FILES, landing)
        again = load_new_files(con, EVENT_FILES, landing)
        write_jsonl(path, [event(request_id="a"), event(request_id="b"), event(request_id="c")])
        os.utime(path, (1_800_000_000, 1_800_000_000))
        changed = load_new_files(con, EVENT_FILES, landing)
        ids = con.execute("select request_id from raw.request_events order by 1").fetchall()
        rejects = con.execute("select count(*) from raw.rejected_rows").fetchone()[0]
        files = con.execute("select rows_loaded, rows_rejected from raw.landed_files").fetchall()
    assert (first.files_loaded, again.files_loaded, changed.files_loaded) == (1, 0, 1)
    assert ids == [("a",), ("b",), ("c",)]
    assert rejects == 0
    assert files == [(3, 0)]


def test_a_file_that_cannot_be_read_is_quarantined_and_changes_nothing_else(tmp_path):
    landing = tmp_path / "landing"
    write_jsonl(landing / "events" / "a.jsonl", [event(request_id="a")])
    with connect(tmp_path / "w.duckdb") as con:
        load_new_files(con, EVENT_FILES, landing)
        (landing / "events" / "b.parquet").write_bytes(b"this is not parquet")
        summary = load_new_files(con, EVENT_FILES, landing)
        assert summary.quarantined == [(str(landing / "events" / "b.parquet"),
                                        "could not be read as parquet: No magic bytes found at end of file 'b.parquet'")]
        assert con.execute("select count(*) from raw.request_events").fetchone()[0] == 1
        assert con.execute("select regexp_extract(path, '[^/]+$'), rows_loaded, quarantine_reason is not null "
                           "from raw.landed_files order by 1").fetchall() == [("a.jsonl", 1, False), ("b.parquet", 0, True)]


def test_line_numbers_follow_the_file_on_large_files(tmp_path):
    landing = tmp_path / "landing"
    n = 200_000
    with connect(tmp_path / "w.duckdb") as con:
        (landing / "events").mkdir(parents=True)
        con.execute(
            f"copy (select 'r' || i as request_id, '2026-09-01T00:00:00Z' as occurred_at, 'openai' as provider, "
            f"'gpt-4.1' as model, i as output_tokens from range(1, {n} + 1) t(i) order by i) "
            f"to '{landing}/events/big.jsonl' (format json)"
        )
        load_new_files(con, EVENT_FILES, landing)
        mismatched = con.execute("select count(*) from raw.request_events where output_tokens <> _source_line").fetchone()[0]
        total = con.execute("select count(*) from raw.request_events").fetchone()[0]
    assert total == n and mismatched == 0


def test_outcomes_load_and_reject(tmp_path):
    landing = tmp_path / "landing"
    write_jsonl(landing / "outcomes" / "o.jsonl", [
        {"task_id": "t1", "workflow": "Support-Triage", "completed_at": "2026-09-01T10:00:00Z", "outcome": "SUCCESS"},
        {"task_id": "t2", "parent_task_id": "t1", "completed_at": "2026-09-01T10:00:00Z", "outcome": "failure"},
        {"task_id": "t3", "completed_at": "2026-09-01T10:00:00Z", "outcome": "maybe"},
        {"completed_at": "2026-09-01T10:00:00Z", "outcome": "success"},
    ])
    with connect(tmp_path / "w.duckdb") as con:
        load_new_files(con, OUTCOME_FILES, landing)
        good = con.execute("select task_id, parent_task_id, workflow, outcome from raw.outcome_events order by 1").fetchall()
        bad = con.execute("select _source_line, reason from raw.rejected_rows order by 1").fetchall()
    assert good == [("t1", None, "support-triage", "success"), ("t2", "t1", None, "failure")]
    assert bad == [(3, "outcome must be success or failure: maybe"), (4, "missing task_id")]


def test_csv_line_numbers_stay_true_after_a_refused_row_and_across_files(tmp_path):
    landing = tmp_path / "landing"
    (landing / "events").mkdir(parents=True)
    header = "request_id,occurred_at,provider,model,output_tokens\n"
    (landing / "events" / "a.csv").write_text(
        header
        + "a1,2026-09-02T00:00:00Z,openai,gpt-4.1,1\n"
        + "a2,2026-09-02T00:00:00Z,openai,gpt-4.1,2,surplus\n"   # line 3: wrong shape
        + "a3,2026-09-02T00:00:00Z,openai,gpt-4.1,3\n"
        + "a4,2026-09-02T00:00:00Z,mistral,m,4\n"               # line 5: unknown provider
    )
    (landing / "events" / "b.csv").write_text(
        header
        + "b1,2026-09-02T00:00:00Z,openai,gpt-4.1,1\n"
        + "b2,yesterday,openai,gpt-4.1,2\n"                      # line 3: bad timestamp
    )
    with connect(tmp_path / "w.duckdb") as con:
        load_new_files(con, EVENT_FILES, landing)
        good = con.execute("select request_id, _source_line from raw.request_events order by 1").fetchall()
        rejects = con.execute(
            "select substr(_source_file, -5), _source_line, split_part(reason, ':', 1) from raw.rejected_rows order by 1, 2"
        ).fetchall()
    assert good == [("a1", 2), ("a3", 4), ("b1", 2)]
    assert rejects == [("a.csv", 3, "CSV row could not be read"), ("a.csv", 5, "unknown provider"),
                       ("b.csv", 3, "occurred_at is not an RFC 3339 timestamp")]
