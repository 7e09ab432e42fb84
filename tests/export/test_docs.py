"""`make docs`: the dbt docs site, with exposures that say who reads which models, generated with the
deployment's paths (nothing exported by hand)."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from dagster_project.defs.dbt.project import dbt_project
from dagster_project.export.docs import main
from tests.conftest import demo_deployment

FOCUS_MODEL = "model.tokenspend.focus_cost_and_usage"


@pytest.fixture(scope="module")
def manifest():
    """The manifest the test session prepared (tests/conftest.py) from the dbt project."""
    return json.loads(dbt_project.manifest_path.read_text())


def marts(manifest) -> set[str]:
    return {uid for uid, node in manifest["nodes"].items()
            if node["resource_type"] == "model" and node["fqn"][1] == "marts"}


def depends_on(manifest, exposure: str) -> set[str]:
    return set(manifest["exposures"][f"exposure.tokenspend.{exposure}"]["depends_on"]["nodes"])


def test_exposures_name_an_owner_and_what_each_reader_reads(manifest):
    from dagster_project.report.sections import SECTIONS

    exposures = manifest["exposures"]
    assert {e["name"] for e in exposures.values()} == {"spend_report", "focus_export", "spreadsheet_export",
                                                       "bi_dashboards"}
    assert all(e["owner"]["name"] and e["owner"]["email"] for e in exposures.values())
    read_by_report = {f"model.tokenspend.{t.split('.', 1)[1]}" for spec in SECTIONS for t in spec.source.tables}
    assert depends_on(manifest, "spend_report") == read_by_report
    assert depends_on(manifest, "focus_export") == {FOCUS_MODEL}
    assert depends_on(manifest, "bi_dashboards") == marts(manifest)  # the published copy holds every mart
    assert depends_on(manifest, "spreadsheet_export") == marts(manifest) | {FOCUS_MODEL}


def generate(root) -> tuple[int, str]:
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        demo_deployment(mp, root)
        with contextlib.redirect_stdout(out):
            status = main(["--demo"])
    return status, out.getvalue()


@pytest.mark.slow
def test_make_docs_builds_the_site_with_the_warehouse_catalog_and_the_exposures(built_warehouse):
    status, output = generate(built_warehouse["root"])
    site = built_warehouse["root"] / "docs"
    assert status == 0 and f"Docs site: {site / 'static_index.html'}" in output
    assert (site / "static_index.html").stat().st_size > 0 and (site / "index.html").exists()
    generated = json.loads((site / "manifest.json").read_text())
    assert depends_on(generated, "focus_export") == {FOCUS_MODEL}
    catalog = json.loads((site / "catalog.json").read_text())["nodes"]
    columns = {c.lower() for c in catalog[FOCUS_MODEL]["columns"]}
    assert {"billedcost", "chargeperiodstart", "skuid", "tags"} <= columns
    assert "model.tokenspend.fct_token_spend" in catalog


def test_make_docs_before_a_first_build_makes_the_site_without_a_catalog(tmp_path):
    status, output = generate(tmp_path)
    assert status == 0 and "without a catalog" in output
    assert json.loads((tmp_path / "docs" / "catalog.json").read_text())["nodes"] == {}
    assert "exposure.tokenspend.spend_report" in json.loads((tmp_path / "docs" / "manifest.json").read_text())["exposures"]
    assert not (tmp_path / "tokenspend.duckdb").exists()  # the deployment's warehouse is not created
