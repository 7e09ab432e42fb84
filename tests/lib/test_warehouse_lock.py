"""`connect` waits for another process's short hold on the warehouse file, and gives up on a long one."""

from __future__ import annotations

import threading
import time

import duckdb
import pytest

from dagster_project.lib.warehouse import connect, is_lock_conflict
from tests.duckdb_holder import held


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "tokenspend.duckdb"
    with connect(path) as con:
        con.execute("create table t as select 1 as x")
    return path


def test_a_writer_waits_for_a_short_hold_to_end(db):
    with held(db, read_only=True) as holder:
        threading.Timer(0.5, holder.release).start()  # the other process lets go after half a second
        began = time.monotonic()
        with connect(db, lock_wait_seconds=10) as con:
            con.execute("insert into t values (2)")
        waited = time.monotonic() - began
    assert 0.3 <= waited < 10
    with connect(db, read_only=True) as con:
        assert con.execute("select count(*) from t").fetchone()[0] == 2


def test_a_long_hold_still_fails_with_the_lock_error(db):
    with held(db, read_only=False):
        began = time.monotonic()
        with pytest.raises(duckdb.IOException) as info:
            with connect(db, read_only=True, lock_wait_seconds=0.3):
                pass
        assert time.monotonic() - began < 5
    assert is_lock_conflict(info.value)
    assert not is_lock_conflict(duckdb.IOException("IO Error: No files found that match the pattern"))
