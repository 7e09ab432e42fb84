"""A small warehouse with every mart built (the pricing tests' raw rows), and copies of it a test may
rebuild, publish and change; TOKENSPEND_DUCKDB_PATH points at the copy."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.pricing.small_warehouse import SmallWarehouse, build_small_warehouse, dbt_executable


@pytest.fixture(scope="session")
def small_marts(tmp_path_factory) -> SmallWarehouse:
    """The small warehouse with every mart, built once per session; tests work on copies."""
    wh = build_small_warehouse(tmp_path_factory.mktemp("publish"))
    wh.dbt("run", "--select", "+marts")
    assert not wh.db.with_name(wh.db.name + ".wal").exists()
    return wh


@pytest.fixture
def working(small_marts, tmp_path, monkeypatch) -> SmallWarehouse:
    """A copy of the small warehouse under tmp_path, as TOKENSPEND_DUCKDB_PATH (published path: the default)."""
    db = tmp_path / "warehouse" / "tokenspend.duckdb"
    db.parent.mkdir(parents=True)
    shutil.copyfile(small_marts.db, db)
    monkeypatch.setenv("TOKENSPEND_DUCKDB_PATH", str(db))
    monkeypatch.delenv("TOKENSPEND_PUBLISHED_PATH", raising=False)
    return dataclasses.replace(small_marts, root=tmp_path, db=db, target=tmp_path / "target")


def published_of(wh: SmallWarehouse) -> Path:
    return wh.db.parent / "published" / wh.db.name


def run_dbt(wh: SmallWarehouse, *args: str) -> subprocess.CompletedProcess:
    """dbt against the warehouse copy, returning the result whether or not it succeeded."""
    env = {**os.environ, "TOKENSPEND_DUCKDB_PATH": str(wh.db), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    return subprocess.run(
        [dbt_executable(), *args, "--project-dir", str(wh.project_dir), "--profiles-dir", str(wh.project_dir),
         "--target-path", str(wh.target), "--log-path", str(wh.root / "logs")],
        env=env, capture_output=True, text=True, check=False,
    )
