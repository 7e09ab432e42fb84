"""OTLP/JSON GenAI spans land one row per inference span under the conventions' names; bad spans are rejected.

Mapping a span onto a request (request id, disjoint token classes, tags through the tag map) is dbt's
stg_otel__spans, tested by its dbt unit tests and end to end in test_request_sources_end_to_end.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json

import pytest

from dagster_project.defs.events.otel import OTEL_FILES
from dagster_project.lib.file_ingest import load_new_files
from dagster_project.lib.warehouse import connect
from dagster_project.settings import SettingsError, current_settings, parse_tag_map
from tests.events.conftest import FIXTURES, copy_fixture

COLUMNS = ("request_id", "trace_id", "span_id", "start_time", "operation_name", "provider_name", "request_model",
           "response_model", "input_tokens", "output_tokens", "cache_read_input_tokens",
           "cache_creation_input_tokens", "service_tier", "span_attributes", "resource_attributes", "_source_line")


def load(tmp_path, landing):
    with connect(tmp_path / "w.duckdb") as con:
        summary = load_new_files(con, OTEL_FILES, landing)
        rows = [dict(zip(COLUMNS, r, strict=True)) for r in con.execute(
            f"select coalesce(response_id, trace_id || ':' || span_id), {', '.join(COLUMNS[1:])} from raw.otel_spans "
            "order by _source_file, 1").fetchall()]
        rejects = con.execute("select _source_file, _source_line, reason, raw_record from raw.rejected_rows "
                              "order by 1, 2").fetchall()
    return summary, rows, rejects


def test_a_pretty_printed_export_lands_each_inference_span(tmp_path, landing):
    copy_fixture(landing, "otel/traces_2026-10-05.json")
    summary, rows, rejects = load(tmp_path, landing)
    by_id = {r["request_id"]: r for r in rows}
    # section 7.2 example: input_tokens 2412 INCLUDES 1024 cache reads (staging subtracts them)
    a1 = by_id["chatcmpl-d3cf3701b3f156eaf0b717a2cb245"]
    assert (a1["input_tokens"], a1["cache_read_input_tokens"], a1["cache_creation_input_tokens"],
            a1["output_tokens"]) == (2412, 1024, None, 188)
    assert (a1["provider_name"], a1["response_model"], a1["service_tier"], a1["operation_name"]) == (
        "openai", "gpt-4.1-mini-2025-04-14", "default", "chat")
    assert a1["start_time"] == dt.datetime(2026, 10, 5, 8, 2, 11, 204000)
    assert json.loads(a1["span_attributes"])["app.feature"] == "ticket-summary"
    # Anthropic: input 12000 includes 8000 cache reads and 2000 cache writes; its tags are on the resource
    b1 = by_id["msg_01a1b2c3d4e5f6a7b8c9d0e1f2"]
    assert (b1["input_tokens"], b1["cache_read_input_tokens"], b1["cache_creation_input_tokens"]) == (12000, 8000, 2000)
    resource = json.loads(b1["resource_attributes"])
    assert (resource["app.team"], resource["app.project_id"]) == ("legal", "wrkspc_legal")
    # an intValue sent as a JSON number reads the same
    assert by_id["chatcmpl-d3cf3701b3f156eaf0b717a2cb247"]["input_tokens"] == 1000
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
    # gen_ai.system (deprecated) and prompt/completion_tokens (deprecated) land under the current names, as sent
    assert (legacy["provider_name"], legacy["request_model"], legacy["response_model"], legacy["input_tokens"],
            legacy["output_tokens"]) == ("Anthropic", "claude-sonnet-4-5-20250929", None, 640, 75)
    assert legacy["start_time"] == dt.datetime(2026, 10, 5, 11, 0)
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
        ({}, {"spanId": ""}, "missing traceId or spanId"),
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


def test_every_span_and_resource_attribute_is_kept_for_tag_mapping(tmp_path, landing):
    (landing / "otel").mkdir()
    (landing / "otel" / "x.json").write_text(export(
        [span({**CHAT, "app.feature": "span-feature", "feature.name": "mapped", "app.task_id": 42})],
        resource={"app.feature": "resource-feature", "team.slug": "slug-team"},
    ))
    _, rows, _ = load(tmp_path, landing)
    assert json.loads(rows[0]["span_attributes"]) == {
        **{k: str(v) for k, v in CHAT.items()}, "app.feature": "span-feature", "feature.name": "mapped", "app.task_id": "42"}
    assert json.loads(rows[0]["resource_attributes"]) == {"app.feature": "resource-feature", "team.slug": "slug-team"}


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
def test_a_bad_tag_map_is_refused_naming_the_setting(text, monkeypatch):
    with pytest.raises(ValueError, match="is not attribute=dimension"):
        parse_tag_map(text)
    monkeypatch.setenv("TOKENSPEND_OTEL_TAG_MAP", text)
    with pytest.raises(SettingsError, match="TOKENSPEND_OTEL_TAG_MAP"):
        current_settings()


def test_other_formats_are_refused(tmp_path, landing):
    (landing / "otel").mkdir()
    (landing / "otel" / "x.csv").write_text("a,b\n1,2\n")
    with connect(tmp_path / "w.duckdb") as con, pytest.raises(ValueError, match="must be OTLP/JSON"):
        load_new_files(con, OTEL_FILES, landing)
