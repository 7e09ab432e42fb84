"""The benchmark's parts at a tiny scale: the generated organisation, the floor script, the comparison.

The floor's totals are checked against a computation in plain Python over the generated JSON lines and
seed files (no SQL), so a wrong floor cannot agree with a wrong tokenspend by sharing its mistake; and
the comparison must catch a deliberate difference of one nano-dollar, one request or one row's team
or attribution method.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections import Counter, defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest
import yaml

from dagster_project import settings
from dagster_project.benchmark import organisation
from dagster_project.benchmark.floor import events_reader, floor_sql
from dagster_project.benchmark.totals import FLOOR_FACT, NO_TEAM, TotalsDiffer, compare, totals

EVENTS = 2_000


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    layout, counts = organisation.generate(root, EVENTS)
    return layout, counts


def _csv(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return [{k: (v if v != "" else None) for k, v in row.items()} for row in csv.DictReader(f)]


def _lines(folder: Path) -> list[dict]:
    return [json.loads(line) for path in sorted(folder.rglob("*.jsonl")) for line in path.read_text().splitlines()]


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _in_force(row: dict, day: dt.date) -> bool:
    return _date(row["valid_from"]) <= day and (row["valid_to"] is None or day < _date(row["valid_to"]))


def _like(text: str, pattern: str) -> bool:
    """SQL LIKE, in Python."""
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, flags=re.DOTALL) is not None


def _floor_totals(layout, fmt: str = "jsonl") -> tuple[duckdb.DuckDBPyConnection, dict]:
    con = duckdb.connect()
    con.execute(floor_sql(events_reader(layout.landing(fmt), fmt), layout.seeds))
    return con, totals(con, FLOOR_FACT)


# ---------------------------------------------------------------------------------------------------
# the seeds folder


def test_seeds_folder_has_every_seed_the_dbt_project_reads_with_the_same_columns(generated):
    layout, _ = generated
    project = yaml.safe_load((settings.DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    properties = yaml.safe_load((settings.DBT_PROJECT_DIR / "models" / "_seeds__properties.yml").read_text())
    declared = ({k for k in project["seeds"]["tokenspend"] if not k.startswith("+")}
                | {seed["name"] for seed in properties["seeds"]})
    written = {p.stem for p in layout.seeds.glob("*.csv")}
    assert written == declared
    for name in declared:
        ours = (layout.seeds / f"{name}.csv").read_text().splitlines()[0]
        shipped = (settings.SEEDS_DIR / f"{name}.csv").read_text().splitlines()[0]
        assert ours == shipped, name


def _no_overlap(rows: list[dict], key: tuple[str, ...]) -> None:
    by_key = defaultdict(list)
    for r in rows:
        by_key[tuple(r[k] for k in key)].append((_date(r["valid_from"]), _date(r["valid_to"]) or dt.date.max))
    for k, periods in by_key.items():
        periods.sort()
        for (start, end), (next_start, _) in zip(periods, periods[1:], strict=False):
            assert start < end and end <= next_start, k
        assert periods[-1][0] < periods[-1][1], k


def test_seeds_keep_the_rules_the_dbt_seed_tests_check(generated):
    layout, _ = generated
    s = layout.seeds
    teams = {r["team"] for r in _csv(s / "teams.csv")}
    features = {r["feature"]: r for r in _csv(s / "features.csv")}
    workflows = {r["workflow"]: r for r in _csv(s / "workflows.csv")}
    employees = _csv(s / "employees.csv")
    assert {r["owner_team"] for r in [*features.values(), *workflows.values()]} <= teams
    assert {r["team"] for r in employees} <= teams
    assert {r["workflow"] for r in _csv(s / "workflow_baselines.csv")} <= set(workflows)
    _no_overlap(employees, ("employee_id",))
    _no_overlap(_csv(s / "api_key_owners.csv"), ("provider", "api_key_id"))
    _no_overlap(_csv(s / "project_owners.csv"), ("provider", "project_id"))
    _no_overlap(_csv(s / "price_book.csv"),
                ("provider", "model", "match_pattern", "token_class", "service_tier", "context_window"))
    customers = _csv(s / "customers.csv")
    _no_overlap(customers, ("customer_id",))
    assert all(r["segment"] for r in customers)
    assert len({r["segment"] for r in customers}) > 1 and len({r["customer_id"] for r in customers}) < len(customers)
    scopes = {"team": teams, "feature": set(features), "workflow": set(workflows)}
    for b in _csv(s / "budgets.csv"):
        assert b["scope"] in scopes[b["scope_type"]], b
        assert _date(b["valid_from"]).day == 1 and (b["valid_to"] is None or _date(b["valid_to"]).day == 1)
        if b["policy"] == "hard_cap":
            assert b["scope_type"] != "team"
            catalogue = features if b["scope_type"] == "feature" else workflows
            assert catalogue[b["scope"]]["is_production"] == "false", b


def test_organisation_has_the_cases_the_benchmark_claims(generated):
    layout, counts = generated
    s = layout.seeds
    owners = _csv(s / "api_key_owners.csv")
    per_key = Counter(r["api_key_id"] for r in owners)
    changed = [k for k, n in per_key.items() if n == 2]
    assert len(changed) == 1
    rows = sorted((r for r in owners if r["api_key_id"] == changed[0]), key=lambda r: r["valid_from"])
    assert rows[0]["valid_to"] == rows[1]["valid_from"] == organisation.CHANGE_DAY.isoformat()
    assert rows[0]["team"] != rows[1]["team"]

    book = _csv(s / "price_book.csv")
    cut = [r for r in book if r["model"] == organisation.PRICE_CUT_MODEL and r["token_class"] == "output"]
    assert len(cut) == 2 and Decimal(cut[1]["usd_per_million_tokens"]) != Decimal(cut[0]["usd_per_million_tokens"])

    lines = _lines(layout.landing("jsonl") / "events")
    assert len(lines) == EVENTS == counts["period"]["lines"]
    models = {(e["provider"], e["model"]) for e in lines}
    assert {p for p, _ in models} == {"openai", "anthropic"} and len(models) == 8
    assert organisation.UNPRICED_MODEL in {m for _, m in models}
    assert not any(_like(organisation.UNPRICED_MODEL, r["match_pattern"]) for r in book)
    used_keys = {e["api_key_id"] for e in lines}
    assert used_keys <= {k.api_key_id for k in organisation.keys()} and len(used_keys) > 40
    assert sum(e["cache_read_input_tokens"] > 0 for e in lines) and sum(e["cache_write_input_tokens"] > 0 for e in lines)
    assert sum(e["batch"] for e in lines)
    tags = ("feature", "workflow", "team", "employee_id")
    owned_keys, owned_projects = {r["api_key_id"] for r in owners}, {r["project_id"] for r in _csv(s / "project_owners.csv")}
    untagged = sum(all(e[t] is None for t in tags) and e["api_key_id"] not in owned_keys
                   and e["project_id"] not in owned_projects for e in lines)
    assert 0.10 < untagged / len(lines) < 0.20
    ids = Counter(e["request_id"] for e in lines)
    assert 0 < sum(n - 1 for n in ids.values()) < len(lines) * 0.02  # some re-delivered requests
    files = sorted((layout.landing("jsonl") / "events").rglob("*.jsonl"))
    for path in files:  # one file per UTC day of the period
        day = path.parent.name.removeprefix("day=")
        assert organisation.START.isoformat() <= day < organisation.EXTRA_DAY.isoformat()
        assert {json.loads(line)["occurred_at"][:10] for line in path.read_text().splitlines()} == {day}
    assert len(files) > organisation.DAYS / 2

    per_task = Counter(e["task_id"] for e in {e["request_id"]: e for e in lines}.values() if e["task_id"])
    assert per_task and min(per_task.values()) >= 1 and max(per_task.values()) <= organisation.BLOCK
    outcomes = _lines(layout.landing("jsonl") / "outcomes")
    assert {o["task_id"] for o in outcomes} <= set(per_task) and len(outcomes) >= 0.9 * len(per_task)

    con = duckdb.connect()
    parquet = con.execute(f"select * from {events_reader(layout.landing('parquet'), 'parquet')}").fetchall()
    jsonl = con.execute(f"select * from {events_reader(layout.landing('jsonl'), 'jsonl')}").fetchall()
    assert sorted(parquet, key=str) == sorted(jsonl, key=str)


# ---------------------------------------------------------------------------------------------------
# the floor, against plain Python


def _python_totals(layout) -> dict:
    """The floor's figures computed in Python from the files: dedupe, price, attribute."""
    s = layout.seeds
    book = _csv(s / "price_book.csv")
    key_owners, project_owners = _csv(s / "api_key_owners.csv"), _csv(s / "project_owners.csv")
    roster = _csv(s / "employees.csv")
    classes = {"uncached_input": "uncached_input_tokens", "cache_read_input": "cache_read_input_tokens",
               "cache_write_5m_input": "cache_write_input_tokens", "output": "output_tokens"}

    def priced_model(provider, model):
        matches = [r for r in book if r["provider"] == provider and _like(model, r["match_pattern"])]
        return max(matches, key=lambda r: (len(r["match_pattern"]), r["model"]))["model"] if matches else None

    def one(rows, day, **match):
        found = [r for r in rows if all(r[k] == v for k, v in match.items()) and _in_force(r, day)]
        return found[0] if found else None

    requests = {e["request_id"]: e for e in _lines(layout.landing("jsonl") / "events")}
    resolved = {}
    out: dict = Counter()
    customers = set()
    for e in requests.values():
        day = dt.datetime.fromisoformat(e["occurred_at"].replace("Z", "+00:00")).date()
        key = (e["provider"], e["model"])
        if key not in resolved:
            resolved[key] = priced_model(*key)
        cost = None
        if resolved[key]:
            total = Decimal(0)
            for c, column in classes.items():
                row = next(r for r in book if r["provider"] == e["provider"] and r["model"] == resolved[key]
                           and r["token_class"] == c and r["service_tier"] == "standard"
                           and r["context_window"] == "all" and _in_force(r, day))
                price = Decimal(row["usd_per_million_tokens"]) * (Decimal(row["batch_multiplier"]) if e["batch"] else 1)
                total += e[column] * price
            cost = (total / Decimal(1_000_000)).quantize(Decimal("1e-9"), rounding=ROUND_HALF_UP)
        k = one(key_owners, day, provider=e["provider"], api_key_id=e["api_key_id"]) or {}
        p = one(project_owners, day, provider=e["provider"], project_id=e["project_id"]) or {}
        tagged = one(roster, day, employee_id=e["employee_id"]) if e["employee_id"] else None
        holder = one(roster, day, employee_id=k["employee_id"]) if k.get("employee_id") else None
        if any(e[t] for t in ("feature", "workflow", "team", "employee_id")):
            method = "request_tag"
        elif any(k.get(c) for c in ("team", "feature", "workflow", "employee_id")):
            method = "api_key_owner"
        elif any(p.get(c) for c in ("team", "feature", "workflow")):
            method = "project_owner"
        else:
            method = "untagged"
        team = (e["team"] or (tagged or {}).get("team") or k.get("team") or (holder or {}).get("team")
                or p.get("team") or NO_TEAM)
        out["requests"] += 1
        if cost is None:
            out["unpriced requests"] += 1
        else:
            out["priced estimated cost"] += cost
        labels = [f"method {method}", f"team {team}"] + ([f"key owner team {team}"] if method == "api_key_owner" else [])
        for label in labels:
            out[f"{label}: requests"] += 1
            out[f"{label}: priced cost"] += cost or 0
        if method == "untagged":
            out["untagged requests"] += 1
            out["untagged priced cost"] += cost or 0
        if e.get("customer_id"):
            customers.add(e["customer_id"])
            out["customer requests"] += 1
            out["customer priced cost"] += cost or 0
    out["customers"] = len(customers)
    return {k: (Decimal(v) if "cost" in k else v) for k, v in out.items()}


def test_floor_totals_equal_an_independent_python_computation(generated):
    layout, counts = generated
    _, floor = _floor_totals(layout)
    python = _python_totals(layout)
    compare(python, {k: v for k, v in floor.items() if k in python or v}, names=("python", "floor"))
    assert floor["requests"] == counts["period"]["requests"]
    assert floor["unpriced requests"] > 0 and floor["untagged requests"] > 0
    assert 0 < floor["customer requests"] < floor["requests"] and floor["customers"] > 1
    assert {"method request_tag: requests", "method api_key_owner: requests", "method project_owner: requests",
            "method untagged: requests"} <= set(floor)


def test_floor_reads_parquet_and_json_lines_alike(generated):
    layout, _ = generated
    assert _floor_totals(layout, "parquet")[1] == _floor_totals(layout, "jsonl")[1]


@pytest.mark.parametrize("change", [
    "update fact set estimated_cost_usd = estimated_cost_usd + 0.000000001 "
    "where rowid = (select min(rowid) from fact where not is_unpriced)",
    "update fact set team = 'legal' where rowid = (select min(rowid) from fact where team = 'sales')",
    "update fact set attribution_method = 'untagged' "
    "where rowid = (select min(rowid) from fact where attribution_method = 'project_owner')",
    "update fact set request_count = request_count + 1 where rowid = (select min(rowid) from fact)",
    "update fact set customer_id = null where rowid = (select min(rowid) from fact where customer_id is not null)",
])
def test_comparison_catches_a_difference(generated, change):
    layout, _ = generated
    con, before = _floor_totals(layout)
    con.execute(change)
    after = totals(con, FLOOR_FACT)
    with pytest.raises(TotalsDiffer):
        compare(before, after)


# ---------------------------------------------------------------------------------------------------
# the measured steps


def test_floor_step_runs_in_its_own_process_and_is_measured(generated, tmp_path):
    import os

    from dagster_project.benchmark.measure import run_step

    layout, _ = generated
    m = run_step("floor", "floor", {"landing": str(layout.landing("jsonl")), "format": "jsonl",
                                    "seeds": str(layout.seeds), "db": str(tmp_path / "floor.duckdb")},
                 dict(os.environ), tmp_path / "logs")
    assert m.result["fact_rows"] > 0 and m.peak_bytes >= m.peaks["step"] > 0 and m.wall_seconds > 0
    with duckdb.connect(str(tmp_path / "floor.duckdb"), read_only=True) as con:
        assert totals(con, FLOOR_FACT) == _floor_totals(layout)[1]


def test_build_selects_every_executable_asset_but_the_demo_the_partitioned_ingest_and_the_price_refresh():
    from dagster_project.benchmark.steps import build_selection
    from dagster_project.cli import load_definitions

    defs = load_definitions()
    graph = defs.resolve_asset_graph()
    selected = set(build_selection(defs))
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert (key in selected) == (node.is_executable and not node.is_partitioned
                                     and node.group_name not in ("demo", "prices")), key
    names = {k.to_user_string() for k in selected}
    assert {"raw/request_events", "raw/outcome_events", "marts/fct_token_spend"} <= names
    # the price book's refresh rewrites a seed: a build that ran it would re-price the incremental day
    assert "prices/price_book_generated" in {k.to_user_string() for k in graph.get_all_asset_keys()} - names
