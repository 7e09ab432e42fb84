"""Customers end to end on a small warehouse: request events tagged with customers (one of them upgrades
mid-month, one is missing from the seed, some requests carry none) and the provider's usage and bill
for five days across a month boundary, built by dbt in a copy of the project with this folder's
customers.csv.

- the fact keeps customer_id on request rows, still ties to the bill per day and provider, and summed
  over customer_id is exactly the fact the same data builds with no customer tags (EXCEPT ALL both ways);
- mart_customer_spend: each month's customer rows and segment rows sum to the fact's month, a segment
  change splits the month on its date, unknown customers and spend with no customer are counted, and
  interactions, cost per interaction and share of feature spend are what the rows say, recomputed here;
- the dbt test that ties the mart to the fact fails when a mart row is lost, and the seed's tests refuse
  overlapping periods and a missing segment.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import os
import shutil
import subprocess
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest

from dagster_project.lib.raw_tables import create_raw_tables
from tests.pricing.small_warehouse import SmallWarehouse, copy_small_warehouse, dbt_executable

pytestmark = pytest.mark.slow

SEED = Path(__file__).with_name("customers.csv")
DAYS = [dt.date(2026, 9, 29) + dt.timedelta(days=i) for i in range(5)]  # 09-29 .. 10-03
UPGRADE = dt.date(2026, 10, 2)  # cust-a: free before, growth from (customers.csv)
MODEL = "gpt-4.1-mini-2025-04-14"
PROJECT, KEY = "proj_customers", "key_customers"
NANO = Decimal("0.000000001")
# (customer tag as the application sends it, feature, task or None, count) of each day's requests
REQUESTS = [
    ("cust-a", "search-answers", "task", 2),
    ("cust-a", "search-answers", None, 1),
    ("Cust-B", "search-answers", None, 2),  # normalised to cust-b, as the seed writes it
    ("cust-zz", "doc-extraction", None, 1),  # not in customers.csv
    (None, "search-answers", "task", 2),
    (None, None, None, 1),
]
BUILD = ["build", "--select", "+mart_customer_spend", "--exclude-resource-type", "unit_test",
         "--indirect-selection", "cautious"]


def events(with_customers: bool = True) -> list[dict]:
    rows = []
    for d, day in enumerate(DAYS):
        n = 0
        for g, (customer, feature, task, count) in enumerate(REQUESTS):
            for k in range(count):
                n += 1
                rows.append({
                    "request_id": f"req-{day}-{n}", "occurred_at": dt.datetime.combine(day, dt.time(9, n)),
                    "customer_id": customer if with_customers else None, "feature": feature,
                    "task_id": f"task-{day}-{g}" if task else None,
                    # tokens differ per request, so every split has uneven weights and rounding to do
                    "uncached_input_tokens": 1000 * (g + 1) + 37 * k + 11 * d, "output_tokens": 90 * (g + 1) + 13 * k,
                })
    return rows


def write_raw(db: Path, with_customers: bool) -> None:
    """The events and, per day, the usage they are part of (plus unlogged traffic) and its bill."""
    loaded = dt.datetime(2026, 10, 5)
    with duckdb.connect(str(db)) as con:
        create_raw_tables(con)
        day_events = defaultdict(list)
        for line, e in enumerate(events(with_customers), start=1):
            day_events[e["occurred_at"].date()].append(e)
            con.execute(
                """insert into raw.request_events (request_id, occurred_at, provider, model, api_key_id, project_id,
                   uncached_input_tokens, cache_read_input_tokens, cache_write_input_tokens, output_tokens, batch,
                   service_tier, feature, task_id, customer_id, source_system, _source_file, _source_line, _loaded_at)
                   values (?, ?, 'openai', ?, ?, ?, ?, 0, 0, ?, false, 'default', ?, ?, ?, 'event_file', 'events.jsonl',
                   ?, ?)""",
                [e["request_id"], e["occurred_at"], MODEL, KEY, PROJECT, e["uncached_input_tokens"], e["output_tokens"],
                 e["feature"], e["task_id"], e["customer_id"], line, loaded])
        for d, day in enumerate(DAYS):
            logged = day_events[day]
            uncached = sum(e["uncached_input_tokens"] for e in logged) + 5_000
            output = sum(e["output_tokens"] for e in logged) + 400
            start, end = dt.datetime.combine(day, dt.time()), dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
            con.execute(
                """insert into raw.openai_usage_completions (bucket_start, bucket_end, project_id, api_key_id, model,
                   batch, service_tier, input_tokens, output_tokens, input_cached_tokens, input_uncached_tokens,
                   input_cache_write_tokens, num_model_requests, _source_file, _page, _loaded_at)
                   values (?, ?, ?, ?, ?, false, 'default', ?, ?, 0, ?, 0, ?, 'usage', 1, ?)""",
                [start, end, PROJECT, KEY, MODEL, uncached, output, uncached, len(logged) + 2, loaded])
            # a bill that is not the list price, in odd amounts, so shares round
            for kind, amount in (("input", Decimal("0.012345679") * (d + 3)), ("output", Decimal("0.007654321") * (d + 2))):
                con.execute(
                    """insert into raw.openai_costs (bucket_start, bucket_end, project_id, api_key_id, line_item,
                       amount_value, amount_currency, _source_file, _page, _loaded_at)
                       values (?, ?, ?, null, ?, ?, 'usd', 'costs', 1, ?)""",
                    [start, end, PROJECT, f"{MODEL}, {kind}", str(amount), loaded])


def dbt(wh: SmallWarehouse, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TOKENSPEND_DUCKDB_PATH": str(wh.db), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    return subprocess.run(
        [dbt_executable(), *args, "--project-dir", str(wh.project_dir), "--profiles-dir", str(wh.project_dir),
         "--target-path", str(wh.target), "--log-path", str(wh.root / "logs")],
        env=env, capture_output=True, text=True, check=False,
    )


def build(root: Path, with_customers: bool) -> SmallWarehouse:
    wh = copy_small_warehouse(root)
    shutil.copyfile(SEED, wh.seeds_dir / "customers.csv")
    write_raw(wh.db, with_customers)
    for args in (["seed", "--full-refresh"], BUILD):
        result = dbt(wh, *args)
        assert result.returncode == 0, result.stdout[-6000:]
    return wh


@pytest.fixture(scope="module")
def customers_wh(tmp_path_factory) -> SmallWarehouse:
    return build(tmp_path_factory.mktemp("customers"), with_customers=True)


@pytest.fixture(scope="module")
def no_customers_wh(tmp_path_factory) -> SmallWarehouse:
    return build(tmp_path_factory.mktemp("no_customers"), with_customers=False)


def money(value) -> Decimal:
    return Decimal(value).quantize(NANO, rounding=ROUND_HALF_UP)


def month_of(day: dt.date) -> dt.date:
    return day.replace(day=1)


# ---------------------------------------------------------------------------------------------------
# the fact


def test_only_request_rows_carry_a_customer_and_the_fact_still_ties_to_the_bill(customers_wh):
    by_type = dict(customers_wh.query("""
        select record_type, list(distinct customer_id order by customer_id nulls last)
        from marts.fct_token_spend group by 1"""))
    # 'Cust-B' is normalised like every tag; untagged requests keep a null customer
    assert by_type == {"request": ["cust-a", "cust-b", "cust-zz", None], "unlogged_residual": [None]}
    untied = customers_wh.query("""
        with billed as (select cast(bucket_start as date) as usage_date, sum(cast(amount_value as decimal(38, 9))) as usd
                        from raw.openai_costs group by 1),
             fact as (select usage_date, sum(cost_usd) as usd from marts.fct_token_spend group by 1)
        select * from billed full join fact using (usage_date) where billed.usd is distinct from fact.usd""")
    assert untied == []


def test_summed_over_customers_the_fact_is_the_fact_without_customers(customers_wh, no_customers_wh):
    columns = """usage_date, provider, project_id, api_key_id, model, model_key, is_batch, feature, workflow, team,
                 employee_id, attribution_method, record_type, allocation_basis"""
    measures = ["request_count", "uncached_input_tokens", "cache_read_input_tokens", "cache_write_5m_input_tokens",
                "cache_write_1h_input_tokens", "output_tokens", "total_tokens", "cost_usd"]
    summed = f"""select {columns}, {', '.join(f'cast(sum({m}) as decimal(38, 9)) as {m}' for m in measures)},
                        case when bool_or(estimated_cost_usd is null) then null else sum(estimated_cost_usd) end as est,
                        bool_or(is_unpriced) as is_unpriced
                 from {{db}}.marts.fct_token_spend group by all"""
    with duckdb.connect() as con:
        con.execute(f"attach '{customers_wh.db}' as with_customers (read_only)")
        con.execute(f"attach '{no_customers_wh.db}' as without (read_only)")
        assert con.execute("select count(customer_id) from without.marts.fct_token_spend").fetchone()[0] == 0
        rows_with = con.execute("select count(*) from with_customers.marts.fct_token_spend").fetchone()[0]
        rows_without = con.execute("select count(*) from without.marts.fct_token_spend").fetchone()[0]
        assert rows_with > rows_without  # the request rows were split by customer
        a, b = summed.format(db="with_customers"), summed.format(db="without")
        assert con.execute(f"select count(*) from ({a} except all {b})").fetchone()[0] == 0
        assert con.execute(f"select count(*) from ({b} except all {a})").fetchone()[0] == 0
        assert con.execute(f"select count(*) from ({a})").fetchone()[0] == rows_without


# ---------------------------------------------------------------------------------------------------
# mart_customer_spend


def fact_rows(wh: SmallWarehouse) -> list[dict]:
    names = ["usage_date", "customer_id", "feature", "record_type", "request_count", "cost_usd"]
    return [dict(zip(names, r, strict=True))
            for r in wh.query(f"select {', '.join(names)} from marts.fct_token_spend")]


def seed_segment(customer: str | None, day: dt.date) -> str:
    """The segment customers.csv gives `customer` on `day`, read here from the CSV itself."""
    if customer is None:
        return "(no customer)"
    with open(SEED, newline="") as f:
        for row in csv.DictReader(f):
            start = dt.date.fromisoformat(row["valid_from"])
            end = dt.date.fromisoformat(row["valid_to"]) if row["valid_to"] else dt.date.max
            if row["customer_id"] == customer and start <= day < end:
                return row["segment"]
    return "(unknown segment)"


def expected(wh: SmallWarehouse) -> dict[tuple, dict]:
    """The mart recomputed from the fact's rows and the events, per (month, scope_type, scope)."""
    out: dict[tuple, dict] = defaultdict(lambda: {"requests": 0, "cost_usd": Decimal(0), "interactions": set(),
                                                  "features": defaultdict(Decimal)})
    feature_totals: dict[tuple, Decimal] = defaultdict(Decimal)
    for r in fact_rows(wh):
        month = month_of(r["usage_date"])
        scopes = (("customer", r["customer_id"] or "(no customer)"),
                  ("segment", seed_segment(r["customer_id"], r["usage_date"])))
        for scope_type, scope in scopes:
            e = out[(month, scope_type, scope)]
            e["requests"] += r["request_count"] if r["record_type"] == "request" else 0
            e["cost_usd"] += r["cost_usd"]
            if r["feature"]:
                e["features"][r["feature"]] += r["cost_usd"]
        if r["feature"]:
            feature_totals[(month, r["feature"])] += r["cost_usd"]
    for e in events():
        day = e["occurred_at"].date()
        customer = e["customer_id"].lower() if e["customer_id"] else None
        for scope_type, scope in (("customer", customer or "(no customer)"), ("segment", seed_segment(customer, day))):
            out[(month_of(day), scope_type, scope)]["interactions"].add(e["task_id"] or e["request_id"])
    result = {}
    for (month, scope_type, scope), e in out.items():
        used = sum((feature_totals[(month, f)] for f in e["features"]), Decimal(0))
        interactions = len(e["interactions"])
        result[(month, scope_type, scope)] = {
            "requests": e["requests"], "interactions": interactions, "cost_usd": e["cost_usd"],
            "cost_per_interaction_usd": money(e["cost_usd"] / interactions) if interactions else None,
            "share_of_feature_spend": money(sum(e["features"].values()) / used) if e["features"] and used else None,
        }
    return result


def mart(wh: SmallWarehouse) -> dict[tuple, dict]:
    names = ["month", "scope_type", "scope", "customer_name", "segment", "requests", "interactions", "cost_usd",
             "cost_per_interaction_usd", "share_of_feature_spend"]
    rows = [dict(zip(names, r, strict=True)) for r in wh.query(f"select {', '.join(names)} from marts.mart_customer_spend")]
    return {(r["month"], r["scope_type"], r["scope"]): r for r in rows}


def test_every_row_is_what_the_fact_and_the_events_say(customers_wh):
    got, want = mart(customers_wh), expected(customers_wh)
    assert got.keys() == want.keys()
    for key, w in want.items():
        assert {k: got[key][k] for k in w} == w, key


def test_each_scope_type_sums_to_the_facts_month(customers_wh):
    fact = dict(customers_wh.query("""
        select cast(date_trunc('month', usage_date) as date), sum(cost_usd) from marts.fct_token_spend group by 1"""))
    assert set(fact) == {dt.date(2026, 9, 1), dt.date(2026, 10, 1)}
    for scope_type in ("customer", "segment"):
        sums = dict(customers_wh.query(f"""
            select month, sum(cost_usd) from marts.mart_customer_spend where scope_type = '{scope_type}' group by 1"""))
        assert sums == fact, scope_type


def test_a_mid_month_upgrade_splits_the_month_and_nothing_is_dropped(customers_wh):
    rows = mart(customers_wh)
    october = dt.date(2026, 10, 1)
    cust_a = {day: cost for day, cost in customers_wh.query(
        "select usage_date, sum(cost_usd) from marts.fct_token_spend where customer_id = 'cust-a' group by 1")}
    assert rows[(october, "segment", "free")]["cost_usd"] == sum(c for d, c in cust_a.items() if october <= d < UPGRADE)
    assert rows[(october, "segment", "growth")]["cost_usd"] == sum(c for d, c in cust_a.items() if d >= UPGRADE)
    customer = rows[(october, "customer", "cust-a")]
    assert (customer["customer_name"], customer["segment"]) == ("Acme", "growth")  # its last day's segment
    assert customer["cost_usd"] == sum(c for d, c in cust_a.items() if d >= october)
    assert rows[(october, "customer", "cust-b")]["segment"] == "enterprise"
    unknown = rows[(october, "customer", "cust-zz")]
    assert (unknown["customer_name"], unknown["segment"]) == (None, "(unknown segment)")
    assert rows[(october, "segment", "(unknown segment)")]["cost_usd"] == unknown["cost_usd"] > 0
    no_customer = rows[(october, "segment", "(no customer)")]
    assert no_customer == {**rows[(october, "customer", "(no customer)")], "scope_type": "segment"}
    assert no_customer["cost_usd"] == customers_wh.query(
        "select sum(cost_usd) from marts.fct_token_spend where customer_id is null "
        "and usage_date >= date '2026-10-01'")[0][0]
    assert ("segment", "free") in {(t, s) for m, t, s in rows if m == dt.date(2026, 9, 1)}
    assert not any(s == "cust-idle" for _, _, s in rows)  # a customer with no spend has no row


def test_the_tie_to_the_fact_fails_when_a_mart_row_is_lost(customers_wh, tmp_path):
    db = tmp_path / "tokenspend.duckdb"
    shutil.copyfile(customers_wh.db, db)
    wh = dataclasses.replace(customers_wh, root=tmp_path, db=db, target=tmp_path / "target")
    test = ["test", "--select", "assert_mart_customer_spend_ties_to_fact"]
    assert dbt(wh, *test).returncode == 0
    with duckdb.connect(str(db)) as con:
        con.execute("delete from marts.mart_customer_spend where scope_type = 'segment' and scope = '(unknown segment)' "
                    "and month = date '2026-10-01'")
    failed = dbt(wh, *test)
    assert failed.returncode != 0
    assert "FAIL 1 assert_mart_customer_spend_ties_to_fact" in failed.stdout


def test_the_seed_refuses_overlapping_periods_and_a_missing_segment(tmp_path):
    wh = copy_small_warehouse(tmp_path)
    shutil.copyfile(SEED, wh.seeds_dir / "customers.csv")
    with open(wh.seeds_dir / "customers.csv", "a") as f:
        f.write("cust-b,Beta,growth,2026-06-01,\n")  # overlaps cust-b's enterprise row
        f.write("cust-c,Gamma,,2026-01-01,\n")
    assert dbt(wh, "seed", "--select", "customers").returncode == 0
    failed = dbt(wh, "test", "--select", "customers")
    assert failed.returncode != 0
    assert "FAIL 1 effective_dates_do_not_overlap_customers_customer_id" in failed.stdout
    assert "FAIL 1 not_null_customers_segment" in failed.stdout
