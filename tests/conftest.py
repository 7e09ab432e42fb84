"""Shared fixtures: every test writes to its own warehouse file and landing folder under tmp_path."""

from __future__ import annotations

import pytest


@pytest.fixture
def warehouse_env(tmp_path, monkeypatch):
    """Point TOKENSPEND_DUCKDB_PATH and TOKENSPEND_LANDING_DIR at tmp_path; no provider keys set."""
    db = tmp_path / "warehouse" / "tokenspend.duckdb"
    landing = tmp_path / "landing"
    monkeypatch.setenv("TOKENSPEND_DUCKDB_PATH", str(db))
    monkeypatch.setenv("TOKENSPEND_LANDING_DIR", str(landing))
    for var in ("OPENAI_ADMIN_KEY", "ANTHROPIC_ADMIN_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    return db, landing


@pytest.fixture(scope="session")
def built_warehouse(tmp_path_factory):
    """The whole warehouse materialised once on the demo organisation, in a session tmp folder.

    Yields the DuckDB path. Tests read it; a test that needs to change data works on a copy.
    """
    import dagster as dg

    from dagster_project.cli import materialize_all

    root = tmp_path_factory.mktemp("built")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TOKENSPEND_DUCKDB_PATH", str(root / "tokenspend.duckdb"))
        mp.setenv("TOKENSPEND_LANDING_DIR", str(root / "landing"))
        for var in ("OPENAI_ADMIN_KEY", "ANTHROPIC_ADMIN_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "DAGSTER_HOME"):
            mp.delenv(var, raising=False)
        instance = dg.DagsterInstance.ephemeral()
        statuses = materialize_all(instance=instance)
        assert statuses and all(s == dg.DagsterRunStatus.SUCCESS for s in statuses)
        yield {"db": root / "tokenspend.duckdb", "landing": root / "landing", "instance": instance}


@pytest.fixture
def warehouse(built_warehouse):
    """A read-only connection to the built warehouse."""
    import duckdb

    con = duckdb.connect(str(built_warehouse["db"]), read_only=True)
    con.execute("set TimeZone = 'UTC'")
    yield con
    con.close()
