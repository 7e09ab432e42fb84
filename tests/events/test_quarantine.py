"""Files that cannot be read as a whole are quarantined, not fatal; a line with a control byte is a rejected line.

A UTF-16 file, a truncated `.gz` or a Parquet file that is not Parquet is recorded in `raw.landed_files`
with its reason while the other files of every source load; the rejects check reports it (warn, or error
with TOKENSPEND_QUARANTINE_SEVERITY=error); it is read again only once it changed. Errors that are not
about a file's content (the warehouse, memory) still fail the load.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil

import dagster as dg
import duckdb
import pytest

from dagster_project.defs.events import checks
from dagster_project.defs.events.assets import otel_spans, request_events
from dagster_project.defs.events.litellm import LITELLM_FILES
from dagster_project.defs.events.otel import OTEL_FILES
from dagster_project.defs.events.sources import EVENT_FILES
from dagster_project.lib import file_ingest
from dagster_project.lib.file_ingest import load_new_files
from dagster_project.lib.warehouse import connect
from dagster_project.settings import SettingsError, current_settings
from tests.events.conftest import FIXTURES

GOOD = {"request_id": "r", "occurred_at": "2026-09-01T08:00:00Z", "provider": "openai", "model": "gpt-4.1-mini",
        "uncached_input_tokens": 100, "cache_read_input_tokens": 0, "cache_write_input_tokens": 0, "output_tokens": 7}
UTF16_REASON = "not UTF-8: UTF-16 text (byte order mark FF FE); save the file as UTF-8"
TRUNCATED_GZ_REASON = "could not be read as jsonl: Unexpected end of GZIP stream: {name}"


def event(**changes) -> str:
    return json.dumps({**GOOD, **changes})


def truncated_gzip(text: str) -> bytes:
    """`text` gzip-compressed and cut in half, as a copy interrupted mid-transfer leaves it."""
    whole = gzip.compress(text.encode())
    return whole[: len(whole) // 2]


def event_lines(prefix: str, n: int = 3) -> str:
    return "".join(event(request_id=f"{prefix}{i}", output_tokens=i) + "\n" for i in range(1, n + 1))


def litellm_lines() -> str:
    return (FIXTURES / "litellm" / "spend_logs_2026-10-05.jsonl").read_text()


def otel_document() -> str:
    return (FIXTURES / "otel" / "traces_2026-10-05.json").read_text()


# (source, the good files' names and text, the quarantined files' names, the raw table)
SOURCES = {
    "event_files": (EVENT_FILES, {"a.jsonl": event_lines("a"), "d.jsonl": event_lines("d")}, "jsonl"),
    "litellm_files": (LITELLM_FILES, {"a.jsonl": litellm_lines(), "d.jsonl": litellm_lines()}, "jsonl"),
    "otel_files": (OTEL_FILES, {"a.json": otel_document(), "d.json": otel_document()}, "json"),
}


def landed(con) -> dict[str, tuple]:
    return {os.path.basename(p): tuple(rest) for p, *rest in con.execute(
        "select path, size_bytes, rows_loaded, rows_rejected, quarantine_reason from raw.landed_files").fetchall()}


@pytest.mark.parametrize("name", list(SOURCES))
def test_unreadable_files_are_quarantined_and_the_other_files_load(tmp_path, name):
    source, good, ext = SOURCES[name]
    folder = tmp_path / "landing" / source.subdir
    folder.mkdir(parents=True)
    for file, text in good.items():
        (folder / file).write_text(text)
    (folder / f"b.{ext}").write_bytes(good[next(iter(good))].encode("utf-16"))   # with its byte order mark
    (folder / f"c.{ext}.gz").write_bytes(truncated_gzip(good[next(iter(good))] * 200))
    with connect(tmp_path / "w.duckdb") as con:
        summary = load_new_files(con, source, tmp_path / "landing")
        files = landed(con)
        rows = dict(con.execute(f"select regexp_extract(_source_file, '[a-d]\\.[a-z]+'), count(*) from raw.{source.table} "
                                "group by 1").fetchall())
        rejected_files = {r[0] for r in con.execute("select distinct regexp_extract(_source_file, '[a-d]\\.[a-z]+') "
                                                    "from raw.rejected_rows").fetchall()}
    assert (summary.files_seen, summary.files_loaded, summary.files_quarantined) == (4, 2, 2)
    assert sorted(summary.quarantined) == [(str(folder / f"b.{ext}"), UTF16_REASON),
                                           (str(folder / f"c.{ext}.gz"), TRUNCATED_GZ_REASON.format(name=f"c.{ext}.gz"))]
    # the good files load as they would alone; nothing of the quarantined ones is written
    assert set(rows) == {f"a.{ext}", f"d.{ext}"} and rows[f"a.{ext}"] == rows[f"d.{ext}"] > 0
    assert rejected_files <= {f"a.{ext}", f"d.{ext}"}
    assert files[f"b.{ext}"][1:] == (0, 0, UTF16_REASON)
    assert files[f"c.{ext}.gz"][1:] == (0, 0, TRUNCATED_GZ_REASON.format(name=f"c.{ext}.gz"))
    assert files[f"a.{ext}"][3] is None and files[f"d.{ext}"][3] is None


def test_an_unchanged_quarantined_file_is_not_read_again_and_a_changed_one_is(tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    events = landing / "events"
    events.mkdir(parents=True)
    (events / "a.jsonl").write_text(event_lines("a"))
    (events / "b.jsonl.gz").write_bytes(truncated_gzip(event_lines("b", 2000)))
    read: list[list[str]] = []
    load_batch = file_ingest._load_batch

    def spy(con, source, batch):
        read.append([f.path.name for f in batch])
        return load_batch(con, source, batch)

    monkeypatch.setattr(file_ingest, "_load_batch", spy)
    with connect(tmp_path / "w.duckdb") as con:
        first = load_new_files(con, EVENT_FILES, landing)
        read.clear()
        again = load_new_files(con, EVENT_FILES, landing)
        assert read == [] and (again.files_seen, again.files_loaded, again.files_quarantined) == (2, 0, 0)
        # changed, still unreadable: read again and quarantined again, with the new size
        (events / "b.jsonl.gz").write_bytes(truncated_gzip(event_lines("b", 3000)))
        os.utime(events / "b.jsonl.gz", (1_800_000_000, 1_800_000_000))
        still = load_new_files(con, EVENT_FILES, landing)
        assert read == [["b.jsonl.gz"]] and still.files_quarantined == 1
        assert landed(con)["b.jsonl.gz"][0] == (events / "b.jsonl.gz").stat().st_size
        # changed and readable now: it loads and is no longer quarantined
        (events / "b.jsonl.gz").write_bytes(gzip.compress(event_lines("b").encode()))
        os.utime(events / "b.jsonl.gz", (1_800_000_100, 1_800_000_100))
        fixed = load_new_files(con, EVENT_FILES, landing)
        files = landed(con)
        count = con.execute("select count(*) from raw.request_events where _source_file like '%b.jsonl.gz'").fetchone()[0]
    assert (first.files_loaded, first.files_quarantined) == (1, 1)
    assert (fixed.files_loaded, fixed.files_quarantined, fixed.rows_loaded) == (1, 0, 3)
    assert files["b.jsonl.gz"][1:] == (3, 0, None) and count == 3


def test_a_loaded_file_replaced_by_an_unreadable_version_keeps_its_rows_until_a_readable_one_arrives(tmp_path):
    landing = tmp_path / "landing"
    path = landing / "events" / "a.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(event_lines("a") + "not json\n")
    with connect(tmp_path / "w.duckdb") as con:
        load_new_files(con, EVENT_FILES, landing)
        before = con.execute("select request_id, _source_line, _loaded_at from raw.request_events order by 1").fetchall()
        path.write_bytes(event_lines("x").encode("utf-16"))
        os.utime(path, (1_800_000_000, 1_800_000_000))
        unreadable_size = path.stat().st_size
        summary = load_new_files(con, EVENT_FILES, landing)
        kept = con.execute("select request_id, _source_line, _loaded_at from raw.request_events order by 1").fetchall()
        kept_rejects = con.execute("select _source_line, reason from raw.rejected_rows").fetchall()
        quarantined = landed(con)["a.jsonl"]
        # a readable version replaces the earlier rows as any changed file does
        path.write_text(event(request_id="new") + "\n")
        os.utime(path, (1_800_000_100, 1_800_000_100))
        load_new_files(con, EVENT_FILES, landing)
        after = con.execute("select request_id from raw.request_events").fetchall()
        after_rejects = con.execute("select count(*) from raw.rejected_rows").fetchone()[0]
        readable = landed(con)["a.jsonl"]
    assert summary.files_quarantined == 1
    assert kept == before and kept_rejects == [(4, "not valid JSON")]
    # the entry is the unreadable version's (so it is not read again), and still counts the rows kept
    assert quarantined == (unreadable_size, 3, 1, UTF16_REASON)
    assert after == [("new",)] and after_rejects == 0 and readable[1:] == (1, 0, None)


# A raw control byte inside a JSON string makes the line invalid JSON (RFC 8259 requires U+0000-U+001F to
# be escaped); between tokens it is not JSON whitespace. \x1f is the old line reader's delimiter, \r a
# line break to DuckDB's CSV reader: neither may split or fail the file.
CONTROL_LINES = {
    "nul in a value": event(request_id="x", feature="a\x00b").replace("\\u0000", "\x00"),
    "soh in a value": event(request_id="x", feature="a\x01b").replace("\\u0001", "\x01"),
    "unit separator in a value": event(request_id="x", feature="a\x1fb").replace("\\u001f", "\x1f"),
    "unit separator after the object": event(request_id="x") + "\x1f",
    "two unit separators": event(request_id="x", feature="a\x1f\x1fb").replace("\\u001f", "\x1f"),
    "del after the object": event(request_id="x") + "\x7f",
    "lone carriage return in a value": event(request_id="x", feature="a\rb").replace("\\r", "\r"),
    "lone carriage return between two objects": event(request_id="x") + "\r" + event(request_id="y"),
    "nul at the start": "\x00" + event(request_id="x"),
    "the line reader's own delimiter": event(request_id="x", feature="a\x1f\x1e\x1d\x1cb")
    .replace("\\u001f\\u001e\\u001d\\u001c", "\x1f\x1e\x1d\x1c"),
}


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("label", list(CONTROL_LINES))
def test_a_line_with_a_control_byte_is_a_rejected_line_and_the_others_load(tmp_path, label, compress):
    landing = tmp_path / "landing"
    events = landing / "events"
    events.mkdir(parents=True)
    bad = CONTROL_LINES[label]
    text = event(request_id="g1", output_tokens=1) + "\n" + bad + "\n\n" + event(request_id="g4", output_tokens=4) + "\n"
    name = "a.jsonl.gz" if compress else "a.jsonl"
    (events / name).write_bytes(gzip.compress(text.encode()) if compress else text.encode())
    # a file of the same batch keeps its own line numbers
    (events / "b.jsonl").write_text(event_lines("b"))
    with connect(tmp_path / "w.duckdb") as con:
        summary = load_new_files(con, EVENT_FILES, landing)
        rows = con.execute("select regexp_extract(_source_file, '[ab]\\.jsonl'), request_id, _source_line "
                           "from raw.request_events order by 1, 3").fetchall()
        rejects = con.execute("select _source_file, _source_line, reason, raw_record from raw.rejected_rows").fetchall()
    assert summary.files_quarantined == 0 and summary.files_loaded == 2
    assert rows == [("a.jsonl", "g1", 1), ("a.jsonl", "g4", 4), ("b.jsonl", "b1", 1), ("b.jsonl", "b2", 2),
                    ("b.jsonl", "b3", 3)]
    assert rejects == [(str(events / name), 2, "not valid JSON", bad)]


def test_del_and_whitespace_carriage_returns_are_json_and_crlf_or_mixed_line_ends_load(tmp_path):
    """DEL (\\x7f) is not a JSON control character, and a carriage return between tokens is whitespace; a
    file with CRLF line ends, or with both line ends, loads every line."""
    landing = tmp_path / "landing"
    events = landing / "events"
    events.mkdir(parents=True)
    (events / "a.jsonl").write_bytes((event(request_id="del", feature="a\x7fb") + "\n"
                                      + event(request_id="cr").replace(", ", ",\r") + "\n").encode())
    (events / "b.jsonl").write_bytes((event(request_id="crlf1") + "\r\n" + event(request_id="crlf2") + "\r\n").encode())
    (events / "c.jsonl").write_bytes((event(request_id="mixed1") + "\n" + event(request_id="mixed2") + "\r\n"
                                      + event(request_id="mixed3") + "\n").encode())
    with connect(tmp_path / "w.duckdb") as con:
        load_new_files(con, EVENT_FILES, landing)
        rows = con.execute("select request_id, feature, _source_line from raw.request_events order by 1").fetchall()
        rejects = con.execute("select count(*) from raw.rejected_rows").fetchone()[0]
    assert rows == [("cr", None, 2), ("crlf1", None, 1), ("crlf2", None, 2), ("del", "a\x7fb", 1),
                    ("mixed1", None, 1), ("mixed2", None, 2), ("mixed3", None, 3)]
    assert rejects == 0


@pytest.mark.parametrize("name", ["a.jsonl", "a.jsonl.gz"])
def test_a_file_too_large_to_read_exactly_is_quarantined(tmp_path, monkeypatch, name):
    landing = tmp_path / "landing"
    (landing / "events").mkdir(parents=True)
    text = (event_lines("a", 50) + event(request_id="cr", feature="a\rb").replace("\\r", "\r") + "\n").encode()
    (landing / "events" / name).write_bytes(gzip.compress(text) if name.endswith(".gz") else text)
    monkeypatch.setattr(file_ingest, "EXACT_MAX_BYTES", 1000)
    with connect(tmp_path / "w.duckdb") as con:
        summary = load_new_files(con, EVENT_FILES, landing)
    assert summary.quarantined == [(str(landing / "events" / name),
                                    "could not be read as jsonl: a lone carriage return or mixed line ends, which only "
                                    "the exact reader reads, and over 0 MiB of text, too large to read exactly")]


@pytest.mark.parametrize("source", [LITELLM_FILES, OTEL_FILES], ids=["litellm", "otel"])
@pytest.mark.parametrize("control", ["\x1f", "\r", "\x00"], ids=["unit-separator", "carriage-return", "nul"])
def test_a_control_byte_line_is_a_rejected_line_in_the_json_record_sources(tmp_path, source, control):
    landing = tmp_path / "landing"
    folder = landing / source.subdir
    folder.mkdir(parents=True)
    if source is OTEL_FILES:
        lines = [json.dumps(json.loads(otel_document()))] * 3
    else:
        lines = litellm_lines().splitlines()[:3]
    bad = lines[1].replace('"', '"' + control, 1)   # inside the first key
    (folder / "a.jsonl").write_bytes(("\n".join([lines[0], bad, lines[2]]) + "\n").encode())
    with connect(tmp_path / "w.duckdb") as con:
        summary = load_new_files(con, source, landing)
        lines_loaded = con.execute(f"select distinct _source_line from raw.{source.table} order by 1").fetchall()
        rejects = con.execute("select _source_line, reason, raw_record from raw.rejected_rows "
                              "where reason = 'not valid JSON'").fetchall()
    assert summary.files_quarantined == 0
    assert lines_loaded == [(1,), (3,)]
    assert rejects == [(2, "not valid JSON", bad)]


# --- the rejects check and the assets ------------------------------------------------------------------

def _evaluation(result: dg.ExecuteInProcessResult, asset: str) -> dg.AssetCheckEvaluation:
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.asset_key == dg.AssetKey(["raw", asset])]
    return evaluation


@pytest.fixture
def unreadable_landing(warehouse_env):
    _, landing = warehouse_env
    (landing / "events").mkdir(parents=True)
    (landing / "events" / "a.jsonl").write_text(event_lines("a"))
    (landing / "events" / "b.jsonl").write_bytes(event_lines("b").encode("utf-16"))
    (landing / "events" / "c.jsonl.gz").write_bytes(truncated_gzip(event_lines("c", 3000)))
    (landing / "otel").mkdir()
    (landing / "otel" / "a.json").write_text(otel_document())
    (landing / "otel" / "b.json.gz").write_bytes(truncated_gzip(otel_document() * 50))
    return landing


def _materialize() -> dg.ExecuteInProcessResult:
    return dg.materialize([request_events, otel_spans, checks.request_events_rejects, checks.otel_spans_rejects],
                          instance=dg.DagsterInstance.ephemeral(), raise_on_error=True)


def test_the_rejects_check_reports_quarantined_files_and_warns(unreadable_landing, monkeypatch):
    monkeypatch.delenv("TOKENSPEND_QUARANTINE_SEVERITY", raising=False)
    result = _materialize()
    events = result.asset_materializations_for_node("raw__request_events")[0].metadata
    assert (events["files_seen"].value, events["files_loaded"].value, events["files_quarantined"].value) == (3, 1, 2)
    assert "| event_files | 3 | 1 | 2 | 3 | 0 |" in events["by_source"].value
    check = _evaluation(result, "request_events")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["files_quarantined"].value == 2
    table = check.metadata["quarantined_files"].value
    assert f"| {unreadable_landing / 'events' / 'b.jsonl'} | {UTF16_REASON} |" in table
    assert f"| {unreadable_landing / 'events' / 'c.jsonl.gz'} | {TRUNCATED_GZ_REASON.format(name='c.jsonl.gz')} |" in table
    assert "2 file(s) quarantined" in check.description
    otel = _evaluation(result, "otel_spans")
    assert otel.metadata["files_quarantined"].value == 1 and otel.severity == dg.AssetCheckSeverity.WARN


def test_the_quarantine_severity_setting_makes_the_check_an_error(unreadable_landing, monkeypatch):
    monkeypatch.setenv("TOKENSPEND_QUARANTINE_SEVERITY", "error")
    result = _materialize()
    assert _evaluation(result, "request_events").severity == dg.AssetCheckSeverity.ERROR
    # the quarantined files are fixed: the check passes (the setting only matters while a file is quarantined)
    (unreadable_landing / "events" / "b.jsonl").write_text(event_lines("b"))
    (unreadable_landing / "events" / "c.jsonl.gz").write_bytes(gzip.compress(event_lines("c").encode()))
    shutil.rmtree(unreadable_landing / "otel")
    again = _materialize()
    check = _evaluation(again, "request_events")
    assert check.passed and check.metadata["files_quarantined"].value == 0


def test_a_bad_quarantine_severity_is_refused_naming_the_setting(monkeypatch):
    monkeypatch.setenv("TOKENSPEND_QUARANTINE_SEVERITY", "fatal")
    with pytest.raises(SettingsError, match="TOKENSPEND_QUARANTINE_SEVERITY: Input should be 'warn' or 'error'"):
        current_settings()


# --- errors that are not about a file still fail the load --------------------------------------------------

def test_a_warehouse_that_fails_to_write_fails_the_load_and_quarantines_nothing(tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    (landing / "events").mkdir(parents=True)
    (landing / "events" / "a.jsonl").write_text(event_lines("a"))

    def failing(con, slices):
        raise duckdb.IOException("Could not write file \"w.duckdb.wal\": No space left on device")

    monkeypatch.setattr(file_ingest, "replace_slices", failing)
    with connect(tmp_path / "w.duckdb") as con:
        with pytest.raises(duckdb.IOException, match="No space left"):
            load_new_files(con, EVENT_FILES, landing)
        assert con.execute("select count(*) from raw.landed_files").fetchone()[0] == 0


@pytest.mark.parametrize("error", [duckdb.OutOfMemoryException("failed to allocate"),
                                   duckdb.IOException("Could not write to temporary file: No space left on device"),
                                   duckdb.InterruptException("Interrupted!")])
def test_an_error_while_reading_that_is_not_about_the_file_fails_the_load(tmp_path, monkeypatch, error):
    landing = tmp_path / "landing"
    (landing / "events").mkdir(parents=True)
    (landing / "events" / "a.jsonl").write_text(event_lines("a"))

    def failing(con, source, records):
        raise error

    monkeypatch.setattr(file_ingest, "_parse", failing)
    with connect(tmp_path / "w.duckdb") as con:
        with pytest.raises(type(error)):
            load_new_files(con, EVENT_FILES, landing)
        assert con.execute("select count(*) from raw.landed_files").fetchone()[0] == 0


def test_an_existing_warehouse_gains_the_quarantine_column_and_the_check_reads_one_without_it(tmp_path):
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema raw")
        con.execute("create table raw.landed_files (source varchar not null, path varchar not null, size_bytes bigint "
                    "not null, modified_at timestamp not null, rows_loaded bigint not null, rows_rejected bigint "
                    "not null, _loaded_at timestamp not null)")
        con.execute("insert into raw.landed_files values ('event_files', '/l/events/a.jsonl', 1, now(), 1, 0, now())")
        # the check, read-only, before any load added the column
        assert checks.quarantined_files(con, ("event_files",)) == []
    landing = tmp_path / "landing"
    (landing / "events").mkdir(parents=True)
    (landing / "events" / "b.jsonl").write_bytes(event_lines("b").encode("utf-16"))
    with connect(path) as con:
        load_new_files(con, EVENT_FILES, landing)
        rows = con.execute("select right(path, 7), quarantine_reason from raw.landed_files order by 1").fetchall()
        quarantined = [(s, os.path.basename(p), r) for s, p, r, _ in checks.quarantined_files(con, ("event_files",))]
    assert rows == [("a.jsonl", None), ("b.jsonl", UTF16_REASON)]
    assert quarantined == [("event_files", "b.jsonl", UTF16_REASON)]
