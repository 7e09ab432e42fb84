"""Shared fixtures: every test writes to its own warehouse file and landing folder under tmp_path.

The tests never touch the repository's `warehouse/`: the demo deployment's folder (TOKENSPEND_DEMO_DIR)
is a session temporary folder, and the mode is live unless a test says demo.
"""

from __future__ import annotations

import pytest

PROVIDER_VARS = ("OPENAI_ADMIN_KEY", "ANTHROPIC_ADMIN_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL")


def pytest_sessionstart(session):
    """Prepare the dbt manifest before collection: test modules import the code location, which loads
    the manifest but never parses the dbt project itself (a fresh checkout has none yet)."""
    from dagster_project.defs.dbt.project import prepare_manifest

    prepare_manifest()


@pytest.fixture(scope="session", autouse=True)
def isolated_deployments(tmp_path_factory):
    """A demo folder of the session's own, live mode, no provider selection."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TOKENSPEND_DEMO_DIR", str(tmp_path_factory.mktemp("demo_deployment")))
        for var in ("TOKENSPEND_MODE", "TOKENSPEND_PROVIDERS"):
            mp.delenv(var, raising=False)
        yield


@pytest.fixture
def warehouse_env(tmp_path, monkeypatch):
    """Live mode on TOKENSPEND_DUCKDB_PATH and TOKENSPEND_LANDING_DIR under tmp_path; no provider keys set."""
    db = tmp_path / "warehouse" / "tokenspend.duckdb"
    landing = tmp_path / "landing"
    monkeypatch.setenv("TOKENSPEND_DUCKDB_PATH", str(db))
    monkeypatch.setenv("TOKENSPEND_LANDING_DIR", str(landing))
    for var in PROVIDER_VARS:
        monkeypatch.delenv(var, raising=False)
    return db, landing


def demo_deployment(mp: pytest.MonkeyPatch, folder) -> None:
    """Demo mode with its deployment in `folder` (warehouse file, landing, published copy, exports)."""
    mp.setenv("TOKENSPEND_MODE", "demo")
    mp.setenv("TOKENSPEND_DEMO_DIR", str(folder))
    for var in (*PROVIDER_VARS, "DAGSTER_HOME"):
        mp.delenv(var, raising=False)


@pytest.fixture(scope="session")
def built_warehouse(tmp_path_factory):
    """The whole warehouse materialised once on the demo organisation, in demo mode, with the demo's
    deployment in a session tmp folder.

    Yields the DuckDB path. Tests read it; a test that needs to change data works on a copy; a test that
    runs assets on it enters its deployment with `in_built_demo`.
    """
    import dagster as dg

    from dagster_project.cli import materialize_all

    root = tmp_path_factory.mktemp("built")
    with pytest.MonkeyPatch.context() as mp:
        demo_deployment(mp, root)
        instance = dg.DagsterInstance.ephemeral()
        statuses = materialize_all(instance=instance)
        assert statuses and all(s == dg.DagsterRunStatus.SUCCESS for s in statuses)
    return {"db": root / "tokenspend.duckdb", "landing": root / "landing", "instance": instance, "root": root}


@pytest.fixture
def in_built_demo(built_warehouse, monkeypatch):
    """Demo mode on the built warehouse's deployment, for a test that runs assets or checks on it."""
    demo_deployment(monkeypatch, built_warehouse["root"])
    return built_warehouse


@pytest.fixture
def warehouse(built_warehouse):
    """A read-only connection to the built warehouse."""
    import duckdb

    con = duckdb.connect(str(built_warehouse["db"]), read_only=True)
    con.execute("set TimeZone = 'UTC'")
    yield con
    con.close()
