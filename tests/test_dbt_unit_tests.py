"""dbt's unit tests (pricing rules, attribution precedence, allocation, reconciliation algebra, ...).

They test the models' logic on hand-written rows, not the data, so production builds leave them out
(`dbt build --exclude-resource-type unit_test` in the Dagster asset) and the test suite runs them here,
on a copy of the built demo warehouse (dbt reads the input relations' column types from it).
"""

from __future__ import annotations

import json
import shutil

import pytest

from dagster_project import settings
from tests.pricing.small_warehouse import SmallWarehouse

pytestmark = pytest.mark.slow


def test_every_dbt_unit_test_passes(built_warehouse, tmp_path):
    project = tmp_path / "dbt_models"
    shutil.copytree(settings.DBT_PROJECT_DIR, project,
                    ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", ".user.yml", "org_seeds_*"))
    shutil.copytree(settings.SEEDS_DIR, tmp_path / "seeds")
    shutil.copy(built_warehouse["db"], tmp_path / "tokenspend.duckdb")
    wh = SmallWarehouse(root=tmp_path, db=tmp_path / "tokenspend.duckdb", project_dir=project,
                        seeds_dir=tmp_path / "seeds", target=tmp_path / "target")
    wh.dbt("test", "--select", "test_type:unit")  # asserts dbt's exit code
    results = json.loads((wh.target / "run_results.json").read_text())["results"]
    unit = [r for r in results if r["unique_id"].startswith("unit_test.")]
    assert len(unit) >= 20, len(unit)
    assert all(r["status"] == "pass" for r in unit), [r["unique_id"] for r in unit if r["status"] != "pass"]

