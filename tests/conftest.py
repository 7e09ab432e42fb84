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
