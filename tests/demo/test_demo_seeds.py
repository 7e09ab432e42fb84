"""The lookup seeds: exact columns, slugs, ISO dates, references between them, and the demo's cases."""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import defaultdict

import pytest

from dagster_project import settings
from dagster_project.demo.generator import DEMO_END, DEMO_START

COLUMNS = {
    "teams": ["team", "team_name", "cost_center"],
    "features": ["feature", "feature_name", "owner_team", "is_production"],
    "workflows": ["workflow", "workflow_name", "owner_team", "is_production", "automated_since", "batchable"],
    "workflow_baselines": ["workflow", "baseline_cost_per_task_usd", "measured_from", "measured_to", "source"],
    "employees": ["employee_id", "email", "full_name", "team", "has_ai_seat", "valid_from", "valid_to"],
    "api_key_owners": ["provider", "api_key_id", "key_name", "team", "feature", "workflow", "employee_id",
                       "valid_from", "valid_to"],
    "project_owners": ["provider", "project_id", "project_name", "team", "feature", "workflow", "valid_from",
                       "valid_to"],
    "price_book": ["provider", "model", "match_pattern", "token_class", "usd_per_million_tokens", "service_tier",
                   "context_window", "batch_multiplier", "valid_from", "valid_to", "source"],
    "customers": ["customer_id", "customer_name", "segment", "valid_from", "valid_to"],
}
SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
PROVIDER_ID = re.compile(r"^[a-z0-9_]+$")
DATE_COLUMNS = {"valid_from", "valid_to", "measured_from", "measured_to", "automated_since"}
TOKEN_CLASSES = {"uncached_input", "cache_read_input", "cache_write_5m_input", "cache_write_1h_input", "output"}


def read(seed: str) -> list[dict[str, str]]:
    with open(settings.SEEDS_DIR / f"{seed}.csv", newline="") as f:
        return list(csv.DictReader(f))


def day(value: str) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


@pytest.mark.parametrize("seed", sorted(COLUMNS))
def test_columns_dates_and_ids(seed):
    with open(settings.SEEDS_DIR / f"{seed}.csv", newline="") as f:
        header = next(csv.reader(f))
    assert header == COLUMNS[seed]
    rows = read(seed)
    assert rows
    for row in rows:
        for column in DATE_COLUMNS & set(row):
            if row[column]:
                assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", row[column]) and day(row[column])
        if row.get("valid_to"):
            assert day(row["valid_from"]) < day(row["valid_to"])
        for column in ("team", "feature", "workflow", "employee_id", "owner_team"):
            if row.get(column) and not (seed == "price_book"):
                assert SLUG.match(row[column]), (seed, column, row[column])
        for column in ("api_key_id", "project_id"):
            if row.get(column):
                assert PROVIDER_ID.match(row[column]), (seed, column, row[column])


def test_references_resolve():
    teams = {r["team"] for r in read("teams")}
    features = {r["feature"] for r in read("features")}
    workflows = {r["workflow"] for r in read("workflows")}
    employees = {r["employee_id"] for r in read("employees")}
    assert {r["owner_team"] for r in read("features") + read("workflows")} <= teams
    assert {r["team"] for r in read("employees")} <= teams
    assert {r["workflow"] for r in read("workflow_baselines")} <= workflows
    for seed in ("api_key_owners", "project_owners"):
        for row in read(seed):
            assert row["provider"] in ("openai", "anthropic")
            assert row["team"] in teams
            assert row["feature"] in features | {""}
            assert row["workflow"] in workflows | {""}
            assert row.get("employee_id", "") in employees | {""}


def test_organisation_size():
    assert len(read("teams")) >= 5
    features = read("features")
    assert sum(f["is_production"] == "true" for f in features) >= 3
    assert any(f["feature"] == "internal-assistant" and f["is_production"] == "false" for f in features)
    assert len(read("workflows")) >= 4
    baselined = {r["workflow"] for r in read("workflow_baselines")}
    assert baselined and baselined < {w["workflow"] for w in read("workflows")}
    employees = read("employees")
    assert len({e["employee_id"] for e in employees}) >= 40
    assert len({e["team"] for e in employees}) >= 5
    assert len({e["email"] for e in employees}) == len({e["employee_id"] for e in employees})


def test_exactly_one_employee_moves_team_inside_the_period():
    stints = defaultdict(list)
    for row in read("employees"):
        stints[row["employee_id"]].append(row)
    movers = {k: sorted(v, key=lambda r: r["valid_from"]) for k, v in stints.items() if len(v) > 1}
    assert len(movers) == 1
    (first, second), = movers.values()
    assert first["valid_to"] == second["valid_from"] and not second["valid_to"]
    assert first["team"] != second["team"]
    assert DEMO_START < day(second["valid_from"]) < DEMO_END


def test_exactly_one_key_is_rotated_inside_the_period():
    rows = read("api_key_owners")
    owner = lambda r: (r["provider"], r["team"], r["feature"], r["workflow"], r["employee_id"])  # noqa: E731
    rotations = [(a, b) for a in rows for b in rows
                 if a["api_key_id"] != b["api_key_id"] and owner(a) == owner(b) and a["valid_to"]
                 and a["valid_to"] == b["valid_from"]]
    assert len(rotations) == 1
    old, _ = rotations[0]
    assert DEMO_START < day(old["valid_to"]) < DEMO_END
    assert len({r["api_key_id"] for r in rows}) == len(rows)


def test_default_workspace_is_written_default():
    assert any(r["provider"] == "anthropic" and r["project_id"] == "default" for r in read("project_owners"))


def test_price_book_shape():
    rows = read("price_book")
    for r in rows:
        assert r["token_class"] in TOKEN_CLASSES
        assert r["service_tier"] in {"standard", "priority", "flex"}
        assert r["context_window"] in ("all", "0-200k", "200k-1M")
        assert r["match_pattern"] == r["match_pattern"].lower() and r["match_pattern"].endswith("%")
        assert "_" not in r["match_pattern"]  # '_' would be a LIKE wildcard
        assert float(r["usd_per_million_tokens"]) > 0 and 0 < float(r["batch_multiplier"]) <= 1
        assert r["source"]
    # every price period lists all five classes (OpenAI cache writes bill at the uncached input price)
    periods = defaultdict(dict)
    for r in rows:
        periods[(r["provider"], r["match_pattern"], r["context_window"], r["valid_from"])][r["token_class"]] = r
    for (provider, *_), classes in periods.items():
        assert set(classes) == TOKEN_CLASSES
        if provider == "openai":
            for write in ("cache_write_5m_input", "cache_write_1h_input"):
                assert classes[write]["usd_per_million_tokens"] == classes["uncached_input"]["usd_per_million_tokens"]
    # no two rows of the same key are valid on the same day
    spans = defaultdict(list)
    for r in rows:
        spans[(r["provider"], r["match_pattern"], r["token_class"], r["service_tier"], r["context_window"])].append(
            (day(r["valid_from"]), day(r["valid_to"]) or dt.date.max))
    for ranges in spans.values():
        ranges.sort()
        assert all(a[1] <= b[0] for a, b in zip(ranges, ranges[1:], strict=False))


def test_longest_pattern_case_is_listed():
    patterns = {r["match_pattern"] for r in read("price_book")}
    assert any(a != b and b.startswith(a[:-1]) for a in patterns for b in patterns)


def test_one_model_changes_price_inside_the_period():
    changes = defaultdict(set)
    for r in read("price_book"):
        if r["valid_to"] and DEMO_START < day(r["valid_to"]) < DEMO_END:
            changes[(r["provider"], r["match_pattern"])].add(r["valid_to"])
    assert len(changes) == 1
    (key, dates), = changes.items()
    successors = {r["valid_from"] for r in read("price_book") if (r["provider"], r["match_pattern"]) == key}
    assert dates <= successors


def test_customers_are_in_the_demo_segments_with_one_row_in_force_at_a_time():
    from dagster_project.demo.generator import SEGMENT_WEIGHTS

    rows = read("customers")
    segments = {name for name, _ in SEGMENT_WEIGHTS}
    assert {r["segment"] for r in rows} == segments and len(segments) == 3
    periods = defaultdict(list)
    for r in rows:
        assert re.fullmatch(r"cust-\d{4}", r["customer_id"]) and r["customer_name"], r
        periods[r["customer_id"]].append((day(r["valid_from"]), day(r["valid_to"]) or dt.date.max))
    for spans in periods.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert len({r["customer_name"] for r in rows}) == len(periods)  # a name per customer, the same on every row
    # every segment has customers on every day of the period
    for segment in segments:
        for offset in range((DEMO_END - DEMO_START).days):
            d = DEMO_START + dt.timedelta(days=offset)
            assert any(r["segment"] == segment and day(r["valid_from"]) <= d
                       and (not r["valid_to"] or d < day(r["valid_to"])) for r in rows), (segment, d)


def test_some_customers_change_segment_inside_the_period():
    by_customer = defaultdict(list)
    for row in read("customers"):
        by_customer[row["customer_id"]].append(row)
    changes = []
    for rows in by_customer.values():
        rows.sort(key=lambda r: r["valid_from"])
        changes += [(a, b) for a, b in zip(rows, rows[1:], strict=False)]
    inside = [(a, b) for a, b in changes if DEMO_START < day(b["valid_from"]) < DEMO_END]
    assert len(inside) >= 3
    for old, new in inside:  # one row closes on the date the next opens, in another segment
        assert old["valid_to"] == new["valid_from"] and old["segment"] != new["segment"]
    assert any(DEMO_START <= day(r["valid_from"]) < DEMO_END for r in read("customers")
               if r["customer_id"] not in {a["customer_id"] for a, _ in changes})  # and some sign up
