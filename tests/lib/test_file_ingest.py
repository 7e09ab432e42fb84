"""The file-loading mechanism: batches of files, true line numbers per file, Parquet read as columns,
replacement of changed files, and failures that name their file and change nothing."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os

import duckdb
import pytest

from dagster_project.defs.events.sources import EVENT_FILES
from dagster_project.lib import file_ingest
from dagster_project.lib.file_ingest import load_new_files
from dagster_project.lib.warehouse import connect

GOOD = {
    "request_id": "r", "occurred_at": "2026-09-01T08:00:00Z", "provider": "openai", "model": "gpt-4.1-mini",
    "uncached_input_tokens": 100, "cache_read_input_tokens": 0, "cache_write_input_tokens": 0, "output_tokens": 7,
}


def event(**changes) -> dict:
    return {**GOOD, **changes}


@pytest.fixture
def batches(monkeypatch) -> list[list[str]]:
    """The file names of every batch `load_new_files` loads, in order."""
    seen: list[list[str]] = []
    load_batch = file_ingest._load_batch

    def spy(con, source, batch):
        seen.append([f.path.name for f in batch])
        return load_batch(con, source, batch)

    monkeypatch.setattr(file_ingest, "_load_batch", spy)
    return seen


def write_lines(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))


def test_rejects_of_many_files_keep_their_own_text_line_and_reason(tmp_path):
    landing = tmp_path / "landing"
    bad_provider = json.dumps(event(request_id="a2", provider="mistral"), indent=None, separators=(", ", ": "))
    write_lines(landing / "events" / "a.jsonl", [
        json.dumps(event(request_id="a1")), bad_provider, "null", json.dumps(event(request_id="a4", output_tokens=1.5)),
        json.dumps(event(request_id="a5")),
    ])
    write_lines(landing / "events" / "b.jsonl", [json.dumps(event(request_id="b1")), "{}",
                                                 json.dumps(event(request_id="b3", batch="maybe"))])
    with connect(tmp_path / "w.duckdb") as con:
        summary = load_new_files(con, EVENT_FILES, landing)
        good = con.execute("select request_id, _source_line from raw.request_events order by 1").fetchall()
        bad = con.execute("select right(_source_file, 7), _source_line, reason, raw_record from raw.rejected_rows "
                          "order by 1, 2").fetchall()
        landed = con.execute("select right(path, 7), rows_loaded, rows_rejected from raw.landed_files order by 1").fetchall()
    assert good == [("a1", 1), ("a5", 5), ("b1", 1)]
    # each reject keeps its own text, byte for byte
    assert bad == [
        ("a.jsonl", 2, "unknown provider: mistral", bad_provider),
        ("a.jsonl", 3, "not a JSON object", "null"),
        ("a.jsonl", 4, "output_tokens is not a whole number: 1.5", json.dumps(event(request_id="a4", output_tokens=1.5))),
        ("b.jsonl", 2, "missing request_id", "{}"),
        ("b.jsonl", 3, "batch is not a boolean: maybe", json.dumps(event(request_id="b3", batch="maybe"))),
    ]
    assert (summary.rows_loaded, summary.rows_rejected) == (3, 5)
    assert landed == [("a.jsonl", 2, 3), ("b.jsonl", 1, 2)]


@pytest.mark.parametrize("lines", [
    ["", "{}"],                                  # a blank line
    ["{}", "   "],                               # a blank line at the end
    ['{"request_id": "x", "request_id": "y"}'],  # a repeated key: the first one counts
    ["{not json"],                               # a line that is not JSON
    ['{"request_id": "x"}  ', '  {"request_id": "y"}'],
])
def test_odd_lines_keep_the_line_numbers_of_the_files_in_their_batch(tmp_path, lines):
    landing = tmp_path / "landing"
    good = [json.dumps(event(request_id=f"g{i}", output_tokens=i)) for i in range(1, 4)]
    write_lines(landing / "events" / "a.jsonl", good[:1] + lines + good[1:])
    write_lines(landing / "events" / "b.jsonl", good)
    with connect(tmp_path / "w.duckdb") as con:
        load_new_files(con, EVENT_FILES, landing)
        rows = con.execute("select right(_source_file, 7), request_id, _source_line from raw.request_events "
                           "where request_id like 'g%' order by 1, 2").fetchall()
        rejects = con.execute("select _source_line, split_part(reason, ':', 1) from raw.rejected_rows order by 1").fetchall()
    after = len(lines)
    assert rows == [("a.jsonl", "g1", 1), ("a.jsonl", "g2", 2 + after), ("a.jsonl", "g3", 3 + after),
                    ("b.jsonl", "g1", 1), ("b.jsonl", "g2", 2), ("b.jsonl", "g3", 3)]
    expected = {"{}": "missing request_id", "{not json": "not valid JSON"}
    assert rejects == [(2 + i, expected.get(line, "missing occurred_at")) for i, line in enumerate(lines)
                       if line.strip()]


def test_many_files_load_in_one_batch_and_keep_their_own_line_numbers(tmp_path, batches):
    landing = tmp_path / "landing"
    events = landing / "events"
    events.mkdir(parents=True)
    expected_good, expected_bad = [], []
    for n in range(12):
        lines = []
        for i in range(1, 40 * n + 3):
            # blank and whitespace-only lines count as lines but are neither rows nor rejects
            if i % 11 == 0:
                lines.append("" if i % 2 else "  \t ")
            elif i % 13 == 0:
                lines.append("{not json")
                expected_bad.append((f"f{n:02}.jsonl", i, "not valid JSON"))
            elif i % 17 == 0:
                lines.append(json.dumps(event(request_id=f"f{n}-{i}", provider="mistral")))
                expected_bad.append((f"f{n:02}.jsonl", i, "unknown provider: mistral"))
            else:
                # the row says which line it is on
                lines.append(json.dumps(event(request_id=f"f{n}-{i}", output_tokens=i)))
                expected_good.append((f"f{n:02}.jsonl", i))
        text = "\n".join(lines) + "\n"
        if n % 3 == 0:
            with gzip.open(events / f"f{n:02}.jsonl.gz", "wt") as f:
                f.write(text)
        else:
            (events / f"f{n:02}.jsonl").write_text(text)
    with connect(tmp_path / "w.duckdb") as con:
        summary = load_new_files(con, EVENT_FILES, landing)
        good = con.execute(
            "select regexp_extract(_source_file, 'f[0-9]+\\.jsonl'), _source_line, output_tokens "
            "from raw.request_events order by 1, 2").fetchall()
        bad = con.execute(
            "select regexp_extract(_source_file, 'f[0-9]+\\.jsonl'), _source_line, reason from raw.rejected_rows "
            "order by 1, 2").fetchall()
        landed = con.execute("select sum(rows_loaded), sum(rows_rejected), count(*), count(distinct _loaded_at) "
                             "from raw.landed_files").fetchone()
    assert len(batches) == 1 and len(batches[0]) == 12
    assert [(f, line) for f, line, _ in good] == sorted(expected_good)
    assert all(line == tokens for _, line, tokens in good)
    assert bad == sorted(expected_bad)
    assert (summary.files_loaded, summary.rows_loaded, summary.rows_rejected) == (12, len(good), len(bad))
    assert landed == (len(good), len(bad), 12, 1)


def test_line_numbers_hold_across_large_files_in_one_batch(tmp_path, batches):
    landing = tmp_path / "landing"
    (landing / "events").mkdir(parents=True)
    with duckdb.connect() as con:
        for name, n in (("a", 150_000), ("b", 3), ("c", 250_000)):
            con.execute(
                f"copy (select '{name}' || i as request_id, '2026-09-01T00:00:00Z' as occurred_at, 'openai' as provider, "
                f"'gpt-4.1' as model, i as output_tokens from range(1, {n} + 1) t(i) order by i) "
                f"to '{landing}/events/{name}.jsonl' (format json)"
            )
    with connect(tmp_path / "w.duckdb") as con:
        load_new_files(con, EVENT_FILES, landing)
        per_file = con.execute(
            "select right(_source_file, 7), count(*), count(*) filter (where output_tokens <> _source_line) "
            "from raw.request_events group by 1 order by 1").fetchall()
    assert len(batches) == 1
    assert per_file == [("a.jsonl", 150_000, 0), ("b.jsonl", 3, 0), ("c.jsonl", 250_000, 0)]


def test_parquet_loads_as_columns_and_a_bad_row_is_rejected_with_its_row_number(tmp_path):
    landing = tmp_path / "landing"
    (landing / "events").mkdir(parents=True)
    path = landing / "events" / "typed.parquet"
    with duckdb.connect() as con:
        # native types, not text: tokens BIGINT, time TIMESTAMPTZ, batch BOOLEAN; plus a column no mapping reads
        con.execute(f"""
            copy (
                select * from (values
                    ('p1', timestamptz '2026-09-01 10:00:00+02', 'openai', 'gpt-4.1', 10::bigint, true, [1, 2]),
                    ('p2', timestamptz '2026-09-01 10:00:00+00', 'mistral', 'm-1', 20::bigint, false, []::int[]),
                    ('p3', null, 'anthropic', 'claude-haiku-4-5', -3::bigint, null, null),
                    ('p4', timestamptz '2026-09-02 00:00:00+00', 'Anthropic', 'claude-haiku-4-5', 4::bigint, null, [3])
                ) t(request_id, occurred_at, provider, model, output_tokens, batch, extra)
            ) to '{path}'""")
    with connect(tmp_path / "w.duckdb") as con:
        summary = load_new_files(con, EVENT_FILES, landing)
        good = con.execute("select request_id, occurred_at, provider, output_tokens, batch, _source_line "
                           "from raw.request_events order by 1").fetchall()
        bad = con.execute("select _source_file, _source_line, reason, raw_record from raw.rejected_rows "
                          "order by 2").fetchall()
    assert good == [("p1", dt.datetime(2026, 9, 1, 8), "openai", 10, True, 1),
                    ("p4", dt.datetime(2026, 9, 2), "anthropic", 4, False, 4)]
    assert (summary.rows_loaded, summary.rows_rejected) == (2, 2)
    assert [(f, line, reason) for f, line, reason, _ in bad] == [
        (str(path), 2, "unknown provider: mistral"), (str(path), 3, "missing occurred_at")]
    # the whole row, every column, as JSON
    assert json.loads(bad[0][3]) == {
        "request_id": "p2", "occurred_at": "2026-09-01 10:00:00+00", "provider": "mistral", "model": "m-1",
        "output_tokens": 20, "batch": False, "extra": []}


def test_parquet_files_with_different_columns_load_in_one_batch(tmp_path, batches):
    landing = tmp_path / "landing"
    (landing / "events").mkdir(parents=True)
    with duckdb.connect() as con:
        con.execute(f"copy (select 'a' || i as request_id, '2026-09-01T00:00:00Z' as occurred_at, 'openai' as provider, "
                    f"'gpt-4.1' as model, i as output_tokens from range(1, 4) t(i)) to '{landing}/events/a.parquet'")
        con.execute(f"copy (select 'b' || i as request_id, '2026-09-01T00:00:00Z' as occurred_at, 'anthropic' as provider, "
                    f"'claude-haiku-4-5' as model, 'search' as feature, i::varchar as uncached_input_tokens "
                    f"from range(1, 3) t(i)) to '{landing}/events/b.parquet'")
    with connect(tmp_path / "w.duckdb") as con:
        load_new_files(con, EVENT_FILES, landing)
        rows = con.execute("select request_id, feature, uncached_input_tokens, output_tokens, _source_line "
                           "from raw.request_events order by 1").fetchall()
    assert len(batches) == 1
    assert rows == [("a1", None, 0, 1, 1), ("a2", None, 0, 2, 2), ("a3", None, 0, 3, 3),
                    ("b1", "search", 1, 0, 1), ("b2", "search", 2, 0, 2)]


def test_a_parquet_column_named_like_the_readers_own_quarantines_the_file_by_name(tmp_path):
    landing = tmp_path / "landing"
    (landing / "events").mkdir(parents=True)
    with duckdb.connect() as con:
        con.execute(f"copy (select 'x' as request_id, 'f.csv' as filename) to '{landing}/events/x.parquet'")
        con.execute(f"copy (select 'y' as request_id, '2026-09-01T00:00:00Z' as occurred_at, 'openai' as provider, "
                    f"'gpt-4.1' as model, 1 as output_tokens) to '{landing}/events/y.parquet'")
    with connect(tmp_path / "w.duckdb") as con:
        summary = load_new_files(con, EVENT_FILES, landing)
        rows = con.execute("select request_id from raw.request_events").fetchall()
    assert summary.quarantined == [(str(landing / "events" / "x.parquet"),
                                    "column 'filename' has the name of a column the Parquet reader adds; rename it")]
    assert rows == [("y",)]


def test_a_changed_file_replaces_its_own_rows_and_rejects_and_leaves_the_others(tmp_path, batches):
    landing = tmp_path / "landing"
    events = landing / "events"
    events.mkdir(parents=True)
    (events / "a.jsonl").write_text(json.dumps(event(request_id="a1")) + "\n")
    (events / "b.jsonl").write_text(json.dumps(event(request_id="b1")) + "\nnot json\n")
    with connect(tmp_path / "w.duckdb") as con:
        load_new_files(con, EVENT_FILES, landing)
        (events / "b.jsonl").write_text("\n" + json.dumps(event(request_id="b2")) + "\n" + json.dumps(event(request_id="b3"))
                                        + "\n{}\n")
        os.utime(events / "b.jsonl", (1_800_000_000, 1_800_000_000))
        (events / "c.jsonl").write_text(json.dumps(event(request_id="c1")) + "\n")
        second = load_new_files(con, EVENT_FILES, landing)
        third = load_new_files(con, EVENT_FILES, landing)
        rows = con.execute("select request_id, _source_line from raw.request_events order by 1").fetchall()
        rejects = con.execute("select right(_source_file, 7), _source_line, reason from raw.rejected_rows").fetchall()
        landed = con.execute("select right(path, 7), rows_loaded, rows_rejected from raw.landed_files order by 1").fetchall()
    assert batches == [["a.jsonl", "b.jsonl"], ["b.jsonl", "c.jsonl"]]
    assert (second.files_loaded, third.files_loaded) == (2, 0)
    assert rows == [("a1", 1), ("b2", 2), ("b3", 3), ("c1", 1)]
    assert rejects == [("b.jsonl", 4, "missing request_id")]
    assert landed == [("a.jsonl", 1, 0), ("b.jsonl", 2, 1), ("c.jsonl", 1, 0)]


def test_a_batch_that_cannot_be_read_is_narrowed_to_its_file_which_is_quarantined(tmp_path, batches):
    landing = tmp_path / "landing"
    events = landing / "events"
    events.mkdir(parents=True)
    (events / "a.jsonl").write_text(json.dumps(event(request_id="a1")) + "\n")
    (events / "b.jsonl").write_bytes(json.dumps(event(request_id="b1")).encode() + b"\n\xff\xfe broken\n")
    (events / "c.jsonl").write_text(json.dumps(event(request_id="c1")) + "\n")
    with connect(tmp_path / "w.duckdb") as con:
        summary = load_new_files(con, EVENT_FILES, landing)
        rows = con.execute("select request_id from raw.request_events order by 1").fetchall()
        landed = con.execute("select right(path, 7), rows_loaded, quarantine_reason from raw.landed_files "
                             "order by 1").fetchall()
        rejects = con.execute("select count(*) from raw.rejected_rows").fetchone()[0]
    # the batch of three fails as a whole; one at a time, the files around the bad one load
    assert batches == [["a.jsonl", "b.jsonl", "c.jsonl"], ["a.jsonl"], ["b.jsonl"], ["c.jsonl"]]
    assert rows == [("a1",), ("c1",)] and rejects == 0
    reason = ("could not be read as jsonl: line 2: Invalid unicode (byte sequence mismatch) detected. "
              "This file is not utf-8 encoded.")
    assert landed == [("a.jsonl", 1, None), ("b.jsonl", 0, reason), ("c.jsonl", 1, None)]
    assert (summary.files_loaded, summary.quarantined) == (2, [(str(events / "b.jsonl"), reason)])


def test_batches_follow_the_files_order_and_bounds(tmp_path, monkeypatch, batches):
    landing = tmp_path / "landing"
    events = landing / "events"
    events.mkdir(parents=True)
    for name in ("a.jsonl", "b.jsonl", "c.csv", "d.csv", "e.jsonl", "f.parquet", "g.jsonl", "h.jsonl", "i.jsonl"):
        path = events / name
        if name.endswith(".jsonl"):
            path.write_text(json.dumps(event(request_id=name)) + "\n")
        else:
            with duckdb.connect() as con:
                fmt = "format csv, header" if name.endswith(".csv") else "format parquet"
                con.execute(f"copy (select '{name}' as request_id) to '{path}' ({fmt})")
    monkeypatch.setattr(file_ingest, "BATCH_MAX_FILES", 2)
    with connect(tmp_path / "w.duckdb") as con:
        load_new_files(con, EVENT_FILES, landing)
    # one format per batch, in the files' order; CSV one file at a time
    assert batches == [["a.jsonl", "b.jsonl"], ["c.csv"], ["d.csv"], ["e.jsonl"], ["f.parquet"],
                       ["g.jsonl", "h.jsonl"], ["i.jsonl"]]


def test_an_empty_file_is_landed_with_no_rows(tmp_path):
    landing = tmp_path / "landing"
    events = landing / "events"
    events.mkdir(parents=True)
    (events / "a.jsonl").write_text("")
    (events / "b.jsonl").write_text("\n\n")
    (events / "c.jsonl").write_text(json.dumps(event(request_id="c1")))  # no final newline
    with connect(tmp_path / "w.duckdb") as con:
        summary = load_new_files(con, EVENT_FILES, landing)
        landed = con.execute("select right(path, 7), rows_loaded, rows_rejected from raw.landed_files order by 1").fetchall()
        again = load_new_files(con, EVENT_FILES, landing)
    assert (summary.files_loaded, summary.rows_loaded, again.files_loaded) == (3, 1, 0)
    assert landed == [("a.jsonl", 0, 0), ("b.jsonl", 0, 0), ("c.jsonl", 1, 0)]


@pytest.mark.parametrize("fmt", ["jsonl", "compact.jsonl", "compact-utf8.jsonl", "csv", "parquet"])
def test_field_text_is_trimmed_and_empty_is_null_in_every_format(tmp_path, fmt):
    landing = tmp_path / "landing"
    (landing / "events").mkdir(parents=True)
    values = ["  search  ", "\u00a0wide\u3000", "\tkept-tab", "   ", "", "plain", "naïve ", "x"]
    rows = [event(request_id=f"r{i}", feature=v) for i, v in enumerate(values)]
    source = tmp_path / "rows.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    target = landing / "events" / f"rows.{fmt}"
    if fmt == "jsonl":
        target.write_text(source.read_text())
    elif fmt.endswith(".jsonl"):
        # no spaces between tokens: lines whose values need no trimming are read as they are
        target.write_text("".join(json.dumps(r, separators=(",", ":"), ensure_ascii="utf8" not in fmt) + "\n"
                                  for r in rows), encoding="utf-8")
    else:
        with duckdb.connect() as con:
            option = "format csv, header" if fmt == "csv" else "format parquet"
            con.execute(f"copy (select * from read_json('{source}', columns = "
                        f"{{{', '.join(f'{k!r}: {v!r}' for k, v in {**{k: 'VARCHAR' for k in GOOD}, 'feature': 'VARCHAR'}.items())}}})) "
                        f"to '{target}' ({option})")
    with connect(tmp_path / "w.duckdb") as con:
        load_new_files(con, EVENT_FILES, landing)
        got = [r[0] for r in con.execute("select feature from raw.request_events order by request_id").fetchall()]
    assert got == ["search", "wide", "\tkept-tab", None, None, "plain", "naïve", "x"]


def test_batches_are_bounded_in_bytes(tmp_path, monkeypatch, batches):
    landing = tmp_path / "landing"
    for name in ("a", "b", "c"):
        write_lines(landing / "events" / f"{name}.jsonl", [json.dumps(event(request_id=name))])
    size = (landing / "events" / "a.jsonl").stat().st_size
    monkeypatch.setattr(file_ingest, "BATCH_MAX_BYTES", {"jsonl": 2 * size, "csv": 1, "parquet": 1})
    with connect(tmp_path / "w.duckdb") as con:
        load_new_files(con, EVENT_FILES, landing)
    assert batches == [["a.jsonl", "b.jsonl"], ["c.jsonl"]]


def test_the_session_keeps_its_insertion_order_setting_after_a_load_a_quarantine_and_a_failed_one(
        tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    write_lines(landing / "events" / "a.jsonl", [json.dumps(event(request_id="a"))])
    setting = "select current_setting('preserve_insertion_order')"
    with connect(tmp_path / "w.duckdb") as con:
        load_new_files(con, EVENT_FILES, landing)
        assert con.execute(setting).fetchone()[0] is True
        (landing / "events" / "b.parquet").write_bytes(b"not parquet")
        # a lone carriage return: the file is read again exactly, staged in order
        (landing / "events" / "c.jsonl").write_bytes(json.dumps(event(request_id="c")).encode() + b"\r{}\n")
        con.execute("set preserve_insertion_order = false")
        assert load_new_files(con, EVENT_FILES, landing).files_quarantined == 1
        assert con.execute(setting).fetchone()[0] is False
        write_lines(landing / "events" / "d.jsonl", [json.dumps(event(request_id="d"))])
        monkeypatch.setattr(file_ingest, "replace_slices", lambda con, slices: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            load_new_files(con, EVENT_FILES, landing)
        assert con.execute(setting).fetchone()[0] is False


def test_a_file_with_a_lone_carriage_return_is_read_exactly_and_keeps_its_line_numbers(tmp_path, batches):
    landing = tmp_path / "landing"
    events = landing / "events"
    events.mkdir(parents=True)
    lines = [json.dumps(event(request_id=f"a{i}", output_tokens=i)) for i in range(1, 2001)]
    lines[999] = lines[999].replace('"model"', '"mo\rdel"')       # line 1000: \r inside a key
    lines[1499] = "  \t "                                          # line 1500: blank
    text = "\ufeff" + "\r\n".join(lines[:10]) + "\r\n" + "\n".join(lines[10:])   # a BOM, both line ends
    with gzip.open(events / "a.jsonl.gz", "wt", encoding="utf-8", newline="") as f:
        f.write(text)
    write_lines(events / "b.jsonl", [json.dumps(event(request_id="b1"))])
    with connect(tmp_path / "w.duckdb") as con:
        summary = load_new_files(con, EVENT_FILES, landing)
        good = con.execute("select count(*), count(*) filter (where output_tokens <> _source_line), "
                           "min(_source_line), max(_source_line) from raw.request_events "
                           "where request_id like 'a%'").fetchone()
        rejects = con.execute("select _source_line, reason, raw_record from raw.rejected_rows").fetchall()
    assert batches == [["a.jsonl.gz", "b.jsonl"], ["a.jsonl.gz"], ["b.jsonl"]]
    assert (summary.files_loaded, summary.files_quarantined, summary.rows_loaded) == (2, 0, 1998 + 1)
    assert good == (1998, 0, 1, 2000)
    assert rejects == [(1000, "not valid JSON", lines[999])]


@pytest.mark.parametrize(("error", "reason"), [
    (duckdb.IOException("IO Error: Unexpected end of GZIP stream: /l/events/a.jsonl.gz"),
     "could not be read as jsonl: Unexpected end of GZIP stream: a.jsonl.gz"),
    (duckdb.InvalidInputException("Invalid Input Error: CSV Error on Line: 7\nOriginal Line: {\"secret\": 1}\n"
                                  "Invalid unicode (byte sequence mismatch) detected.\n\nPossible Solution: ...\n"
                                  "  file = /l/events/a.jsonl"),
     "could not be read as jsonl: line 7: Invalid unicode (byte sequence mismatch) detected."),
    (duckdb.InvalidInputException("Invalid Input Error: No magic bytes found at end of file '/l/events/a.jsonl'\n\n"
                                  "LINE 1: select * from read_parquet('/l/events/a.jsonl')"),
     "could not be read as jsonl: No magic bytes found at end of file 'a.jsonl'"),
    (EOFError("Compressed file ended before the end-of-stream marker was reached"),
     "could not be read as jsonl: Compressed file ended before the end-of-stream marker was reached"),
    (duckdb.ConversionException("Conversion Error: " + "x" * 1000), "could not be read as jsonl: " + "x" * 297 + "..."),
])
def test_a_quarantine_reason_is_the_errors_own_text_shortened(error, reason):
    from pathlib import Path

    assert file_ingest._reason(error, [Path("/l/events/a.jsonl.gz"), Path("/l/events/a.jsonl")], "jsonl") == reason


@pytest.mark.parametrize(("error", "quarantined"), [
    (duckdb.IOException("IO Error: Input is not a GZIP stream: /a.jsonl.gz"), True),
    (duckdb.IOException("IO Error: Could not write file \"/tmp/x.tmp\": No space left on device"), False),
    (duckdb.IOException('IO Error: Cannot open file "/a.jsonl": Permission denied'), False),
    (duckdb.IOException('IO Error: No files found that match the pattern "/a.jsonl"'), False),
    (duckdb.OutOfMemoryException("Out of Memory Error: failed to allocate"), False),
    (duckdb.BinderException("Binder Error: column v not found"), False),
    (duckdb.InvalidInputException("Invalid Input Error: Malformed JSON"), True),
    (duckdb.ConversionException("Conversion Error: Malformed JSON"), True),
    (file_ingest.UnreadableFile("a.parquet", "column 'filename'"), True),
    (EOFError("Compressed file ended"), True),
    (PermissionError(13, "Permission denied"), False),
    (ValueError("a bug"), False),
])
def test_only_errors_about_a_files_content_quarantine_it(error, quarantined):
    assert file_ingest._about_the_content(error) is quarantined
