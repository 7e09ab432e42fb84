"""The FOCUS export of the built demo: FinOps FOCUS columns, types and values, in Parquet and CSV, and
BilledCost tied to the providers' bills per day and provider.

The column requirements are FOCUS 1.2's (github.com/FinOps-Open-Cost-and-Usage-Spec/FOCUS_Spec, tag v1.2,
specification/columns/*.md) plus 1.3's ServiceProviderName and HostProviderName.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

import dagster as dg
import pytest

from tests.export.conftest import typed_csv

pytestmark = pytest.mark.slow

DECIMAL = "DECIMAL(38,9)"
DATETIME = "TIMESTAMP WITH TIME ZONE"
STRING = "VARCHAR"
# FOCUS column -> its type as DuckDB reads it from the Parquet file (Decimal, Date/Time, String; Tags is
# JSON text), and whether FOCUS allows it to be null in this dataset (every row is a Usage charge that
# corrects nothing).
FOCUS_COLUMNS = {
    "BilledCost": (DECIMAL, False),
    "BillingAccountId": (STRING, False),
    "BillingAccountName": (STRING, False),
    "BillingCurrency": (STRING, False),
    "BillingPeriodEnd": (DATETIME, False),
    "BillingPeriodStart": (DATETIME, False),
    "ChargeCategory": (STRING, False),
    "ChargeClass": (STRING, True),
    "ChargeDescription": (STRING, False),
    "ChargeFrequency": (STRING, False),
    "ChargePeriodEnd": (DATETIME, False),
    "ChargePeriodStart": (DATETIME, False),
    "ConsumedQuantity": (DECIMAL, True),
    "ConsumedUnit": (STRING, True),
    "ContractedCost": (DECIMAL, False),
    "EffectiveCost": (DECIMAL, False),
    "HostProviderName": (STRING, False),
    "InvoiceIssuerName": (STRING, False),
    "ListCost": (DECIMAL, False),
    "ListUnitPrice": (DECIMAL, True),
    "PricingQuantity": (DECIMAL, True),
    "PricingUnit": (STRING, True),
    "ProviderName": (STRING, False),
    "PublisherName": (STRING, False),
    "ServiceCategory": (STRING, False),
    "ServiceName": (STRING, False),
    "ServiceProviderName": (STRING, False),
    "ServiceSubcategory": (STRING, False),
    "SkuId": (STRING, False),
    "SkuMeter": (STRING, False),
    "SubAccountId": (STRING, True),
    "SubAccountName": (STRING, True),
    "SubAccountType": (STRING, True),
    "Tags": (STRING, True),
}
EXTENSIONS = {"x_Feature", "x_Workflow", "x_Team", "x_EmployeeId", "x_CustomerId", "x_AttributionMethod",
              "x_TokenSpendId", "x_TokenClass", "x_RecordType", "x_IsUnpriced", "x_ListCostSource", "x_UsageDate"}
CHARGE_CATEGORIES = {"Usage", "Purchase", "Tax", "Credit", "Adjustment"}
UTC_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@pytest.fixture
def parquet(exported):
    return str(exported["dir"] / "focus" / "focus_cost_and_usage.parquet")


@pytest.fixture
def csv(exported):
    return str(exported["dir"] / "focus" / "focus_cost_and_usage.csv")


def test_the_build_wrote_the_focus_files_through_its_asset(exported, warehouse):
    event = exported["instance"].get_latest_materialization_event(dg.AssetKey(["exports", "focus_files"]))
    assert event is not None, "the build did not materialise exports/focus_files"
    metadata = event.asset_materialization.metadata
    rows = warehouse.execute("select count(*) from exports.focus_cost_and_usage").fetchone()[0]
    assert rows > 0 and metadata["rows"].value == rows
    assert sorted(metadata["files"].value) == sorted(
        str(exported["dir"] / "focus" / f"focus_cost_and_usage.{ext}") for ext in ("csv", "parquet"))


def test_every_focus_column_is_present_with_its_type_in_parquet_and_csv(files, parquet, csv):
    columns = files.execute(f"describe select * from read_parquet('{parquet}')").fetchall()
    types = {name: kind for name, kind, *_ in columns}
    for name, (kind, _) in FOCUS_COLUMNS.items():
        assert types.get(name) == kind, (name, types.get(name), kind)
    assert EXTENSIONS <= set(types)
    names = [name for name, *_ in columns]
    # FOCUS columns first, then the x_ columns (FOCUS column handling)
    custom = [n for n in names if n.startswith("x_")]
    assert set(names) - set(custom) == set(FOCUS_COLUMNS) and names[len(FOCUS_COLUMNS):] == custom
    with open(csv, encoding="utf-8") as handle:
        assert handle.readline().rstrip("\n").split(",") == names


def test_the_csv_holds_the_parquet_rows_exactly(files, parquet, csv):
    from_parquet = files.execute(
        f"select count(*), sum(BilledCost), sum(ListCost), sum(ConsumedQuantity) from read_parquet('{parquet}')"
    ).fetchone()
    from_csv = files.execute(f"select count(*), sum(BilledCost), sum(ListCost), sum(ConsumedQuantity) "
                             f"from {typed_csv(files, parquet, csv)}").fetchone()
    assert from_parquet == from_csv and from_parquet[0] > 0
    difference = files.execute(f"""
        select count(*) from (
            select * from read_parquet('{parquet}') except all select * from {typed_csv(files, parquet, csv)}
        )""").fetchone()[0]
    assert difference == 0


def test_csv_date_times_are_utc_instants(files, csv):
    rows = files.execute(f"""
        select distinct ChargePeriodStart, ChargePeriodEnd, BillingPeriodStart, BillingPeriodEnd
        from read_csv('{csv}', header = true, all_varchar = true)""").fetchall()
    assert rows
    assert all(UTC_INSTANT.match(value) for row in rows for value in row), rows[:3]


def test_required_values_are_never_null_and_conditional_pairs_agree(files, parquet):
    for name, (_, nullable) in FOCUS_COLUMNS.items():
        if not nullable:
            nulls = files.execute(f"select count(*) from read_parquet('{parquet}') where {name} is null").fetchone()[0]
            assert nulls == 0, name
    # FOCUS: a unit is null exactly when its quantity is; a sub account's name and type when its id is
    for a, b in [("ConsumedQuantity", "ConsumedUnit"), ("PricingQuantity", "PricingUnit"),
                 ("SubAccountId", "SubAccountName"), ("SubAccountId", "SubAccountType")]:
        mismatched = files.execute(
            f"select count(*) from read_parquet('{parquet}') where ({a} is null) <> ({b} is null)").fetchone()[0]
        assert mismatched == 0, (a, b)


def test_charge_categories_and_fixed_vocabularies_are_allowed_values(files, parquet):
    values = dict(files.execute(f"""
        select 'ChargeCategory', list(distinct ChargeCategory) from read_parquet('{parquet}')
        union all select 'ChargeClass', list(distinct ChargeClass) from read_parquet('{parquet}')
        union all select 'ChargeFrequency', list(distinct ChargeFrequency) from read_parquet('{parquet}')
        union all select 'BillingCurrency', list(distinct BillingCurrency) from read_parquet('{parquet}')
        union all select 'ServiceCategory', list(distinct ServiceCategory) from read_parquet('{parquet}')
        """).fetchall())
    assert set(values["ChargeCategory"]) <= CHARGE_CATEGORIES
    assert set(values["ChargeClass"]) <= {None, "Correction"}
    assert set(values["ChargeFrequency"]) <= {"One-Time", "Recurring", "Usage-Based"}
    assert all(re.fullmatch(r"[A-Z]{3}", c) for c in values["BillingCurrency"])
    assert set(values["ServiceCategory"]) <= {"AI and Machine Learning"}


def test_charge_periods_are_the_usage_day_inside_its_billing_month(files, parquet):
    bad = files.execute(f"""
        select count(*) from read_parquet('{parquet}')
        where not (ChargePeriodEnd > ChargePeriodStart
                   and ChargePeriodEnd = ChargePeriodStart + interval 1 day
                   and cast(ChargePeriodStart as date) = x_UsageDate
                   and BillingPeriodStart <= ChargePeriodStart and ChargePeriodEnd <= BillingPeriodEnd
                   and BillingPeriodStart = date_trunc('month', ChargePeriodStart))""").fetchone()[0]
    assert bad == 0


def test_billed_cost_per_day_and_provider_equals_the_provider_bill(files, parquet, warehouse):
    exported = dict(((d, p), cost) for d, p, cost in files.execute(f"""
        select cast(ChargePeriodStart as date), lower(ProviderName), sum(BilledCost)
        from read_parquet('{parquet}') group by all""").fetchall())
    bill = dict(((d, p), cost) for d, p, cost in warehouse.execute("""
        select usage_date, provider, sum(billed_cost_usd) from marts.mart_reconciliation
        group by all having sum(billed_cost_usd) <> 0""").fetchall())
    assert bill and set(bill) <= set(exported)
    assert {k: v for k, v in exported.items() if v != 0 or k in bill} == bill
    assert sum(exported.values()) == sum(bill.values())


def test_each_fact_row_keeps_its_cost_estimate_and_attribution(files, parquet, warehouse):
    """Per fact row: BilledCost sums to cost_usd, ListCost to the estimate (or to the bill when unpriced);
    the x_ columns carry the row's feature, workflow, team, employee, customer and attribution method."""
    keys = "feature, workflow, team, employee_id, customer_id, attribution_method"
    fact = warehouse.execute(f"""
        select token_spend_id, cost_usd, coalesce(estimated_cost_usd, cost_usd), {keys}
        from marts.fct_token_spend""").fetchall()
    focus = files.execute(f"""
        select x_TokenSpendId, sum(BilledCost), sum(ListCost), any_value(x_Feature), any_value(x_Workflow),
               any_value(x_Team), any_value(x_EmployeeId), any_value(x_CustomerId), any_value(x_AttributionMethod)
        from read_parquet('{parquet}') group by x_TokenSpendId""").fetchall()
    assert sorted(focus) == sorted(fact)
    assert any(row[7] is not None for row in focus), "no customer in the demo's FOCUS export"


def test_unpriced_rows_list_at_their_billed_cost_and_priced_rows_at_price_times_quantity(files, parquet, warehouse):
    unpriced = files.execute(f"""
        select count(*), count(*) filter (where ListUnitPrice is null and ListCost = BilledCost
                                          and x_ListCostSource = 'BilledCost')
        from read_parquet('{parquet}') where x_IsUnpriced""").fetchone()
    assert unpriced[0] == unpriced[1]
    fact_unpriced = warehouse.execute(
        "select count(*) from marts.fct_token_spend where is_unpriced and cost_usd > 0").fetchone()[0]
    zero_listed = files.execute(f"""
        select count(*) from read_parquet('{parquet}') where x_IsUnpriced and BilledCost > 0 and ListCost = 0
        """).fetchone()[0]
    assert zero_listed == 0 and (fact_unpriced == 0 or unpriced[0] > 0)
    # ListUnitPrice (USD per million tokens, 9 decimals) x PricingQuantity is ListCost to its rounding
    worst = files.execute(f"""
        select max(abs(ListUnitPrice * PricingQuantity - ListCost) - PricingQuantity * 0.0000000005),
               count(*)
        from read_parquet('{parquet}') where ListUnitPrice is not null""").fetchone()
    assert worst[1] > 0 and worst[0] <= Decimal("0")


def test_tags_are_json_objects_of_the_rows_attribution(files, parquet):
    rows = files.execute(f"""
        select distinct Tags, x_Feature, x_Workflow, x_Team, x_EmployeeId, x_CustomerId
        from read_parquet('{parquet}')""").fetchall()
    assert any(tags is not None for tags, *_ in rows)
    for tags, *values in rows:
        expected = {k: v for k, v in zip(("feature", "workflow", "team", "employee_id", "customer_id"), values, strict=True)
                    if v is not None}
        if tags is None:
            assert not expected
        else:
            parsed = json.loads(tags)
            assert isinstance(parsed, dict) and parsed == expected, tags


def test_skus_name_the_model_and_token_class_and_quantities_are_tokens(files, parquet):
    bad = files.execute(f"""
        select count(*) from read_parquet('{parquet}')
        where x_TokenClass is not null and not (
            SkuId = lower(ProviderName) || '/' || split_part(SkuId, '/', 2) || '/' || x_TokenClass
            and ConsumedUnit = 'Tokens' and PricingUnit = '1000000 Tokens'
            and PricingQuantity * 1000000 = ConsumedQuantity)""").fetchone()[0]
    assert bad == 0
