"""The exports of the built demo warehouse: `make export` run once on it (the build itself wrote the FOCUS
files through the asset exports/focus_files)."""

from __future__ import annotations

import pytest

from tests.conftest import demo_deployment


@pytest.fixture(scope="module")
def exported(built_warehouse):
    """`python -m dagster_project.export --demo` on the built demo: its exit status, output and folder."""
    import contextlib
    import io

    from dagster_project.export.__main__ import main

    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        demo_deployment(mp, built_warehouse["root"])
        with contextlib.redirect_stdout(out):
            status = main(["--demo"])
    return {"status": status, "output": out.getvalue(), "dir": built_warehouse["root"] / "exports",
            **built_warehouse}


@pytest.fixture
def files(exported):
    """An in-memory DuckDB in UTC to read the exported files with."""
    import duckdb

    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    yield con
    con.close()


def typed_csv(files, parquet: str, csv: str) -> str:
    """A CSV file read with its Parquet twin's column types, so its text is checked as the values it holds."""
    types = {name: kind for name, kind, *_ in files.execute(f"describe select * from read_parquet('{parquet}')").fetchall()}
    return f"read_csv('{csv}', header = true, auto_detect = false, delim = ',', quote = '\"', columns = {types!r})"
