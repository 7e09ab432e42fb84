"""The GX context in git: every suite loads in GX, is run by exactly one check, and runs never write to it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dagster as dg

from dagster_project import settings
from dagster_project.defs.quality.checks import gx_checks
from tests.quality.conftest import REPO_EXPECTATIONS

SUITE_FILES = sorted((REPO_EXPECTATIONS / "expectations").glob("*.json"))


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "uncommitted" not in p.relative_to(root).parts
    }


def test_every_suite_loads_in_gx_and_is_used_by_one_check(gx_dir):
    import great_expectations as gx

    context = gx.get_context(mode="file", context_root_dir=str(settings.EXPECTATIONS_DIR))
    names = [p.stem for p in SUITE_FILES]
    assert names, "no suites in expectations/expectations/"
    checks = [c.check_key.name for c in gx_checks]
    for name in names:
        suite = context.suites.get(name)
        assert suite.expectations, f"{name} has no expectations"
        assert context.validation_definitions.get(name).suite.name == name
        assert [vd.name for vd in context.checkpoints.get(name).validation_definitions] == [name]
        assert checks.count(name) == 1, f"suite {name} is run by {checks.count(name)} checks"
    assert sorted(checks) == sorted(names), "a check names a suite that is not in git"


def test_severity_and_blocking_policy():
    """ERROR on a raw table blocks the run; every other check reports and lets it go on."""
    specs = {c.check_key.name: (c.check_key.asset_key, next(iter(c.check_specs))) for c in gx_checks}
    for name, (asset_key, spec) in specs.items():
        assert spec.blocking == (asset_key.path[0] == "raw"), name
        assert asset_key.path[0] in {"raw", "marts"}, name
        assert spec.metadata["severity"] == ("WARN" if name in {"mart_untagged_share", "no_unpriced_spend"} else "ERROR")
    assert specs["raw_request_events"][0] == dg.AssetKey(["raw", "request_events"])
    assert specs["mart_untagged_share"][0] == dg.AssetKey(["marts", "mart_untagged_share"])
    assert specs["no_unpriced_spend"][0] == dg.AssetKey(["marts", "fct_token_spend"])


def test_checks_are_loaded_by_the_definitions():
    from dagster_project.cli import load_definitions

    keys = load_definitions().resolve_asset_graph().asset_check_keys
    assert {c.check_key for c in gx_checks} <= set(keys)


def test_a_run_writes_only_to_uncommitted(run_check, warehouse_db, gx_dir):
    before = _snapshot(gx_dir)
    for check in gx_checks:
        run_check(check.check_key.name)
    assert _snapshot(gx_dir) == before
    assert list((gx_dir / "uncommitted" / "validations").rglob("*.json"))


def test_data_docs_index_is_built_and_named_in_metadata(run_check, gx_dir):
    result = run_check("no_unpriced_spend")
    index = gx_dir / "uncommitted" / "data_docs" / "local_site" / "index.html"
    assert result.metadata["data_docs"].value == str(index)
    assert index.is_file()
    assert "no_unpriced_spend" in index.read_text(encoding="utf-8")
    page = result.metadata["data_docs_validation"].value
    assert page.startswith("file://") and Path(page.removeprefix("file://")).is_file()


def test_a_docs_failure_does_not_fail_the_check(run_check, gx_dir, monkeypatch):
    from dagster_project.defs.quality import gx_check

    def broken(*args, **kwargs):
        raise RuntimeError("renderer exploded")

    monkeypatch.setattr("great_expectations.data_context.AbstractDataContext.build_data_docs", broken)
    result = run_check("no_unpriced_spend")
    assert result.passed
    assert "data_docs" not in result.metadata
    assert gx_check.data_docs_index() == gx_dir / "uncommitted" / "data_docs" / "local_site" / "index.html"


def test_suite_json_is_plain_gx_json():
    for path in SUITE_FILES:
        suite = json.loads(path.read_text(encoding="utf-8"))
        assert suite["name"] == path.stem
        assert suite["notes"], f"{path.name} says what it checks in notes"
