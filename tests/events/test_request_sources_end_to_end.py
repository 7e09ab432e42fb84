"""Every request-level source through Dagster and dbt into fct_token_spend, on overlapping requests.

The same requests arrive from the event log, LiteLLM (a JSON export, a Postgres CSV export and a
re-delivered copy) and OTel spans, with bad rows in every source. They load through the
`raw/request_events`, `raw/litellm_spend_logs` and `raw/otel_spans` assets, the provider usage and bill for the day are inserted as the provider
loaders would land them, and dbt builds `+fct_token_spend +mart_workflow_spend` in a copy of the dbt
project (so the test can add a tag correction without touching the repository's seeds).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from dagster_project import settings
from dagster_project.defs.checks.duplicates import likely_duplicate_requests
from dagster_project.defs.events import checks
from dagster_project.defs.events.assets import litellm_spend_logs, otel_spans, outcome_events, request_events
from tests.events.conftest import copy_fixture

pytestmark = pytest.mark.slow

DAY = dt.datetime(2026, 10, 5)
A1, A2, A3, A4 = (f"chatcmpl-d3cf3701b3f156eaf0b717a2cb24{i}" for i in (5, 6, 7, 8))
A_CSV = "chatcmpl-d3cf3701b3f156eaf0b717a2cb260"
B1, B2, B3, B_CSV = (f"msg_01a1b2c3d4e5f6a7b8c9d0e1f{i}" for i in (2, 3, 4, 5))
B_LEGACY = "8f3c6d0e2b4a5f7c9d1e3f5a7b9c1d2e:3c4d5e6f708192a3"
ALL_REQUESTS = {A1, A2, A3, A4, A_CSV, B1, B2, B3, B_CSV, B_LEGACY}

BILLED_FROM_RAW = """
    select cast(bucket_start as date) as usage_date, 'openai' as provider, sum(cast(amount_value as decimal(38, 12))) as billed
    from raw.openai_costs group by 1, 2
    union all
    select cast(bucket_start as date), 'anthropic', sum(cast(amount as decimal(38, 12)) / 100)
    from raw.anthropic_cost_report group by 1, 2
"""


def _provider_rows(con: duckdb.DuckDBPyConnection) -> None:
    """The day's provider usage and bill, shaped as the provider loaders land them."""
    lineage = {"_source_file": "test", "_loaded_at": DAY + dt.timedelta(days=1)}
    con.execute(
        "insert into raw.openai_usage_completions by name select ?::timestamp as bucket_start, ?::timestamp as bucket_end, "
        "'proj_support' as project_id, 'key_support' as api_key_id, 'gpt-4.1-mini-2025-04-14' as model, false as batch, "
        "'default' as service_tier, 6000 as input_tokens, 700 as output_tokens, 1200 as input_cached_tokens, "
        "0 as input_cache_write_tokens, 7 as num_model_requests, ? as _source_file, ?::timestamp as _loaded_at",
        [DAY, DAY + dt.timedelta(days=1), lineage["_source_file"], lineage["_loaded_at"]],
    )
    for line_item, amount in (("input", "0.00192"), ("cached input", "0.00012"), ("output", "0.00112")):
        con.execute(
            "insert into raw.openai_costs by name select ?::timestamp as bucket_start, ?::timestamp as bucket_end, "
            "'proj_support' as project_id, ? as line_item, ? as amount_value, 'usd' as amount_currency, "
            "? as _source_file, ?::timestamp as _loaded_at",
            [DAY, DAY + dt.timedelta(days=1), f"gpt-4.1-mini-2025-04-14, {line_item}", amount, *lineage.values()],
        )
    con.execute(
        "insert into raw.anthropic_usage_messages by name select ?::timestamp as bucket_start, ?::timestamp as bucket_end, "
        "'apikey_legal' as api_key_id, 'wrkspc_legal' as workspace_id, 'claude-sonnet-4-5-20250929' as model, "
        "'standard' as service_tier, '0-200k' as context_window, 6000 as uncached_input_tokens, "
        "11000 as cache_read_input_tokens, 3200 as cache_creation_5m_input_tokens, 0 as cache_creation_1h_input_tokens, "
        "1700 as output_tokens, 0 as web_search_requests, ? as _source_file, ?::timestamp as _loaded_at",
        [DAY, DAY + dt.timedelta(days=1), *lineage.values()],
    )
    for token_type, cents in (("uncached_input_tokens", "1.8"), ("cache_read_input_tokens", "0.33"),
                              ("cache_creation.ephemeral_5m_input_tokens", "1.2"), ("output_tokens", "2.55")):
        con.execute(
            "insert into raw.anthropic_cost_report by name select ?::timestamp as bucket_start, ?::timestamp as bucket_end, "
            "'wrkspc_legal' as workspace_id, 'Claude Sonnet 4.5 Usage' as description, 'tokens' as cost_type, "
            "? as token_type, 'claude-sonnet-4-5-20250929' as model, 'standard' as service_tier, ? as amount, "
            "'USD' as currency, ? as _source_file, ?::timestamp as _loaded_at",
            [DAY, DAY + dt.timedelta(days=1), token_type, cents, *lineage.values()],
        )
    con.execute(
        "insert into raw.anthropic_cost_report by name select ?::timestamp as bucket_start, ?::timestamp as bucket_end, "
        "'wrkspc_legal' as workspace_id, 'Code Execution Usage' as description, 'code_execution' as cost_type, "
        "'5' as amount, 'USD' as currency, ? as _source_file, ?::timestamp as _loaded_at",
        [DAY, DAY + dt.timedelta(days=1), *lineage.values()],
    )


def _dbt_build(project: Path, db: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    dbt = str(Path(sys.executable).parent / "dbt")
    return subprocess.run(
        [dbt, "build", "--select", "+fct_token_spend +mart_workflow_spend int_request_likely_duplicates", "--indirect-selection", "cautious", "--project-dir", str(project),
         "--profiles-dir", str(project), "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")],
        env={**os.environ, "TOKENSPEND_DUCKDB_PATH": str(db)}, capture_output=True, text=True, timeout=900,
    )


def _materialize(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [request_events, litellm_spend_logs, otel_spans, outcome_events, checks.request_events_rejects,
         checks.litellm_spend_logs_rejects, checks.otel_spans_rejects, checks.outcome_events_rejects],
        instance=instance, raise_on_error=True,
    )


def _env(mp: pytest.MonkeyPatch, root: Path) -> None:
    mp.setenv("TOKENSPEND_DUCKDB_PATH", str(root / "w.duckdb"))
    mp.setenv("TOKENSPEND_LANDING_DIR", str(root / "landing"))
    mp.setenv("TOKENSPEND_OTEL_TAG_MAP", "app.feature=feature,app.workflow=workflow,app.team=team,"
              "app.task_id=task_id,app.project_id=project_id,app.api_key_id=api_key_id")
    mp.delenv("TOKENSPEND_LITELLM_DATABASE_URL", raising=False)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Landing folder with every source, loaded by the asset, and the dbt project copied beside it, built.

    Read-only for the tests that use it; a test that changes something works on a copy (`copy_of`).
    """
    root = tmp_path_factory.mktemp("sources")
    landing = root / "landing"
    for fixture in ("events/2026-10-05.jsonl", "outcomes/2026-10-05.jsonl", "litellm/spend_logs_2026-10-05.jsonl",
                    "litellm/spend_logs_pg_export.csv", "otel/traces_2026-10-05.json",
                    "otel/traces_2026-10-05_batch2.jsonl"):
        copy_fixture(landing, fixture)
    # the gateway's export delivered a second time under another name
    copy_fixture(landing, "litellm/spend_logs_2026-10-05.jsonl", as_name="spend_logs_2026-10-05.redelivered.jsonl")
    project = root / "project" / "dbt_models"
    shutil.copytree(settings.DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    shutil.copytree(settings.SEEDS_DIR, root / "project" / "seeds")

    instance = dg.DagsterInstance.ephemeral()
    with pytest.MonkeyPatch.context() as mp:
        _env(mp, root)
        result = _materialize(instance)
    with duckdb.connect(str(root / "w.duckdb")) as con:
        _provider_rows(con)
    build = _dbt_build(project, root / "w.duckdb", root)
    assert build.returncode == 0, build.stdout[-4000:]
    return {"root": root, "db": root / "w.duckdb", "project": project, "result": result, "instance": instance}


def _query(db: Path, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        return con.execute(sql, params or []).fetchall()


def _conservation(db: Path) -> list[tuple]:
    return _query(db, f"""
        with billed as ({BILLED_FROM_RAW}),
        fact as (select usage_date, provider, sum(cost_usd) as cost from marts.fct_token_spend group by 1, 2)
        select usage_date, provider, billed, cost from billed full join fact using (usage_date, provider) order by 1, 2
    """)


def test_each_source_feeds_the_fact_once_per_request(built):
    db = built["db"]
    raw = dict(_query(db, "select source_system, count(*) from staging.stg_events__request_copies group by 1"))
    # 4 event lines, 4 + 4 (re-delivered) + 2 LiteLLM rows, 3 + 2 spans
    assert raw == {"event_file": 4, "litellm": 10, "otel": 5}
    staged = _query(db, "select request_id from staging.stg_events__requests")
    assert sorted(r[0] for r in staged) == sorted(ALL_REQUESTS)
    in_fact = _query(db, "select sum(request_count) from marts.fct_token_spend where record_type = 'request'")[0][0]
    assert in_fact == len(ALL_REQUESTS)
    for day, provider, billed, cost in _conservation(db):
        assert billed is not None and cost is not None, (day, provider)
        assert abs(Decimal(billed) - Decimal(cost)) < Decimal("0.005"), (day, provider, billed, cost)


def test_precedence_keeps_the_event_log_row_and_merges_missing_tags(built):
    rows = {r[0]: r[1:] for r in _query(built["db"], """
        select request_id, source_system, source_count, uncached_input_tokens, feature, workflow, team, customer_id,
               project_id, has_merged_tags
        from staging.stg_events__requests""")}
    # A1: event log, LiteLLM and a span (twice): the event row wins; the workflow and customer only LiteLLM had
    assert rows[A1] == ("event_file", 3, 1388, "ticket-summary", "support-triage", "support", "cust_7781",
                        "proj_support", True)
    # A3: LiteLLM beats the span; the span's feature and team fill in, normalised ("Doc Extraction")
    assert rows[A3][:4] == ("litellm", 2, 1000, "doc-extraction") and rows[A3][5] == "finance-ops"
    # A2: a key:value tag with odd case and spacing; the project comes from a project: tag
    assert rows[A2][3] == "search-answers" and rows[A2][7] == "proj_support"
    # B2: event log and LiteLLM agree; the event row wins
    assert rows[B2][:3] == ("event_file", 2, 500)
    assert rows[B_LEGACY][0] == "otel" and rows[B_LEGACY][3] == "doc-extraction"


def test_sub_agent_calls_roll_up_to_the_root_task_and_its_workflow(built):
    db = built["db"]
    rows = {r[0]: r[1:] for r in _query(db, """
        select request_id, task_id, root_task_id, is_sub_task, workflow, team
        from intermediate.int_request_events_attributed where request_id in (?, ?, ?)""", [B1, B2, B3])}
    assert rows[B1] == ("st-7", "rt-7", True, "contract-review", "legal")   # the sub-agent's span
    assert rows[B3][3] == "contract-review"   # no workflow tag: its task's outcome says
    workflow = _query(db, """
        select completed_tasks, successful_tasks, follow_up_tasks, tasks_started
        from marts.mart_workflow_spend where workflow = 'contract-review'""")
    assert workflow == [(1, 1, 1, 1)]


def test_rejects_are_kept_and_reported_by_the_asset_check(built):
    db = built["db"]
    rejects = _query(db, "select source, reason from raw.rejected_rows order by 1, 2")
    assert rejects.count(("litellm_files", "unknown provider: azure")) == 2   # original and re-delivered copy
    assert [r for r in rejects if r[0] == "event_files"] == [("event_files", "output_tokens is negative: -3")]
    assert sorted(r[1] for r in rejects if r[0] == "otel_files") == ["not valid JSON", "unknown provider: aws.bedrock"]
    evaluations = {e.asset_key.path[-1]: e for e in built["result"].get_asset_check_evaluations()}
    for table, rejected in (("request_events", 1), ("litellm_spend_logs", 8), ("otel_spans", 2)):
        ev = evaluations[table]
        assert ev.passed is False and ev.severity == dg.AssetCheckSeverity.WARN
        assert ev.metadata["rows_rejected"].value == rejected
    assert "unknown provider" in evaluations["litellm_spend_logs"].metadata["top_reasons"].value
    assert evaluations["outcome_events"].passed is True
    loaded = {node: built["result"].asset_materializations_for_node(node)[0].metadata["rows_loaded"].value
              for node in ("raw__request_events", "raw__litellm_spend_logs", "raw__otel_spans")}
    assert loaded == {"raw__request_events": 4, "raw__litellm_spend_logs": 10, "raw__otel_spans": 5}


def test_a_correction_reattributes_history_on_the_next_build_and_the_total_stays(built, tmp_path):
    # a copy: landing, warehouse and dbt project, so the other tests keep the first build
    root = tmp_path / "copy"
    shutil.copytree(built["root"], root, ignore=shutil.ignore_patterns("target", "logs"), symlinks=True)
    db, project = root / "w.duckdb", root / "project" / "dbt_models"
    before = _query(db, "select feature from intermediate.int_request_events_attributed where request_id = ?", [A4])
    assert before == [("search-answers",)]
    conserved_before = _conservation(db)
    with (project.parent / "seeds" / "tag_corrections.csv").open("a", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow([A4, "", "feature", "Ticket Summary", "2026-10-01", "", "support bot call logged under search"])
        writer.writerow(["", "RT-7", "team", "platform", "2026-10-05", "2026-10-06", "legal agents run by platform that day"])
    # no new data: only the seed changed, and the next build re-attributes the history
    build = _dbt_build(project, db, root)
    assert build.returncode == 0, build.stdout[-4000:]
    after = dict(_query(db, """
        select request_id, coalesce(feature, '-') || '/' || team from intermediate.int_request_events_attributed
        where request_id in (?, ?, ?)""", [A4, B1, B3]))
    assert after == {A4: "ticket-summary/growth", B1: "-/platform", B3: "-/platform"}
    assert _query(db, "select count(*) from intermediate.int_request_events_attributed where is_tag_corrected")[0][0] == 4
    assert _query(db, "select sum(request_count) from marts.fct_token_spend where record_type = 'request'")[0][0] == len(ALL_REQUESTS)
    assert _conservation(db) == conserved_before


def test_landed_files_are_not_read_again(built, monkeypatch):
    _env(monkeypatch, built["root"])
    count = ("select (select count(*) from raw.request_events) + (select count(*) from raw.litellm_spend_logs) "
             "+ (select count(*) from raw.otel_spans)")
    with duckdb.connect(str(built["db"])) as con:
        before = con.execute(count).fetchone()[0]
    # read-only for the other tests: a second load must change nothing
    again = _materialize(built["instance"])
    seen = {node: again.asset_materializations_for_node(node)[0].metadata
            for node in ("raw__request_events", "raw__litellm_spend_logs", "raw__otel_spans")}
    assert sum(m["files_loaded"].value for m in seen.values()) == 0
    assert sum(m["files_seen"].value for m in seen.values()) == 6
    with duckdb.connect(str(built["db"])) as con:
        assert con.execute(count).fetchone()[0] == before


def test_latest_delivery_shared_response_ids_gateway_teams_and_likely_duplicates(built, tmp_path, monkeypatch):
    # a copy: landing, warehouse and dbt project, so the other tests keep the first build
    root = tmp_path / "copy"
    shutil.copytree(built["root"], root, ignore=shutil.ignore_patterns("target", "logs"), symlinks=True)
    db, project, landing = root / "w.duckdb", root / "project" / "dbt_models", root / "landing"
    _env(monkeypatch, root)
    # the event producer re-delivers A4 corrected (feature and tokens), and logs a call whose span lacks
    # the provider's response id
    (landing / "events" / "2026-10-05-corrections.jsonl").write_text("\n".join(json.dumps(r) for r in [
        {"request_id": A4, "occurred_at": "2026-10-05T10:30:05Z", "provider": "openai",
         "model": "gpt-4.1-mini-2025-04-14", "api_key_id": "key_support", "project_id": "proj_support",
         "uncached_input_tokens": 600, "output_tokens": 95, "feature": "ticket-summary", "team": "growth"},
        {"request_id": "evt-dup-1", "occurred_at": "2026-10-05T13:00:00.123Z", "provider": "openai",
         "model": "gpt-4.1-mini-2025-04-14", "api_key_id": "key_support", "project_id": "proj_support",
         "uncached_input_tokens": 50, "output_tokens": 5, "feature": "search-answers"},
    ]) + "\n")
    # LiteLLM logs its own request id and the provider's response id; one call carries only its team
    (landing / "litellm" / "gateway.jsonl").write_text("\n".join(json.dumps(r) for r in [
        {"request_id": "5d0c1a52-litellm-call-1", "response": {"id": "chatcmpl-shared-1", "choices": []},
         "startTime": "2026-10-05T12:00:00Z", "custom_llm_provider": "openai", "model": "gpt-4.1-mini-2025-04-14",
         "prompt_tokens": 100, "completion_tokens": 10, "metadata": {"spend_logs_metadata": {"feature": "search-answers"}}},
        {"request_id": "chatcmpl-team-only-2", "startTime": "2026-10-05T12:30:00Z", "custom_llm_provider": "openai",
         "model": "gpt-4.1-mini-2025-04-14", "prompt_tokens": 40, "completion_tokens": 4, "team_id": "Platform"},
    ]) + "\n")

    def span(span_id: str, start: str, attributes: dict) -> dict:
        return {"traceId": "ee" * 16, "spanId": span_id, "startTimeUnixNano": start,
                "attributes": [{"key": k, "value": {"intValue": v} if isinstance(v, int) else {"stringValue": v}}
                               for k, v in attributes.items()]}

    chat = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
            "gen_ai.response.model": "gpt-4.1-mini-2025-04-14"}
    (landing / "otel" / "shared.json").write_text(json.dumps({"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": [
        # the same call LiteLLM logged: the provider's response id is shared
        span("a1a1a1a1a1a1a1a1", "1791201600000000000", {**chat, "gen_ai.response.id": "chatcmpl-shared-1",
                                                         "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 10}),
        # the same call as evt-dup-1, without a response id: flagged, not merged
        span("b2b2b2b2b2b2b2b2", "1791205200123000000", {**chat, "app.api_key_id": "key_support",
                                                         "gen_ai.usage.input_tokens": 50, "gen_ai.usage.output_tokens": 5}),
    ]}]}]}))
    # two files that cannot be read as a whole: quarantined, and the rest loads and builds
    (landing / "events" / "exported-by-excel.jsonl").write_bytes(
        '{"request_id": "utf16", "provider": "openai"}\n'.encode("utf-16"))
    (landing / "otel" / "cut-short.json.gz").write_bytes(gzip.compress(b'{"resourceSpans": []}')[:-12])
    result = _materialize(dg.DagsterInstance.ephemeral())
    build = _dbt_build(project, db, root)
    assert build.returncode == 0, build.stdout[-4000:]
    quarantined = _query(db, "select source, regexp_extract(path, '[^/]+$'), quarantine_reason from raw.landed_files "
                             "where quarantine_reason is not null order by 1")
    assert [(s, f) for s, f, _ in quarantined] == [("event_files", "exported-by-excel.jsonl"),
                                                    ("otel_files", "cut-short.json.gz")]
    assert "UTF-16" in quarantined[0][2] and "could not be read" in quarantined[1][2]
    evaluations = {e.asset_key.path[-1]: e for e in result.get_asset_check_evaluations()}
    assert evaluations["request_events"].passed is False and evaluations["otel_spans"].passed is False

    # the latest delivery wins; the superseded copy stays in raw
    assert _query(db, "select feature, output_tokens from intermediate.int_request_events_attributed "
                      "where request_id = ?", [A4]) == [("ticket-summary", 95)]
    corrected, superseded = _query(db, "select count(*) filter (where output_tokens = 95), "
                                       "count(*) filter (where output_tokens <> 95) from raw.request_events "
                                       "where request_id = ?", [A4])[0]
    assert corrected == 1 and superseded >= 1
    # one call, two sources, one request (under the provider's id)
    assert _query(db, "select source_system, source_count from staging.stg_events__requests "
                      "where request_id in ('chatcmpl-shared-1', '5d0c1a52-litellm-call-1')") == [("litellm", 2)]
    # LiteLLM's team of the key attributes a call with no tags
    assert _query(db, "select team, attribution_method from intermediate.int_request_events_attributed "
                      "where request_id = 'chatcmpl-team-only-2'") == [("platform", "gateway_team")]
    # a call the span logged without the response id: flagged with its pair, counted by each source
    pairs = _query(db, "select request_id, other_request_id, source_system, other_source_system "
                       "from intermediate.int_request_likely_duplicates")
    assert pairs == [(f"{'ee' * 16}:b2b2b2b2b2b2b2b2", "evt-dup-1", "otel", "event_file")]
    check = likely_duplicate_requests()
    assert check.passed is False and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["likely_duplicate_pairs"].value == 1
    assert "evt-dup-1" in check.metadata["first_pairs"].value
    assert _conservation(db) == _conservation(built["db"])
