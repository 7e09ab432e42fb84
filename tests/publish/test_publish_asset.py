"""The `published/warehouse` asset: downstream of every mart and the alert state, last in its run, and
refused while an error-severity check on the marts failed."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from dagster_project.cli import load_definitions
from dagster_project.defs.publish.assets import PUBLISHED, published_warehouse
from tests.publish.conftest import published_of

FCT = dg.AssetKey(["marts", "fct_token_spend"])
CONTRACT = "assert_fct_token_spend_conserves_billed_cost"  # an error-severity check of the code location on the fact


def run_id_published(wh) -> str:
    with duckdb.connect(str(published_of(wh)), read_only=True) as con:
        return con.execute("select run_id from ops.publication").fetchone()[0]


@dg.asset(key=FCT)
def fct_token_spend() -> None:
    """Stands in for the dbt model (the small warehouse already holds the table)."""


def check_on_fct(name: str, severity: dg.AssetCheckSeverity, passed: bool) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=FCT, name=name, blocking=False)
    def _check() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=passed, severity=severity)

    return _check


def test_publish_is_downstream_of_every_mart_and_the_alerts_and_runs_last():
    graph = load_definitions().resolve_asset_graph()
    node = graph.get(dg.AssetKey(["published", "warehouse"]))
    marts = {k for k in graph.get_all_asset_keys() if graph.get(k).group_name == "marts"}
    assert marts and set(node.parent_keys) == marts | {dg.AssetKey(["ops", "alerts"])} == set(PUBLISHED)
    assert node.group_name == "publish" and not node.is_partitioned
    assert published_warehouse.op.tags["dagster/priority"] == "-100"


def test_the_asset_publishes_and_records_its_run(working):
    with dg.instance_for_test() as instance:
        result = dg.materialize([published_warehouse], instance=instance)
    assert result.success
    assert run_id_published(working) == result.run_id
    (mat,) = result.get_asset_materialization_events()
    meta = mat.materialization.metadata
    assert meta["path"].value == str(published_of(working))
    assert meta["tables"].value["marts.fct_token_spend"] == meta["fct_token_spend_rows"].value > 0


def test_a_failed_error_check_on_a_mart_means_no_publish(working):
    with dg.instance_for_test() as instance:
        first = dg.materialize([published_warehouse], instance=instance)
        # the failing check (a non-blocking stand-in for it) runs before the publish, which has the lowest
        # priority; only the publish's own verdict keeps the copy from being replaced
        failed = dg.materialize([fct_token_spend, published_warehouse, check_on_fct(CONTRACT, dg.AssetCheckSeverity.ERROR, False)],
                                instance=instance, raise_on_error=False)
        assert not failed.success
        assert run_id_published(working) == first.run_id, "the previous version stays published"
        (failure,) = [e for e in failed.all_events if e.is_step_failure]
        assert f"error-severity check(s) failed on the marts (marts/fct_token_spend:{CONTRACT})" in str(
            failure.step_failure_data.error)
        # a run of the publish alone has no checks in its job; the code location's latest verdict still counts
        alone = dg.materialize([published_warehouse], instance=instance, raise_on_error=False)
        assert not alone.success and run_id_published(working) == first.run_id
        # the check passes again: published
        fixed = dg.materialize([fct_token_spend, published_warehouse, check_on_fct(CONTRACT, dg.AssetCheckSeverity.ERROR, True)],
                               instance=instance)
        assert fixed.success and run_id_published(working) == fixed.run_id


@pytest.mark.parametrize("severity", [dg.AssetCheckSeverity.WARN])
def test_a_failed_warning_check_still_publishes(working, severity):
    with dg.instance_for_test() as instance:
        result = dg.materialize([fct_token_spend, published_warehouse, check_on_fct("untagged", severity, False)], instance=instance)
    assert result.success and run_id_published(working) == result.run_id
