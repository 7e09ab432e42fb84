"""OTLP/JSON GenAI spans: one record per span, usage mapped onto disjoint classes, tags through the tag map."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import pytest

from dagster_project.defs.events import otel
from dagster_project.defs.events.otel import otel_file_source, parse_tag_map
from dagster_project.lib.file_ingest import load_new_files
from dagster_project.lib.warehouse import connect
from tests.events.conftest import FIXTURES, copy_fixture

COLUMNS = ("request_id", "occurred_at", "provider", "model", "api_key_id", "project_id", "uncached_input_tokens",
           "cache_read_input_tokens", "cache_write_input_tokens", "output_tokens", "service_tier", "feature",
           "workflow", "team", "task_id", "source_system", "_source_line")
WITH_PLACEMENT = otel.DEFAULT_TAG_MAP + ",app.project_id=project_id,app.api_key_id=api_key_id"


def load(tmp_path, landing, mapping=WITH_PLACEMENT):
    with connect(tmp_path / "w.duckdb") as con:
        summary = load_new_files(con, otel_file_source(parse_tag_map(mapping)), landing)
        rows = [dict(zip(COLUMNS, r, strict=True)) for r in con.execute(
            f"select {', '.join(COLUMNS)} from raw.request_events order by _source_file, request_id").fetchall()]
        rejects = con.execute("select _source_file, _source_line, reason, raw_record from raw.rejected_rows "
                              "order by 1, 2").fetchall()
    return summary, rows, rejects


def test_a_pretty_printed_export_maps_each_inference_span(tmp_path, landing):
    copy_fixture(landing, "otel/traces_2026-10-05.json")
    summary, rows, rejects = load(tmp_path, landing)
    by_id = {r["request_id"]: r for r in rows}
    # section 7.2 example: input_tokens 2412 INCLUDES 1024 cache reads
    a1 = by_id["chatcmpl-d3cf3701b3f156eaf0b717a2cb245"]
    assert (a1["uncached_input_tokens"], a1["cache_read_input_tokens"], a1["output_tokens"]) == (1388, 1024, 188)
    assert (a1["provider"], a1["model"], a1["service_tier"], a1["feature"]) == (
        "openai", "gpt-4.1-mini-2025-04-14", "default", "ticket-summary")
    assert a1["occurred_at"] == dt.datetime(2026, 10, 5, 8, 2, 11, 204000)
    assert a1["source_system"] == "otel"
    # Anthropic: input 12000 includes 8000 cache reads and 2000 cache writes; tags from the resource
    b1 = by_id["msg_01a1b2c3d4e5f6a7b8c9d0e1f2"]
    assert (b1["uncached_input_tokens"], b1["cache_read_input_tokens"], b1["cache_write_input_tokens"]) == (2000, 8000, 2000)
    assert (b1["team"], b1["task_id"], b1["project_id"], b1["api_key_id"]) == ("legal", "st-7", "wrkspc_legal", "apikey_legal")
    # an intValue sent as a JSON number reads the same
    assert by_id["chatcmpl-d3cf3701b3f156eaf0b717a2cb247"]["uncached_input_tokens"] == 1000
    # the tool span has no usage and the agent span wraps the chat span: both skipped, not rejected
    assert len(rows) == 3 and summary.rows_loaded == 3
    assert [(line, reason) for _, line, reason, _ in rejects] == [(1, "unknown provider: aws.bedrock")]
    assert '"spanId":"2b3c4d5e6f708192"' in rejects[0][3]  # the span is kept whole, with its resource


def test_json_lines_deprecated_attributes_and_a_broken_line(tmp_path, landing):
    copy_fixture(landing, "otel/traces_2026-10-05_batch2.jsonl")
    summary, rows, rejects = load(tmp_path, landing)
    assert [r["request_id"] for r in rows] == [
        "8f3c6d0e2b4a5f7c9d1e3f5a7b9c1d2e:3c4d5e6f708192a3",  # no gen_ai.response.id: traceId:spanId
        "chatcmpl-d3cf3701b3f156eaf0b717a2cb245",
    ]
    legacy = rows[0]
    # gen_ai.system (deprecated), prompt/completion_tokens (deprecated), request model when no response model
    assert (legacy["provider"], legacy["model"], legacy["uncached_input_tokens"], legacy["output_tokens"]) == (
        "anthropic", "claude-sonnet-4-5-20250929", 640, 75)
    assert legacy["occurred_at"] == dt.datetime(2026, 10, 5, 11, 0)
    assert [(line, reason) for _, line, reason, _ in rejects] == [(2, "not valid JSON")]
    assert summary.rows_rejected == 1


def test_gzip_and_a_document_that_is_not_an_export(tmp_path, landing):
    (landing / "otel").mkdir()
    with gzip.open(landing / "otel" / "a.json.gz", "wt") as f:
        f.write((FIXTURES / "otel" / "traces_2026-10-05.json").read_text())
    (landing / "otel" / "b.jsonl").write_text('{"resourceLogs": []}\n[1]\n{"resourceSpans": []}\n')
    summary, rows, rejects = load(tmp_path, landing)
    assert len(rows) == 3
    assert [(line, reason) for f, line, reason, _ in rejects if f.endswith("b.jsonl")] == [
        (1, "not an OTLP/JSON ExportTraceServiceRequest (no resourceSpans list)"), (2, "not a JSON object")]


def span(attributes: dict, **fields) -> dict:
    def value(v):
        return {"intValue": v} if isinstance(v, int) else {"stringValue": v}

    return {"traceId": "ab" * 16, "spanId": "cd" * 8, "startTimeUnixNano": "1791187331204000000", **fields,
            "attributes": [{"key": k, "value": value(v)} for k, v in attributes.items()]}


CHAT = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.response.model": "gpt-4.1",
        "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 10}


def export(spans: list[dict], resource: dict | None = None) -> str:
    res = {"attributes": [{"key": k, "value": {"stringValue": v}} for k, v in (resource or {}).items()]}
    return json.dumps({"resourceSpans": [{"resource": res, "scopeSpans": [{"spans": spans}]}]})


@pytest.mark.parametrize(
    ("attributes", "fields", "reason"),
    [
        ({"gen_ai.usage.input_tokens": -1}, {}, "input_tokens is negative: -1"),
        ({"gen_ai.usage.output_tokens": "12.5"}, {}, "output_tokens is not a whole number: 12.5"),
        ({"gen_ai.usage.cache_read.input_tokens": 90, "gen_ai.usage.cache_creation.input_tokens": 20}, {},
         "gen_ai.usage.input_tokens 100 is less than cache_read 90 + cache_creation 20 (input includes both)"),
        ({"gen_ai.provider.name": ""}, {}, "missing gen_ai.provider.name"),
        ({"gen_ai.response.model": ""}, {}, "missing gen_ai.response.model"),
        ({}, {"startTimeUnixNano": "yesterday"}, "startTimeUnixNano is not a timestamp: yesterday"),
        ({}, {"startTimeUnixNano": None}, "missing startTimeUnixNano"),
        ({"gen_ai.usage.input_tokens": ""}, {}, "missing gen_ai.usage.input_tokens"),
    ],
)
def test_bad_spans_are_rejected_with_the_reason(tmp_path, landing, attributes, fields, reason):
    (landing / "otel").mkdir()
    good = span({**CHAT, "gen_ai.response.id": "ok"})
    (landing / "otel" / "x.json").write_text(export([span({**CHAT, **attributes}, **fields), good]))
    _, rows, rejects = load(tmp_path, landing)
    assert [r["request_id"] for r in rows] == ["ok"]
    assert [reason_ for _, _, reason_, _ in rejects] == [reason]


def test_span_attributes_override_resource_attributes_and_the_map_is_configurable(tmp_path, landing, monkeypatch):
    (landing / "otel").mkdir()
    (landing / "otel" / "x.json").write_text(export(
        [span({**CHAT, "app.feature": "span-feature", "feature.name": "mapped"})],
        resource={"app.feature": "resource-feature", "app.team": "resource-team", "team.slug": "slug-team"},
    ))
    _, rows, _ = load(tmp_path, landing)
    assert (rows[0]["feature"], rows[0]["team"]) == ("span-feature", "resource-team")
    monkeypatch.setenv(otel.TAG_MAP_VAR, "feature.name=feature, team.slug=team")
    with connect(tmp_path / "configured.duckdb") as con:
        load_new_files(con, otel_file_source(), landing)
        assert con.execute("select feature, team from raw.request_events").fetchall() == [("mapped", "slug-team")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("app.feature=feature", (("app.feature", "feature"),)),
        (" a.b = workflow ,, c-d/e:f=team ", (("a.b", "workflow"), ("c-d/e:f", "team"))),
        ("x=project_id,y=api_key_id", (("x", "project_id"), ("y", "api_key_id"))),
        ("", ()),
    ],
)
def test_tag_map_parses(text, expected):
    assert parse_tag_map(text) == expected


@pytest.mark.parametrize("text", ["app.feature", "app.feature=colour", "app'feature=feature", "=feature"])
def test_a_bad_tag_map_is_refused_naming_the_setting(text):
    with pytest.raises(ValueError, match=otel.TAG_MAP_VAR):
        parse_tag_map(text)


def test_other_formats_are_refused(tmp_path, landing):
    (landing / "otel").mkdir()
    (landing / "otel" / "x.csv").write_text("a,b\n1,2\n")
    with connect(tmp_path / "w.duckdb") as con, pytest.raises(ValueError, match="must be OTLP/JSON"):
        load_new_files(con, otel_file_source(), landing)
