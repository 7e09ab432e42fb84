"""LiteLLM spend logs: exported rows (JSONL, CSV) land in LiteLLM's own fields; bad rows are rejected, not lost.

Mapping a row onto a request (provider, model id, disjoint token classes, tags) is dbt's
stg_litellm__spend_logs, tested by its dbt unit tests and end to end in test_request_sources_end_to_end.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from dagster_project.defs.events import litellm
from dagster_project.defs.events.litellm import LITELLM_FILES, export_query
from dagster_project.lib.file_ingest import load_new_files
from dagster_project.lib.warehouse import connect
from tests.events.conftest import copy_fixture

COLUMNS = ("request_id", "start_time", "custom_llm_provider", "model", "prompt_tokens", "completion_tokens",
           "cached_tokens", "cache_creation_input_tokens", "spend", "end_user", "team_id", "key_alias",
           "spend_logs_metadata", "request_tags")


def load(tmp_path, landing):
    with connect(tmp_path / "w.duckdb") as con:
        summary = load_new_files(con, LITELLM_FILES, landing)
        rows = {r[0]: dict(zip(COLUMNS, r, strict=True)) for r in con.execute(
            f"select {', '.join(COLUMNS)} from raw.litellm_spend_logs order by request_id").fetchall()}
        rejects = con.execute("select _source_line, reason from raw.rejected_rows order by 1").fetchall()
    return summary, rows, rejects


def test_the_documented_export_row_lands_in_litellm_fields(tmp_path, landing):
    copy_fixture(landing, "litellm/spend_logs_2026-10-05.jsonl")
    summary, rows, _ = load(tmp_path, landing)
    # section 6.4 example: prompt_tokens 2412 INCLUDES the 1024 cached tokens (staging subtracts them)
    a1 = rows["chatcmpl-d3cf3701b3f156eaf0b717a2cb245"]
    assert (a1["prompt_tokens"], a1["cached_tokens"], a1["cache_creation_input_tokens"], a1["completion_tokens"]) == (
        2412, 1024, None, 188)
    assert a1["start_time"] == dt.datetime(2026, 10, 5, 8, 2, 11, 204000)
    assert (a1["custom_llm_provider"], a1["model"], a1["spend"]) == ("openai", "gpt-4.1-mini", "0.0009584")
    assert (a1["end_user"], a1["team_id"], a1["key_alias"]) == (
        "cust_7781", "6f1d2c3b-4a5e-4f60-9b7c-1d2e3f4a5b6c", "support-prod")
    assert a1["spend_logs_metadata"] is None
    assert json.loads(a1["request_tags"]) == ["feature:ticket-summary", "workflow:support-triage", "team:support"]
    # Anthropic: prompt_tokens 4500 includes 3000 cache reads AND 1000 cache writes; metadata as a JSON string
    b2 = rows["msg_01a1b2c3d4e5f6a7b8c9d0e1f3"]
    assert (b2["prompt_tokens"], b2["cached_tokens"], b2["cache_creation_input_tokens"], b2["completion_tokens"]) == (
        4500, 3000, 1000, 400)
    assert json.loads(b2["spend_logs_metadata"])["task_id"] == "rt-7" and json.loads(b2["request_tags"]) == ["team:legal"]
    # request_tags as a JSON-encoded string; spend_logs_metadata places a request without tags
    assert json.loads(rows["chatcmpl-d3cf3701b3f156eaf0b717a2cb246"]["request_tags"])[0] == "Feature: Search  Answers"
    a3 = rows["chatcmpl-d3cf3701b3f156eaf0b717a2cb247"]
    assert json.loads(a3["spend_logs_metadata"]) == {"project_id": "proj_support", "api_key_id": "key_support"}
    assert a3["request_tags"] == "[]"
    assert summary.rows_loaded == 4


def test_bad_rows_are_rejected_and_calls_never_sent_to_the_provider_are_skipped(tmp_path, landing):
    copy_fixture(landing, "litellm/spend_logs_2026-10-05.jsonl")
    summary, rows, rejects = load(tmp_path, landing)
    assert rejects == [
        (7, "missing request_id"),
        (8, "unknown provider: azure"),
        (9, "startTime is not a timestamp: 05/10/2026 10:35"),
        (10, "completion_tokens is negative: -10"),
    ]
    # line 5 is a LiteLLM cache hit (answered by the proxy), line 6 a failed call: neither is billed
    assert "chatcmpl-d3cf3701b3f156eaf0b717a2cb250" not in rows
    assert "2c5d1f0e-7a3b-4c9d-8e6f-1a2b3c4d5e6f" not in rows
    assert (summary.rows_loaded, summary.rows_rejected) == (4, 4)


def test_a_postgres_csv_export_reads_json_columns_from_text(tmp_path, landing):
    copy_fixture(landing, "litellm/spend_logs_pg_export.csv")
    _, rows, rejects = load(tmp_path, landing)
    assert rejects == []
    a = rows["chatcmpl-d3cf3701b3f156eaf0b717a2cb260"]
    assert json.loads(a["spend_logs_metadata"]) == {
        "feature": "search-answers", "project_id": "proj_support", "api_key_id": "key_support"}
    assert a["end_user"] == "cust_0042"
    assert a["start_time"] == dt.datetime(2026, 10, 5, 11, 0, 0, 250000)
    b = rows["msg_01a1b2c3d4e5f6a7b8c9d0e1f5"]
    assert (b["prompt_tokens"], b["cache_creation_input_tokens"], b["end_user"]) == (1200, 200, None)
    assert json.loads(b["request_tags"]) == ["feature:doc-extraction", "project:wrkspc_legal", "api_key:apikey_legal"]


BASE = {"request_id": "r1", "startTime": "2026-10-05T00:00:00Z", "model": "gpt-4.1", "custom_llm_provider": "openai",
        "prompt_tokens": 100, "completion_tokens": 5}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, {"prompt_tokens": 100, "cached_tokens": None, "request_tags": None}),
        ({"metadata": {"usage_object": {"cache_read_input_tokens": 40}}}, {"cached_tokens": 40}),
        ({"custom_llm_provider": "Anthropic", "model": "anthropic/claude-haiku-4-5"},
         {"custom_llm_provider": "Anthropic", "model": "anthropic/claude-haiku-4-5"}),
        ({"custom_llm_provider": "text-completion-openai"}, {"custom_llm_provider": "text-completion-openai"}),
        ({"startTime": 1791187331.5}, {"start_time": dt.datetime(2026, 10, 5, 8, 2, 11, 500000)}),
        ({"request_tags": "feature:search, team:growth"}, {"request_tags": '["feature:search","team:growth"]'}),
        ({"request_tags": ""}, {"request_tags": None}),
        ({"metadata": "", "end_user": "cust_1"}, {"end_user": "cust_1", "spend_logs_metadata": None}),
        ({"metadata": {"spend_logs_metadata": {"customer_id": "cust_2"}, "user_api_key_team_id": "team-9"}},
         {"spend_logs_metadata": '{"customer_id":"cust_2"}', "team_id": "team-9"}),
        ({"metadata": {"spend_logs_metadata": "{\"feature\": \"doc-extraction\"}"}},
         {"spend_logs_metadata": '{"feature":"doc-extraction"}'}),
        ({"metadata": {"spend_logs_metadata": ["not", "an", "object"]}}, {"spend_logs_metadata": None}),
    ],
)
def test_field_forms_litellm_writes(tmp_path, landing, changes, expected):
    (landing / "litellm").mkdir()
    (landing / "litellm" / "x.jsonl").write_text(json.dumps({**BASE, **changes}) + "\n")
    _, rows, rejects = load(tmp_path, landing)
    assert rejects == []
    got = rows["r1"]
    assert {k: got[k] for k in expected} == expected


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"prompt_tokens": None}, "missing prompt_tokens"),
        ({"prompt_tokens": 1.5}, "prompt_tokens is not a whole number: 1.5"),
        ({"custom_llm_provider": None}, "missing custom_llm_provider"),
        ({"model": " "}, "missing model"),
        ({"metadata": "{not json"}, "metadata is not a JSON object"),
        ({"metadata": [1, 2]}, "metadata is not a JSON object"),
        ({"request_tags": {"feature": "x"}}, 'request_tags is not a list of tags: {"feature":"x"}'),
        ({"request_tags": "[\"unclosed\""}, 'request_tags is not a list of tags: "[\\"unclosed\\""'),
        ({"metadata": {"usage_object": {"cache_creation_input_tokens": -1}}}, "cache_creation_input_tokens is negative: -1"),
        ({"metadata": {"usage_object": {"prompt_tokens_details": {"cached_tokens": 80}, "cache_creation_input_tokens": 30}}},
         "prompt_tokens 100 is less than cached 80 + cache_creation 30 (LiteLLM prompt_tokens includes both)"),
    ],
)
def test_rejects_name_the_field_and_value(tmp_path, landing, changes, reason):
    (landing / "litellm").mkdir()
    (landing / "litellm" / "x.jsonl").write_text(json.dumps({**BASE, **changes}) + "\n" + json.dumps({**BASE, "request_id": "ok"}) + "\n")
    _, rows, rejects = load(tmp_path, landing)
    assert rejects == [(1, reason)]
    assert list(rows) == ["ok"]


# --- the proxy's database: the query and the incremental watermark (the database itself: test_litellm_postgres)

def test_export_query_selects_known_columns_since_the_watermark():
    sql = export_query({"request_id", "startTime", "prompt_tokens", "metadata", "messages", "spend"},
                       dt.datetime(2026, 10, 5, 7, 0, 0))
    assert sql.startswith('copy (select "request_id", "spend", "prompt_tokens", "startTime", "metadata" from "LiteLLM_SpendLogs"')
    assert "\"startTime\" >= '2026-10-05 07:00:00.000000'::timestamp" in sql
    assert "messages" not in sql  # prompts are never exported
    assert sql.endswith("to stdout (format csv, header)")
    assert "where" not in export_query({"request_id", "startTime", "prompt_tokens"}, None)
    with pytest.raises(ValueError, match="no column"):
        export_query({"request_id"}, None)


def test_watermark_is_the_newest_database_row_minus_the_lookback(tmp_path, landing, monkeypatch):
    monkeypatch.setenv(litellm.LOOKBACK_VAR, "30")
    db_file = litellm.export_folder(landing) / "spend_logs_1.csv"
    with connect(tmp_path / "w.duckdb") as con:
        assert litellm.watermark(con, landing) is None
        insert = ("insert into raw.litellm_spend_logs by name select ? as request_id, ?::timestamp as start_time, "
                  "'openai' as custom_llm_provider, 'm' as model, 0 as prompt_tokens, ? as _source_file, "
                  "now() as _loaded_at")
        con.execute(insert, ["r", "2026-10-05 10:00:00", str(db_file)])
        # an exported file dropped by hand does not move the database watermark
        con.execute(insert, ["s", "2026-10-09 00:00:00", str(landing / "litellm" / "manual.jsonl")])
        assert litellm.watermark(con, landing) == dt.datetime(2026, 10, 5, 9, 30)
    monkeypatch.setenv(litellm.LOOKBACK_VAR, "-1")
    with pytest.raises(ValueError, match=litellm.LOOKBACK_VAR):
        litellm.lookback()


def test_an_export_with_no_rows_lands_nothing_and_a_failed_one_leaves_nothing(tmp_path, landing, monkeypatch):
    def header_only(url, since, out):
        out.write(b"request_id,startTime,prompt_tokens\n")

    def broken(url, since, out):
        out.write(b"request_id,startTime,prompt_tokens\nr1,2026")
        raise RuntimeError("connection lost")

    with connect(tmp_path / "w.duckdb") as con:
        monkeypatch.setattr(litellm, "copy_spend_logs", header_only)
        assert litellm.export_spend_logs(con, landing, "postgresql://unused") is None
        monkeypatch.setattr(litellm, "copy_spend_logs", broken)
        with pytest.raises(RuntimeError, match="connection lost"):
            litellm.export_spend_logs(con, landing, "postgresql://unused")
    assert [p for p in litellm.export_folder(landing).rglob("*") if p.is_file()] == []
