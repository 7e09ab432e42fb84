"""The dbt side, on a copy of the project: the seed tests refuse a hard cap on production, and the
anomaly mart flags a spike on a small synthetic series (and nothing on a flat or a too-young one)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import pytest

DAY0 = dt.date(2026, 1, 1)
SPIKE_DAY = DAY0 + dt.timedelta(days=14)  # the 15th day: 14 prior days


def day(n: int) -> dt.date:
    return DAY0 + dt.timedelta(days=n)


def test_budget_seed_tests_pass_on_the_shipped_seed_and_refuse_bad_rows(dbt_copy, tmp_path):
    db = tmp_path / "seeds_db" / "tokenspend.duckdb"
    db.parent.mkdir()
    select = ["--select", "budgets", "features", "workflows", "teams", "--indirect-selection", "cautious"]
    good = dbt_copy.run(["build", *select], db)
    assert good.returncode == 0, good.stdout[-3000:]
    assert "PASS assert_no_hard_cap_on_production" in good.stdout

    with open(dbt_copy.seeds / "budgets.csv", "a") as f:
        f.write("feature,search-answers,10.00,hard_cap,growth,2026-09-01,\n")      # a production feature
        f.write("workflow,code-review,10.00,hard_cap,platform,2027-01-01,\n")      # a production workflow
        f.write("team,support,10.00,hard_cap,support,2026-09-01,\n")              # a team
        f.write("feature,shadow-tool,10.00,hard_cap,platform,2026-09-01,\n")      # not in the seed
        f.write("workflow,support-triage,10.00,soft,support,2027-02-15,\n")       # starts mid-month
    bad = dbt_copy.run(["build", *select], db)
    assert bad.returncode != 0
    assert "FAIL 4 assert_no_hard_cap_on_production" in bad.stdout, bad.stdout[-3000:]
    assert "FAIL 1 assert_budget_scopes_exist" in bad.stdout
    assert "FAIL 1 assert_budgets_change_on_month_boundaries" in bad.stdout


def synthetic_fact() -> list[tuple]:
    """(usage_date, feature, cost_usd) rows; workflow and team stay null."""
    rows = []
    wobble = ["10.00", "10.50", "9.50"]
    for n in range(14):
        rows.append((day(n), "spiky", wobble[n % 3]))     # median 10, MAD 0.50 -> threshold 12.50
        rows.append((day(n), "flat", "5.00"))
        rows.append((day(n), "tiny", ["0.10", "0.11"][n % 2]))
        if n >= 9:
            rows.append((day(n), "young", "3.00"))         # 5 prior days on the spike day
        if n not in (3, 4, 5):
            rows.append((day(n), "gappy", "2.00"))         # 3 days without spend count as 0
    rows += [
        (SPIKE_DAY, "spiky", "40.00"),
        (SPIKE_DAY, "flat", "5.00"),
        (SPIKE_DAY, "tiny", "0.90"),    # far above its threshold but under the $1 minimum excess
        (SPIKE_DAY, "young", "90.00"),
        (SPIKE_DAY, "gappy", "2.00"),
    ]
    return rows


@pytest.fixture
def anomalies(dbt_copy, tmp_path):
    """Run mart_spend_anomalies over a synthetic marts.fct_token_spend; returns a query function."""
    db = tmp_path / "anomaly_db" / "tokenspend.duckdb"
    db.parent.mkdir()
    with duckdb.connect(str(db)) as con:
        con.execute("create schema marts")
        con.execute("""create table marts.fct_token_spend (usage_date date, feature varchar, workflow varchar,
                       team varchar, cost_usd decimal(38, 9))""")
        con.executemany("insert into marts.fct_token_spend values (?, ?, null, null, ?)", synthetic_fact())

    def run(vars_: str | None = None):
        result = dbt_copy.run(["run", "--select", "mart_spend_anomalies", *(["--vars", vars_] if vars_ else [])], db)
        assert result.returncode == 0, result.stdout[-3000:]
        con = duckdb.connect(str(db), read_only=True)
        try:
            return con.execute("""
                select value, usage_date, cost_usd, prior_days, baseline_median_usd, baseline_mad_usd, threshold_usd,
                       is_anomaly
                from marts.mart_spend_anomalies where dimension = 'feature' order by value, usage_date
            """).fetchall()
        finally:
            con.close()

    return run


def test_a_spike_is_an_anomaly_and_flat_tiny_or_young_series_are_not(anomalies):
    rows = anomalies()
    flagged = [(value, d) for value, d, *_, is_anomaly in rows if is_anomaly]
    assert flagged == [("spiky", SPIKE_DAY)]
    spike = next(r for r in rows if r[0] == "spiky" and r[1] == SPIKE_DAY)
    assert spike[2:7] == (Decimal("40"), 14, Decimal("10"), Decimal("0.5"), Decimal("12.5"))
    young = next(r for r in rows if r[0] == "young" and r[1] == SPIKE_DAY)
    assert young[3] == 5 and not young[-1]
    gappy = [r for r in rows if r[0] == "gappy"]
    assert len(gappy) == 15 and [r[2] for r in gappy[3:6]] == [Decimal(0)] * 3, "days without spend are 0"
    assert next(r for r in gappy if r[1] == SPIKE_DAY)[3] == 14


def test_k_is_a_var(anomalies):
    rows = anomalies('{"anomaly_mad_k": 100}')
    assert not [r for r in rows if r[-1]]
