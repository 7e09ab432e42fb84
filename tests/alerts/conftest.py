"""Fixtures for the alert tests: a tmp warehouse whose budget and anomaly marts the test writes, and a
copy of the dbt project (with the seeds) that a test can edit and run dbt on without touching the repo.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from dagster_project import settings

AS_OF = dt.date(2026, 10, 30)
OCTOBER = dt.date(2026, 10, 1)

BUDGET_STATUS_DDL = """
create or replace table marts.mart_budget_status (
    budget_status_id varchar, scope_type varchar, scope varchar, period_start date, as_of_date date,
    is_current_period boolean, days_elapsed integer, days_in_month integer, policy varchar, owner varchar,
    is_production boolean, monthly_budget_usd decimal(38, 9), spend_to_date_usd decimal(38, 9),
    remaining_usd decimal(38, 9), forecast_month_end_usd decimal(38, 9), share_of_budget decimal(38, 9),
    forecast_share decimal(38, 9), status varchar, action varchar
)
"""

ANOMALIES_DDL = """
create or replace table marts.mart_spend_anomalies (
    spend_anomaly_id varchar, usage_date date, dimension varchar, value varchar, is_attributed boolean,
    cost_usd decimal(38, 9), prior_days integer, baseline_median_usd decimal(38, 9),
    baseline_mad_usd decimal(38, 9), threshold_usd decimal(38, 9), deviation_usd decimal(38, 9),
    mad_score decimal(38, 9), is_anomaly boolean
)
"""


def budget_row(scope: str, spend: str, budget: str, scope_type: str = "workflow", policy: str = "soft",
               period_start: dt.date = OCTOBER, as_of: dt.date = AS_OF, is_production: bool | None = True,
               owner: str = "platform") -> dict:
    """One mart_budget_status row as the mart computes it (linear forecast, status, action)."""
    next_month = (period_start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    days_in_month = (next_month - period_start).days
    current = period_start <= as_of < next_month
    elapsed = (as_of - period_start).days + 1 if current else days_in_month
    spend_d, budget_d = Decimal(spend), Decimal(budget)
    forecast = (spend_d * days_in_month / elapsed).quantize(Decimal("0.000000001"))
    status = "breached" if spend_d > budget_d else "at_risk" if forecast > budget_d else "ok"
    action = ("enforce_cap" if policy == "hard_cap" and status == "breached"
              else "alert" if status != "ok" else "none")
    return {
        "budget_status_id": f"{scope_type}:{scope}:{period_start}", "scope_type": scope_type, "scope": scope,
        "period_start": period_start, "as_of_date": as_of, "is_current_period": current,
        "days_elapsed": elapsed, "days_in_month": days_in_month, "policy": policy, "owner": owner,
        "is_production": is_production, "monthly_budget_usd": budget_d, "spend_to_date_usd": spend_d,
        "remaining_usd": budget_d - spend_d, "forecast_month_end_usd": forecast,
        "share_of_budget": (spend_d / budget_d).quantize(Decimal("0.000000001")),
        "forecast_share": (forecast / budget_d).quantize(Decimal("0.000000001")),
        "status": status, "action": action,
    }


def anomaly_row(value: str, day: dt.date, cost: str = "40", dimension: str = "feature",
                is_anomaly: bool = True) -> dict:
    return {
        "spend_anomaly_id": f"{day}:{dimension}:{value}", "usage_date": day, "dimension": dimension,
        "value": value, "is_attributed": True, "cost_usd": Decimal(cost), "prior_days": 14,
        "baseline_median_usd": Decimal("10"), "baseline_mad_usd": Decimal("0.5"),
        "threshold_usd": Decimal("12.5"), "deviation_usd": Decimal(cost) - 10,
        "mad_score": (Decimal(cost) - 10) / Decimal("0.5"), "is_anomaly": is_anomaly,
    }


def _replace(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict]) -> None:
    con.execute(f"delete from marts.{table}")
    for row in rows:
        columns = ", ".join(row)
        con.execute(f"insert into marts.{table} ({columns}) values ({', '.join('?' * len(row))})", list(row.values()))


class Marts:
    """The tmp warehouse's two marts; `set_*` replaces a mart's rows (what a rebuild would do)."""

    def __init__(self, path: Path):
        self.path = path

    def connect(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(str(self.path))
        con.execute("set TimeZone = 'UTC'")
        return con

    def set_budgets(self, rows: list[dict]) -> None:
        with self.connect() as con:
            _replace(con, "mart_budget_status", rows)

    def set_anomalies(self, rows: list[dict]) -> None:
        with self.connect() as con:
            _replace(con, "mart_spend_anomalies", rows)


@pytest.fixture
def marts(tmp_path, monkeypatch) -> Marts:
    """An empty tmp warehouse with the two marts; TOKENSPEND_DUCKDB_PATH and TOKENSPEND_EXPORT_DIR point into tmp_path."""
    path = tmp_path / "warehouse" / "tokenspend.duckdb"
    path.parent.mkdir(parents=True)
    monkeypatch.setenv("TOKENSPEND_DUCKDB_PATH", str(path))
    monkeypatch.setenv("TOKENSPEND_EXPORT_DIR", str(tmp_path / "exports"))
    monkeypatch.delenv("TOKENSPEND_ALERT_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("TOKENSPEND_ANOMALY_ALERT_DAYS", raising=False)
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute(BUDGET_STATUS_DDL)
        con.execute(ANOMALIES_DDL)
    return Marts(path)


def dbt_executable() -> str:
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else "dbt"


class DbtCopy:
    """A copy of dbt_models/ and seeds/ in a tmp folder, and `run` for dbt against a warehouse file."""

    def __init__(self, root: Path):
        self.root = root
        self.project = root / "dbt_models"
        self.seeds = root / "seeds"

    def run(self, args: list[str], db: Path) -> subprocess.CompletedProcess:
        env = {**os.environ, "TOKENSPEND_DUCKDB_PATH": str(db)}
        return subprocess.run(
            [dbt_executable(), *args, "--project-dir", str(self.project), "--profiles-dir", str(self.project),
             "--target-path", str(db.parent / "target"), "--log-path", str(db.parent / "logs")],
            env=env, capture_output=True, text=True, check=False,
        )


@pytest.fixture
def dbt_copy(tmp_path) -> DbtCopy:
    """The dbt project and seeds copied into tmp_path (edit the copy's seeds freely)."""
    root = tmp_path / "project"
    ignore = shutil.ignore_patterns("target", "logs", "dbt_packages", ".user.yml")
    shutil.copytree(settings.DBT_PROJECT_DIR, root / "dbt_models", ignore=ignore)
    shutil.copytree(settings.SEEDS_DIR, root / "seeds")
    return DbtCopy(root)


@pytest.fixture
def log_records() -> tuple[Callable, list[str]]:
    """A stand-in for context.log that keeps every message (level, text)."""
    messages: list[str] = []

    class Log:
        def __getattr__(self, level):
            return lambda msg, *a, **k: messages.append(f"{level}: {msg}")

    return Log(), messages
