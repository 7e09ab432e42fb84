"""The code location loads, and its lineage runs from every ingest asset to the marts."""

from __future__ import annotations

import dagster as dg
import pytest

from dagster_project.cli import load_definitions

MARTS = ["fct_token_spend", "mart_spend_daily", "mart_feature_spend", "mart_workflow_spend", "mart_team_spend",
         "mart_untagged_spend"]
INGEST = ["openai_usage_completions", "openai_costs", "anthropic_usage_messages", "anthropic_cost_report",
          "request_events"]


@pytest.fixture(scope="module")
def graph():
    return load_definitions().resolve_asset_graph()


def upstream(graph, key: dg.AssetKey) -> set[dg.AssetKey]:
    seen, todo = set(), [key]
    while todo:
        for parent in graph.get(todo.pop()).parent_keys:
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


@pytest.mark.parametrize("mart", MARTS)
def test_every_mart_descends_from_the_ingest_assets_and_the_demo(graph, mart):
    parents = upstream(graph, dg.AssetKey(["marts", mart]))
    for table in INGEST:
        assert dg.AssetKey(["raw", table]) in parents, (mart, table)
    assert dg.AssetKey(["demo", "demo_organisation"]) in parents


def test_groups_come_from_folders_and_no_asset_is_left_ungrouped(graph):
    groups = {graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert {"demo", "ingest_openai", "ingest_anthropic", "ingest_events", "seeds", "staging", "intermediate", "marts"} <= groups
    assert "default" not in groups


def test_provider_assets_are_daily_partitioned_with_single_run_backfills(graph):
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.group_name in ("ingest_openai", "ingest_anthropic"):
            assert isinstance(node.partitions_def, dg.DailyPartitionsDefinition), key
            assert node.backfill_policy == dg.BackfillPolicy.single_run(), key
        else:
            assert not node.is_partitioned, key


def test_checks_and_schedules_are_defined(graph):
    defs = load_definitions()
    checks = {k.name for k in graph.asset_check_keys}
    assert {"untagged_spend_share", "assert_fct_token_spend_conserves_billed_cost"} <= checks
    assert {s.name for s in defs.schedules} >= {"provider_ingest_daily", "warehouse_build_daily"}
    assert set(defs.resources) >= {"openai", "anthropic", "dbt"}
