"""The marts BI reads have enforced dbt contracts: every column's type is declared, never-null columns are
NOT NULL, and a build whose SQL breaks either fails and leaves the table as it was."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import duckdb
import pytest
import yaml

from dagster_project import settings
from tests.pricing.small_warehouse import dbt_executable
from tests.quality.conftest import contract_columns, good_row, insert

MARTS_DIR = settings.DBT_PROJECT_DIR / "models" / "marts"


def _mart_models() -> dict[str, dict]:
    models = {}
    for path in sorted(MARTS_DIR.glob("*.yml")):
        for model in yaml.safe_load(path.read_text(encoding="utf-8")).get("models", []):
            models[model["name"]] = model
    return models


def test_every_mart_has_an_enforced_contract_with_every_columns_type():
    models = _mart_models()
    assert set(models) == {p.stem for p in MARTS_DIR.glob("*.sql")}, "every mart is documented"
    for name, model in models.items():
        assert model.get("config", {}).get("contract") == {"enforced": True}, name
        for column in model["columns"]:
            assert column.get("data_type"), (name, column["name"])
            never_null = "Never null" in column.get("description", "")
            constrained = {"type": "not_null"} in column.get("constraints", [])
            assert never_null == constrained, (name, column["name"], "documented never null <=> NOT NULL")


class MartProject:
    """A copy of the dbt project and the seeds, and a warehouse holding only marts.fct_token_spend."""

    def __init__(self, root):
        self.root = root
        self.project = root / "dbt_models"
        shutil.copytree(settings.DBT_PROJECT_DIR, self.project,
                        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", ".user.yml", "org_seeds_*"))
        shutil.copytree(settings.SEEDS_DIR, root / "seeds")
        self.db = root / "tokenspend.duckdb"
        with duckdb.connect(str(self.db)) as con:
            con.execute("create schema marts")
            con.execute(f"create table marts.fct_token_spend ({contract_columns('fct_token_spend')})")
        insert(self.db, "fct_token_spend", [good_row("fct_token_spend", i, cost_usd=1.5) for i in range(2)],
               schema="marts")

    def run(self, model: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "TOKENSPEND_DUCKDB_PATH": str(self.db), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        return subprocess.run(
            [dbt_executable(), "run", "--select", model, "--project-dir", str(self.project),
             "--profiles-dir", str(self.project), "--target-path", str(self.root / "target"),
             "--log-path", str(self.root / "logs")],
            env=env, capture_output=True, text=True, check=False,
        )

    def edit(self, model: str, old: str, new: str) -> None:
        path = self.project / "models" / "marts" / f"{model}.sql"
        sql = path.read_text(encoding="utf-8")
        assert old in sql
        path.write_text(sql.replace(old, new), encoding="utf-8")

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.db), read_only=True) as con:
            return con.execute(sql).fetchall()


@pytest.mark.slow
def test_a_mart_that_breaks_its_contract_fails_the_build_and_keeps_the_table(tmp_path):
    project = MartProject(tmp_path)
    built = project.run("mart_spend_daily")
    assert built.returncode == 0, built.stdout[-4000:]
    columns = """select column_name, data_type, is_nullable from information_schema.columns
                 where table_schema = 'marts' and table_name = 'mart_spend_daily'"""
    declared = {(c, t, n) for c, t, n in project.query(columns)}
    assert ("cost_usd", "DECIMAL(38,9)", "NO") in declared and ("model_key", "VARCHAR", "YES") in declared
    before = project.query("select * from marts.mart_spend_daily order by all")
    assert before[0][3] == 3  # cost_usd: both rows of the day

    # a money column computed as a float: refused before the table is replaced
    project.edit("mart_spend_daily", "sum(cost_usd) as cost_usd", "cast(sum(cost_usd) as double) as cost_usd")
    wrong_type = project.run("mart_spend_daily")
    assert wrong_type.returncode != 0
    assert "enforced contract that failed" in wrong_type.stdout, wrong_type.stdout[-4000:]
    assert re.search(r"\| cost_usd +\| DOUBLE +\| DECIMAL\(38,9\) +\| data type mismatch", wrong_type.stdout)
    assert set(project.query(columns)) == declared
    assert project.query("select * from marts.mart_spend_daily order by all") == before

    # a null in a never-null column: the NOT NULL constraint refuses the rows, the table stays
    project.edit("mart_spend_daily", "cast(sum(cost_usd) as double) as cost_usd", "sum(cost_usd) as cost_usd")
    insert(project.db, "fct_token_spend", [good_row("fct_token_spend", 9, provider=None)], schema="marts")
    null_provider = project.run("mart_spend_daily")
    assert null_provider.returncode != 0
    assert re.search(r"NOT NULL constraint failed: \S+\.provider", null_provider.stdout), null_provider.stdout[-4000:]
    assert project.query("select * from marts.mart_spend_daily order by all") == before
