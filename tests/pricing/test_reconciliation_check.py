"""The reconciliation asset check: tolerance and accepted causes from the environment, the day x provider
variance, and a description that names the day, the provider and the largest cause."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import dagster as dg
import duckdb
import pytest

from dagster_project.defs.checks import reconciliation as rc

D1, D2 = dt.date(2026, 10, 1), dt.date(2026, 10, 2)


def make_mart(path, rows):
    """marts.mart_reconciliation with the columns the check reads; rows: (day, provider, billed, estimate,
    {cause: usd}, is_unpriced, model_key, unpriced_tokens)."""
    con = duckdb.connect(str(path))
    causes = ", ".join(f"{c}_usd decimal(38, 9)" for c in rc.CAUSES)
    con.execute(f"""create schema marts; create table marts.mart_reconciliation (
        usage_date date, provider varchar, model_key varchar, billed_cost_usd decimal(38, 9),
        estimated_cost_usd decimal(38, 9), variance_usd decimal(38, 9), {causes}, is_unpriced boolean,
        unpriced_tokens bigint)""")
    for day, provider, billed, estimate, causes_usd, unpriced, model, tokens in rows:
        variance = Decimal(billed) - Decimal(estimate or 0)
        assert sum(Decimal(v) for v in causes_usd.values()) == variance, "test rows must be consistent"
        values = [Decimal(causes_usd.get(c, 0)) for c in rc.CAUSES]
        con.execute(
            f"insert into marts.mart_reconciliation values (?, ?, ?, ?, ?, ?, {', '.join('?' * len(values))}, ?, ?)",
            [day, provider, model, Decimal(billed), None if estimate is None else Decimal(estimate), variance,
             *values, unpriced, tokens])
    con.close()


ROWS = [
    # D1 anthropic: 20% off, mostly unlogged traffic
    (D1, "anthropic", "100", "80", {"unlogged_traffic": "15", "classification": "5"}, False, "claude-sonnet-4-5", 0),
    # D1 openai: 5% off
    (D1, "openai", "40", "38", {"unlogged_traffic": "2"}, False, "gpt-4.1", 0),
    # D2 openai: an unpriced model makes 30% of the bill
    (D2, "openai", "20", "19.5", {"unlogged_traffic": "0.5"}, False, "gpt-4.1", 0),
    (D2, "openai", "6", None, {"unpriced_model": "6"}, True, "gpt-5-mini-2025-08-07", 1234),
    # D2 anthropic: logged, not billed yet
    (D2, "anthropic", "0", "3", {"not_billed": "-3"}, False, "claude-haiku-4-5", 0),
]


@pytest.fixture
def mart_db(tmp_path):
    path = tmp_path / "w.duckdb"
    make_mart(path, ROWS)
    return path


def test_tolerance_and_accepted_causes_come_from_the_environment(monkeypatch):
    monkeypatch.delenv("TOKENSPEND_RECONCILIATION_TOLERANCE_PCT", raising=False)
    monkeypatch.delenv("TOKENSPEND_RECONCILIATION_ACCEPTED_CAUSES", raising=False)
    assert rc.tolerance_pct() == 10.0 and rc.accepted_causes() == ()
    monkeypatch.setenv("TOKENSPEND_RECONCILIATION_TOLERANCE_PCT", "2.5")
    monkeypatch.setenv("TOKENSPEND_RECONCILIATION_ACCEPTED_CAUSES", " unlogged_traffic, classification ")
    assert rc.tolerance_pct() == 2.5 and rc.accepted_causes() == ("unlogged_traffic", "classification")
    monkeypatch.setenv("TOKENSPEND_RECONCILIATION_ACCEPTED_CAUSES", "unlogged")
    with pytest.raises(ValueError, match="unknown causes"):
        rc.accepted_causes()
    monkeypatch.setenv("TOKENSPEND_RECONCILIATION_TOLERANCE_PCT", "-1")
    with pytest.raises(ValueError):
        rc.tolerance_pct()


@pytest.mark.parametrize(
    ("causes", "among", "expected"),
    [
        ({"unlogged_traffic": Decimal("3"), "price_drift": Decimal("-4")}, rc.CAUSES, ("price_drift", Decimal("-4"))),
        ({"unlogged_traffic": Decimal("3"), "price_drift": Decimal("3")}, rc.CAUSES, ("unlogged_traffic", Decimal(3))),
        ({"unlogged_traffic": Decimal("3"), "price_drift": Decimal("1")}, ("price_drift",), ("price_drift", Decimal(1))),
        ({}, rc.CAUSES, (None, Decimal(0))),
    ],
)
def test_largest_cause_is_by_absolute_amount(causes, among, expected):
    full = dict.fromkeys(rc.CAUSES, Decimal(0)) | causes
    assert rc.largest_cause(full, among) == expected


def test_days_beyond_tolerance_fail_worst_first(mart_db):
    con = duckdb.connect(str(mart_db), read_only=True)
    m = rc.measure_reconciliation(con, tolerance=10.0)
    con.close()
    assert [(d["usage_date"], d["provider"]) for d in m["days"]] == [(D1, "anthropic"), (D1, "openai"), (D2, "openai")]
    assert [(d["usage_date"], d["provider"], round(d["variance_pct"], 6)) for d in m["failing"]] == [
        (D2, "openai", round(6.5 / 26 * 100, 6)), (D1, "anthropic", 20.0)]
    assert m["failing"][0]["largest_cause"] == "unpriced_model"
    assert m["failing"][1]["largest_cause"] == "unlogged_traffic"
    assert [(d["usage_date"], d["provider"]) for d in m["unbilled"]] == [(D2, "anthropic")]
    assert m["unpriced"] == [("openai", "gpt-5-mini-2025-08-07", 1234, Decimal("6"), D2, D2)]
    assert m["providers"]["openai"]["causes"]["unlogged_traffic"] == Decimal("2.5")


def test_accepted_causes_leave_the_measured_variance(mart_db):
    con = duckdb.connect(str(mart_db), read_only=True)
    m = rc.measure_reconciliation(con, tolerance=10.0, accepted=("unlogged_traffic",))
    con.close()
    # D1 anthropic: 20 - 15 accepted = 5% -> passes; its largest counted cause is classification
    day = next(d for d in m["days"] if d["provider"] == "anthropic")
    assert day["passed"] and day["largest_cause"] == "classification"
    assert [(d["usage_date"], d["provider"]) for d in m["failing"]] == [(D2, "openai")]


def test_the_check_warns_and_names_day_provider_and_cause(mart_db, monkeypatch):
    monkeypatch.setenv("TOKENSPEND_DUCKDB_PATH", str(mart_db))
    monkeypatch.delenv("TOKENSPEND_RECONCILIATION_TOLERANCE_PCT", raising=False)
    monkeypatch.delenv("TOKENSPEND_RECONCILIATION_ACCEPTED_CAUSES", raising=False)
    result = rc.reconciliation_variance_within_tolerance()
    assert isinstance(result, dg.AssetCheckResult)
    assert result.passed is False and result.severity == dg.AssetCheckSeverity.WARN
    assert "2026-10-02 openai" in result.description and "unpriced_model" in result.description
    assert result.metadata["worst_day"].value == "2026-10-02"
    assert result.metadata["worst_provider"].value == "openai"
    assert result.metadata["worst_largest_cause"].value == "unpriced_model"
    assert result.metadata["failing_days"].value == 2
    assert "gpt-5-mini-2025-08-07" in result.metadata["unpriced_models"].value

    monkeypatch.setenv("TOKENSPEND_RECONCILIATION_TOLERANCE_PCT", "30")
    result = rc.reconciliation_variance_within_tolerance()
    assert result.passed is True and "within 30%" in result.description


def test_the_check_is_on_the_reconciliation_mart():
    specs = list(rc.reconciliation_variance_within_tolerance.check_specs)
    assert [s.asset_key for s in specs] == [dg.AssetKey(["marts", "mart_reconciliation"])]
    assert not specs[0].blocking
