"""The checks inside a Dagster run: they validate everything the run loaded, and a raw ERROR blocks."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import duckdb
import pytest

from tests.quality.conftest import check_by_name, good_row, insert


@pytest.fixture
def run_instance():
    """An instance of its own: it records the materialisation the check reads the load start from."""
    with dg.instance_for_test() as instance:
        yield instance


def _run(warehouse_db, instance, output_tokens: int):
    """Materialise a stand-in for raw/request_events that loads two files, its GX check and a child."""
    con = duckdb.connect(str(warehouse_db))
    con.execute("update raw.request_events set _loaded_at = timestamp '2020-06-01'")  # an older load
    con.close()

    @dg.asset(key=["raw", "request_events"])
    def request_events() -> None:
        # like the file loader: every file of the load has its own _loaded_at
        for n in (1, 2):
            loaded_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            row = good_row("request_events", 100 + n, _source_file=f"landing/request_events/file-{n}.jsonl",
                           _loaded_at=loaded_at, output_tokens=output_tokens if n == 1 else 50)
            insert(warehouse_db, "request_events", [row])

    @dg.asset(deps=[request_events])
    def downstream() -> None:
        pass

    return dg.materialize(
        [request_events, downstream, check_by_name("raw_request_events")],
        instance=instance,
        raise_on_error=False,
    )


def test_in_a_run_every_file_of_the_load_is_validated(warehouse_db, run_instance):
    result = _run(warehouse_db, run_instance, output_tokens=50)
    assert result.success
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.passed
    # both files of this run, none of the earlier load
    assert evaluation.metadata["rows_validated"].value == 2
    assert "load_started_at" in evaluation.metadata
    assert result.asset_materializations_for_node("downstream")


def test_a_raw_contract_error_blocks_what_is_built_on_it(warehouse_db, run_instance):
    result = _run(warehouse_db, run_instance, output_tokens=-5)
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    (failure,) = evaluation.metadata["failures"].value
    assert failure["partial_unexpected_index_list"][0]["_source_file"] == "landing/request_events/file-1.jsonl"
    assert not result.success
    assert not result.asset_materializations_for_node("downstream")
