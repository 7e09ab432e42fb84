"""`make export` (`python -m dagster_project.export --demo`) on the built demo: a CSV and a Parquet file per
mart and for the FOCUS export, with the tables' rows; a re-run replaces them; the warehouse is only read."""

from __future__ import annotations

import contextlib
import io
import re
import shutil

import pytest

from dagster_project.export.__main__ import main
from tests.conftest import demo_deployment
from tests.duckdb_holder import held
from tests.export.conftest import typed_csv

pytestmark = pytest.mark.slow


def run_export(root) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        demo_deployment(mp, root)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(["--demo"])
    return status, out.getvalue(), err.getvalue()


def table_files(warehouse, export_dir) -> dict[str, tuple[int, object, object]]:
    """schema.table -> (rows in the warehouse, its CSV, its Parquet) for every mart and the FOCUS export."""
    marts = [r[0] for r in warehouse.execute(
        "select table_name from information_schema.tables where table_schema = 'marts' order by 1").fetchall()]
    wanted = {f"marts.{t}": export_dir / "marts" / t for t in marts}
    wanted["exports.focus_cost_and_usage"] = export_dir / "focus" / "focus_cost_and_usage"
    return {
        relation: (warehouse.execute(f"select count(*) from {relation}").fetchone()[0],
                   base.with_suffix(".csv"), base.with_suffix(".parquet"))
        for relation, base in wanted.items()
    }


def test_every_mart_and_the_focus_export_are_written_as_csv_and_parquet_with_the_tables_rows(
        exported, warehouse, files):
    assert exported["status"] == 0, exported["output"]
    assert re.search(r"the warehouse was read for \d+\.\d s", exported["output"])
    tables = table_files(warehouse, exported["dir"])
    assert "marts.fct_token_spend" in tables and len(tables) > 10
    for relation, (rows, csv, parquet) in tables.items():
        assert f"{relation}: {rows:,} rows" in exported["output"]
        assert files.execute(f"select count(*) from read_parquet('{parquet}')").fetchone()[0] == rows, relation
        assert files.execute(f"select count(*) from {typed_csv(files, str(parquet), str(csv))}").fetchone()[0] == rows
    # the CSV's text is the fact's exact values (money to the nano-dollar)
    _, csv, parquet = tables["marts.fct_token_spend"]
    assert files.execute(f"""select count(*) from (select * from read_parquet('{parquet}')
                             except all select * from {typed_csv(files, str(parquet), str(csv))})""").fetchone()[0] == 0
    assert (files.execute(f"select sum(cost_usd) from read_parquet('{parquet}')").fetchone()[0]
            == warehouse.execute("select sum(cost_usd) from marts.fct_token_spend").fetchone()[0])


def test_a_rerun_replaces_the_files_and_removes_those_of_marts_that_are_gone(exported, warehouse, files):
    tables = table_files(warehouse, exported["dir"])
    rows, csv, parquet = tables["marts.mart_spend_daily"]
    with open(csv, "a", encoding="utf-8") as handle:  # a line that is not the table's
        handle.write("junk\n")
    gone = exported["dir"] / "marts" / "mart_that_was_removed.parquet"
    shutil.copy(parquet, gone)
    status, output, _ = run_export(exported["root"])
    assert status == 0
    assert files.execute(f"select count(*) from {typed_csv(files, str(parquet), str(csv))}").fetchone()[0] == rows
    assert "junk" not in csv.read_text(encoding="utf-8")
    assert not gone.exists() and "removed marts/mart_that_was_removed.parquet" in output
    leftovers = [p for folder in ("marts", "focus") for p in (exported["dir"] / folder).iterdir()
                 if p.name.startswith(".")]
    assert leftovers == []


def test_while_another_process_holds_the_warehouse_nothing_is_written(built_warehouse, tmp_path):
    shutil.copy(built_warehouse["db"], tmp_path / "tokenspend.duckdb")
    status, _, _ = run_export(tmp_path)
    assert status == 0
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "exports").rglob("*") if p.is_file()}
    with held(tmp_path / "tokenspend.duckdb", read_only=False):
        status, _, err = run_export(tmp_path)
    assert status == 2 and "held by another process" in err, err
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "exports").rglob("*") if p.is_file()} == before


def test_with_no_warehouse_it_says_to_build_first(tmp_path):
    status, _, err = run_export(tmp_path)
    assert status == 2 and f"no warehouse at {tmp_path / 'tokenspend.duckdb'}" in err and "make run" in err
    assert not (tmp_path / "tokenspend.duckdb").exists() and not (tmp_path / "exports").exists()
