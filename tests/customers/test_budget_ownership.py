"""The budget-ownership check: once more than two production workflows have spend in the month in progress,
every production feature or workflow with spend that month and no budget in force or no owner is named,
with its spend (WARN, never blocking).

The marts it reads are created with the columns and types of their dbt contracts and filled with rows a
test chooses; every test starts from a month in which each production scope is budgeted and owned.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import jinja2
import pytest
import yaml

from dagster_project import settings
from dagster_project.defs.checks.budget_ownership import (
    PRODUCTION_WORKFLOWS_BEFORE_CHECK,
    budget_ownership,
    production_spend_has_budget_and_owner,
)

MARTS_DIR = settings.DBT_PROJECT_DIR / "models" / "marts"
SEPTEMBER, OCTOBER = dt.date(2026, 9, 1), dt.date(2026, 10, 1)


def contract_columns(model: str) -> str:
    """A mart's dbt contract as a column list for CREATE TABLE (names and DuckDB types)."""
    for path in sorted(MARTS_DIR.glob("_*__models.yml")):
        for m in yaml.safe_load(path.read_text(encoding="utf-8")).get("models", []):
            if m["name"] == model:
                return ", ".join(f"{c['name']} {jinja2.Template(c['data_type']).render(target={'type': 'duckdb'})}"
                                 for c in m["columns"])
    raise LookupError(model)


def _insert(con, table: str, rows: list[dict]) -> None:
    for row in rows:
        names = ", ".join(row)
        con.execute(f"insert into marts.{table} ({names}) values ({', '.join('?' for _ in row)})", list(row.values()))


def feature(name, month, cost, owner="growth", production=True):
    return {"feature": name, "period_start": month, "is_attributed": True, "owner_team": owner,
            "is_production": production, "requests": 1, "interactions": 1, "total_tokens": 1,
            "cost_usd": Decimal(cost)}


def workflow(name, month, cost, owner="support", production=True):
    return {"workflow": name, "period_start": month, "is_attributed": True, "owner_team": owner,
            "is_production": production, "cost_usd": Decimal(cost), "requests": 1, "tasks_started": 1,
            "completed_tasks": 1, "successful_tasks": 1, "follow_up_tasks": 0}


def budget(scope_type, scope, month, owner="finops", amount="100"):
    return {"budget_status_id": f"{scope_type}-{scope}-{month}", "scope_type": scope_type, "scope": scope,
            "period_start": month, "as_of_date": OCTOBER + dt.timedelta(days=20), "is_current_period": month == OCTOBER,
            "days_elapsed": 21, "days_in_month": 31, "policy": "soft", "owner": owner,
            "monthly_budget_usd": Decimal(amount)}


WORKFLOWS = ("support-triage", "invoice-processing", "code-review")
FEATURES = ("search-answers", "doc-extraction")


@pytest.fixture
def marts(tmp_path, monkeypatch) -> Path:
    """A warehouse whose October has three production workflows and two production features with spend,
    each with a budget in force and an owner (and a September nobody budgeted)."""
    db = tmp_path / "tokenspend.duckdb"
    monkeypatch.setenv("TOKENSPEND_DUCKDB_PATH", str(db))
    with duckdb.connect(str(db)) as con:
        con.execute("create schema marts")
        for mart in ("mart_feature_spend", "mart_workflow_spend", "mart_budget_status"):
            con.execute(f"create table marts.{mart} ({contract_columns(mart)})")
        _insert(con, "mart_workflow_spend", [workflow(w, m, "10.5") for w in WORKFLOWS for m in (SEPTEMBER, OCTOBER)]
                + [workflow("(unattributed)", OCTOBER, "99", owner=None, production=None)])
        _insert(con, "mart_feature_spend", [feature(f, m, "7.25") for f in FEATURES for m in (SEPTEMBER, OCTOBER)]
                + [feature("internal-assistant", OCTOBER, "3", production=False),
                   feature("(unattributed)", OCTOBER, "50", owner=None, production=None)])
        _insert(con, "mart_budget_status", [budget("workflow", w, OCTOBER) for w in WORKFLOWS]
                + [budget("feature", f, OCTOBER) for f in FEATURES])
    return db


def run(db: Path, sql: str = "") -> dg.AssetCheckResult:
    if sql:
        with duckdb.connect(str(db)) as con:
            con.execute(sql)
    result = production_spend_has_budget_and_owner()
    assert result.severity == dg.AssetCheckSeverity.WARN
    return result


def test_the_check_is_a_warning_on_the_budget_mart_that_never_blocks():
    spec = next(iter(production_spend_has_budget_and_owner.check_specs))
    assert spec.asset_key == dg.AssetKey(["marts", "mart_budget_status"])
    assert not spec.blocking
    assert {d.asset_key for d in spec.additional_deps} == {
        dg.AssetKey(["marts", "mart_feature_spend"]), dg.AssetKey(["marts", "mart_workflow_spend"])}


def test_it_is_loaded_with_the_code_location():
    from dagster_project.cli import load_definitions

    keys = load_definitions().resolve_asset_graph().asset_check_keys
    assert dg.AssetCheckKey(dg.AssetKey(["marts", "mart_budget_status"]), "production_spend_has_budget_and_owner") in keys


def test_passes_when_every_production_scope_with_spend_has_a_budget_and_an_owner(marts):
    result = run(marts)
    assert result.passed, result.description
    assert result.metadata["month"].value == "2026-10"
    assert result.metadata["production_workflows_with_spend"].value == len(WORKFLOWS)
    assert result.metadata["scopes_without_budget_or_owner"].value == 0
    assert result.metadata["scope_list"].value == []


def test_names_a_production_workflow_without_a_budget_with_its_spend(marts):
    result = run(marts, "delete from marts.mart_budget_status where scope = 'invoice-processing'")
    assert not result.passed
    assert result.metadata["scope_list"].value == [
        {"scope_type": "workflow", "scope": "invoice-processing", "cost_usd": "10.500000000", "has_budget": False,
         "owner": "support", "missing": ["no budget"]}]
    assert "workflow invoice-processing $10.50 (no budget)" in result.description
    assert "| workflow | invoice-processing | 10.50 | none | support | no budget |" in result.metadata["scopes"].value
    assert result.metadata["unbudgeted_or_unowned_spend_usd"].value == 10.5


def test_a_budget_of_another_month_is_not_in_force(marts):
    result = run(marts, "update marts.mart_budget_status set period_start = date '2026-09-01' "
                        "where scope = 'doc-extraction'")
    assert [g["scope"] for g in result.metadata["scope_list"].value] == ["doc-extraction"]


def test_names_a_scope_whose_budget_and_seed_row_name_no_owner(marts):
    # the budget's owner answers for the spend; without it, the feature's owning team does
    result = run(marts, """
        update marts.mart_budget_status set owner = null where scope in ('search-answers', 'doc-extraction');
        update marts.mart_feature_spend set owner_team = null where feature = 'search-answers';
    """)
    assert not result.passed
    assert result.metadata["scope_list"].value == [
        {"scope_type": "feature", "scope": "search-answers", "cost_usd": "7.250000000", "has_budget": True,
         "owner": None, "missing": ["no owner"]}]


def test_lists_every_gap_largest_spend_first_and_both_reasons(marts):
    result = run(marts, """
        delete from marts.mart_budget_status where scope in ('code-review', 'search-answers');
        update marts.mart_feature_spend set owner_team = ' ' where feature = 'search-answers';
        update marts.mart_workflow_spend set cost_usd = 20 where workflow = 'code-review';
    """)
    listed = [(g["scope_type"], g["scope"], g["missing"]) for g in result.metadata["scope_list"].value]
    assert listed == [("workflow", "code-review", ["no budget"]),
                      ("feature", "search-answers", ["no budget", "no owner"])]
    assert result.metadata["scopes_without_budget_or_owner"].value == 2
    assert result.metadata["unbudgeted_or_unowned_spend_usd"].value == 27.25


def test_non_production_unattributed_and_spendless_scopes_are_not_named(marts):
    # internal-assistant (not production) and '(unattributed)' have spend and no budget already
    result = run(marts, "update marts.mart_feature_spend set cost_usd = 0 where feature = 'doc-extraction';"
                        "delete from marts.mart_budget_status where scope = 'doc-extraction'")
    assert result.passed, result.description


def test_applies_only_once_more_than_two_production_workflows_have_spend(marts):
    unbudgeted = "delete from marts.mart_budget_status where scope_type = 'feature';"
    assert PRODUCTION_WORKFLOWS_BEFORE_CHECK == 2
    assert not run(marts, unbudgeted).passed  # three workflows with spend
    quiet = run(marts, "update marts.mart_workflow_spend set cost_usd = 0 "
                       "where workflow = 'code-review' and period_start = date '2026-10-01'")
    assert quiet.passed
    assert quiet.metadata["production_workflows_with_spend"].value == 2
    assert quiet.metadata["scope_list"].value == []
    assert "from 3" in quiet.description


def test_looks_at_the_month_in_progress_only(marts):
    # September has the same scopes with spend and no budget at all: it is not named
    with duckdb.connect(str(marts)) as con:
        m = budget_ownership(con)
    assert m["month"] == OCTOBER and m["applies"] and m["gaps"] == []


def test_an_empty_warehouse_passes(marts):
    result = run(marts, "delete from marts.mart_feature_spend; delete from marts.mart_workflow_spend")
    assert result.passed
    assert result.metadata["month"].value == "(no spend)"
