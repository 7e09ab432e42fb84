"""The code location loads, and its lineage runs from every ingest asset to the marts; the demo exists in
demo mode only and nothing else depends on it."""

from __future__ import annotations

import ast
from pathlib import Path

import dagster as dg
import pytest

from dagster_project.cli import load_definitions
from dagster_project.settings import REPO_ROOT

MARTS = ["fct_token_spend", "mart_spend_daily", "mart_feature_spend", "mart_workflow_spend", "mart_team_spend",
         "mart_untagged_spend", "mart_spend_change", "mart_cache_batch_levers", "mart_customer_spend"]
INGEST = ["openai_usage_completions", "openai_costs", "anthropic_usage_messages", "anthropic_cost_report",
          "request_events", "litellm_spend_logs", "otel_spans"]


DEMO_ORG = dg.AssetKey(["demo", "demo_organisation"])


@pytest.fixture(scope="module")
def graph():
    """The live code location (the default mode)."""
    return load_definitions().resolve_asset_graph()


@pytest.fixture(scope="module")
def demo_defs():
    """The code location as demo mode loads it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TOKENSPEND_MODE", "demo")
        return load_definitions()


def upstream(graph, key: dg.AssetKey) -> set[dg.AssetKey]:
    seen, todo = set(), [key]
    while todo:
        for parent in graph.get(todo.pop()).parent_keys:
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


@pytest.mark.parametrize("mart", MARTS)
def test_every_mart_descends_from_the_ingest_assets(graph, mart):
    parents = upstream(graph, dg.AssetKey(["marts", mart]))
    for table in INGEST:
        assert dg.AssetKey(["raw", table]) in parents, (mart, table)


def test_groups_come_from_folders_and_no_asset_is_left_ungrouped(graph):
    groups = {graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert {"ingest_openai", "ingest_anthropic", "ingest_events", "seeds", "staging", "intermediate", "marts"} <= groups
    assert "default" not in groups


def test_no_demo_asset_exists_in_live_mode(graph):
    keys = graph.get_all_asset_keys()
    assert DEMO_ORG not in keys
    assert not [k for k in keys if graph.get(k).group_name == "demo" or k.path[0] == "demo"]


def test_in_demo_mode_no_asset_outside_the_demo_group_depends_on_a_demo_asset(demo_defs):
    graph = demo_defs.resolve_asset_graph()
    demo = {k for k in graph.get_all_asset_keys() if graph.get(k).group_name == "demo"}
    assert demo == {DEMO_ORG}
    for key in graph.get_all_asset_keys() - demo:
        assert not upstream(graph, key) & demo, key


def test_the_modes_differ_only_by_the_demo_asset_and_the_provider_resources(graph, demo_defs):
    demo_graph = demo_defs.resolve_asset_graph()
    assert demo_graph.get_all_asset_keys() - graph.get_all_asset_keys() == {DEMO_ORG}
    assert graph.get_all_asset_keys() <= demo_graph.get_all_asset_keys()
    live = load_definitions()
    assert type(live.resources["openai"]).__name__ == "OpenAIAdminApi"
    assert type(demo_defs.resources["openai"]).__name__ == "DemoOpenAIAdminApi"
    assert type(demo_defs.resources["anthropic"]).__name__ == "DemoAnthropicAdminApi"


def _imports(path: Path) -> list[str]:
    """Every module `path` imports, at any depth of the file (functions too), relative imports made absolute."""
    package = list(path.relative_to(REPO_ROOT).parent.parts)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names += [module] + [f"{module}.{alias.name}" for alias in node.names]
    return names


def test_nothing_under_lib_imports_defs_or_the_demo():
    lib = REPO_ROOT / "dagster_project" / "lib"
    offending = {
        str(path.relative_to(REPO_ROOT)): name
        for path in sorted(lib.rglob("*.py"))
        for name in _imports(path)
        if name.startswith(("dagster_project.defs", "dagster_project.demo"))
    }
    assert offending == {}


def test_nothing_under_defs_imports_the_demo():
    defs = REPO_ROOT / "dagster_project" / "defs"
    offending = {
        str(path.relative_to(REPO_ROOT)): name
        for path in sorted(defs.rglob("*.py"))
        for name in _imports(path)
        if name.startswith("dagster_project.demo")
    }
    assert offending == {}


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
    assert {s.name for s in defs.sensors} >= {"alerts_sensor", "warehouse_build_after_ingest"}
    repository = defs.get_repository_def()
    follows = repository.get_sensor_def("warehouse_build_after_ingest")
    assert isinstance(follows, dg.RunStatusSensorDefinition)
    assert follows.job_name == "warehouse_build"
    assert repository.has_job("provider_ingest") and repository.has_job("warehouse_build")
    assert set(defs.resources) >= {"openai", "anthropic", "dbt"}
