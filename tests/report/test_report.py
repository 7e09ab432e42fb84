"""The spend report built from a tiny warehouse (no browser): every section draws from its mart, names
the offenders and the idle seat holders, says "not built" or "no data" instead of failing, loads nothing
from outside the file, and lets go of the warehouse file before it renders."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from html.parser import HTMLParser

import duckdb
import pytest

from dagster_project.report import REPORT_FILE, build_report, write_report
from dagster_project.report.__main__ import main
from dagster_project.report.model import NO_DATA, NOT_BUILT, OK, unit_usd, usd
from dagster_project.report.sections import SECTIONS
from tests.report.tiny_warehouse import contract_columns, create_tiny_warehouse

D = Decimal
SEP, OCT = dt.date(2026, 9, 1), dt.date(2026, 10, 1)
DAY1, DAY2 = dt.date(2026, 10, 1), dt.date(2026, 10, 2)
NOW = dt.datetime(2026, 10, 3, 4, 0, tzinfo=dt.UTC)

WORKFLOW = {"baseline": D("2.50"), "successful": 8, "completed": 10, "cost": D("4.00")}


def spend_daily() -> list[dict]:
    rows = []
    for day, cost in ((DAY1, D("3.00")), (DAY2, D("5.00"))):
        rows.append({"usage_date": day, "provider": "openai", "model_key": "gpt-4.1", "cost_usd": cost,
                     "estimated_cost_usd": cost, "total_tokens": 1000, "request_count": 10, "unpriced_tokens": 0})
        rows.append({"usage_date": day, "provider": "anthropic", "model_key": None, "cost_usd": D("1.00"),
                     "estimated_cost_usd": None, "total_tokens": 0, "request_count": 0, "unpriced_tokens": 0})
    return rows


def marts() -> dict[str, list[dict]]:
    w = WORKFLOW
    return {
        "mart_spend_daily": spend_daily(),
        "mart_feature_spend": [
            {"feature": "search", "feature_name": "Search answers", "period_start": OCT, "is_attributed": True,
             "requests": 40, "interactions": 20, "cost_usd": D("6.00"), "cost_per_interaction_usd": D("0.30")},
            {"feature": "(unattributed)", "period_start": OCT, "is_attributed": False, "requests": 0,
             "interactions": 0, "cost_usd": D("4.00"), "cost_per_interaction_usd": None},
        ],
        "mart_workflow_spend": [
            {"workflow": "triage", "workflow_name": "Ticket triage", "period_start": OCT, "is_attributed": True,
             "completed_tasks": w["completed"], "successful_tasks": w["successful"],
             "success_rate": D(w["successful"]) / w["completed"], "cost_usd": w["cost"],
             "cost_per_completed_task_usd": w["cost"] / w["completed"],
             "cost_per_successful_outcome_usd": w["cost"] / w["successful"],
             "baseline_cost_per_task_usd": w["baseline"]},
        ],
        "mart_team_spend": [
            {"team": "platform", "team_name": "Platform Engineering", "period_start": OCT, "is_attributed": True,
             "seats": 3, "active_seats": 1, "idle_seats": 2, "idle_seat_names": "Bob Young, Cara Diaz",
             "cost_usd": D("7.00"), "employee_tooling_cost_usd": D("2.00"), "spend_per_active_seat_usd": D("2.00")},
            {"team": "growth", "team_name": "Growth", "period_start": OCT, "is_attributed": True,
             "seats": 1, "active_seats": 1, "idle_seats": 0, "idle_seat_names": None,
             "cost_usd": D("1.00"), "employee_tooling_cost_usd": D("1.00"), "spend_per_active_seat_usd": D("1.00")},
        ],
        "mart_untagged_share": [
            {"usage_date": day, "provider": provider, "total_cost_usd": D("4.00"), "untagged_cost_usd": D("1.00"),
             "untagged_share": D("0.25"), "overall_total_cost_usd": D("16.00"),
             "overall_untagged_cost_usd": D("4.00"), "overall_untagged_share": D("0.25")}
            for day in (DAY1, DAY2) for provider in ("openai", "anthropic")
        ],
        "mart_untagged_offenders": [
            {"provider": "openai", "api_key_id": "key_unreg", "project_id": "proj_1", "key_name": None,
             "project_name": "Search", "first_untagged_date": DAY1, "last_untagged_date": DAY2, "untagged_days": 2,
             "untagged_cost_usd": D("2.00"), "share_of_provider_untagged": D("1"), "provider_offender_rank": 1,
             "offender_rank": 1},
            {"provider": "anthropic", "api_key_id": None, "project_id": "wrkspc_x", "key_name": None,
             "project_name": None, "first_untagged_date": DAY1, "last_untagged_date": DAY2, "untagged_days": 2,
             "untagged_cost_usd": D("2.00"), "share_of_provider_untagged": D("1"), "provider_offender_rank": 1,
             "offender_rank": 1},
        ],
        "mart_budget_status": [
            {"scope_type": "feature", "scope": "search", "period_start": OCT, "as_of_date": DAY2, "policy": "soft",
             "owner": "growth", "monthly_budget_usd": D("5.00"), "spend_to_date_usd": D("6.00"),
             "forecast_month_end_usd": D("93.00"), "share_of_budget": D("1.2"), "forecast_share": D("18.6"),
             "status": "breached", "action": "alert"},
            {"scope_type": "team", "scope": "platform", "period_start": OCT, "as_of_date": DAY2, "policy": "soft",
             "owner": "platform", "monthly_budget_usd": D("100.00"), "spend_to_date_usd": D("7.00"),
             "forecast_month_end_usd": D("108.50"), "share_of_budget": D("0.07"), "forecast_share": D("1.085"),
             "status": "at_risk", "action": "alert"},
        ],
        "mart_reconciliation": [
            {"usage_date": day, "provider": "openai", "billed_cost_usd": D("3.00"), "estimated_cost_usd": D("2.50"),
             "variance_usd": D("0.50"), "unlogged_traffic_usd": D("0.40"), "price_drift_usd": D("0.10"),
             "unpriced_model_usd": D("0"), "classification_usd": D("0"), "logged_not_in_usage_usd": D("0"),
             "not_billed_usd": D("0"), "unmatched_billed_usd": D("0"), "web_search_usd": D("0"),
             "non_token_billed_usd": D("0"), "unexplained_usd": D("0")}
            for day in (DAY1, DAY2)
        ],
    }


def alerts() -> list[dict]:
    base = {"scope_type": "feature", "scope": "search", "period_grain": "month", "period_start": OCT,
            "first_seen_at": dt.datetime(2026, 10, 2, 4), "last_seen_at": dt.datetime(2026, 10, 3, 4)}
    return [
        {**base, "alert_id": "a1", "kind": "budget_soft", "severity": "critical", "status": "open",
         "details": json.dumps({"status": "breached", "spend_to_date_usd": "6.00", "monthly_budget_usd": "5.00"})},
        {**base, "alert_id": "a2", "kind": "budget_soft", "scope": "resolved-scope", "severity": "warning",
         "status": "resolved", "resolved_at": dt.datetime(2026, 10, 3, 4),
         "details": json.dumps({"status": "at_risk", "spend_to_date_usd": "1.00", "monthly_budget_usd": "2.00"})},
    ]


@pytest.fixture
def tiny(tmp_path):
    return create_tiny_warehouse(tmp_path / "tiny.duckdb", marts(), alerts())


def section_html(html: str, key: str) -> str:
    found = re.search(rf'<section id="{key}".*?</section>', html, re.S)
    assert found, f"no section {key}"
    return found.group(0)


def test_every_section_of_a_full_warehouse_draws_charts_from_its_mart(tiny):
    report = build_report(tiny, now=NOW)
    status = {s.key: s.status for s in report.sections}
    assert status == {spec.key: OK for spec in SECTIONS} | {"spend_change": NOT_BUILT, "customers": NOT_BUILT}
    for section in report.sections:
        if section.status != OK:
            assert not section.charts
            continue
        assert section.charts, section.key
        for chart in section.charts:
            assert chart.traces > 0, chart.chart_id
            for trace in chart.figure.data:
                values = [v for v in (trace.y if trace.orientation != "h" else trace.x) if v is not None]
                assert values, f"{chart.chart_id}: trace {trace.name} has no values"
            assert f'data-chart="{chart.chart_id}" data-traces="{chart.traces}"' in report.html


def test_the_header_names_the_file_and_the_last_day_of_data(tiny):
    html = build_report(tiny, now=NOW).html
    assert f"From {tiny}; data through {DAY2.isoformat()}; report generated 2026-10-03 04:00 UTC." in html


def test_offenders_are_named_and_unregistered_keys_and_projects_say_so(tiny):
    untagged = section_html(build_report(tiny, now=NOW).html, "untagged")
    assert "unregistered key key_unreg" in untagged
    assert "Search (proj_1)" in untagged
    assert "no API key (Console usage or a bill line)" in untagged
    assert "unregistered workspace wrkspc_x" in untagged
    assert "register the key in api_key_owners.csv" in untagged
    assert "register the workspace in project_owners.csv" in untagged


def test_idle_seats_are_people(tiny):
    teams = section_html(build_report(tiny, now=NOW).html, "teams")
    row = re.search(r"<tr><td[^>]*>Platform Engineering</td>.*?</tr>", teams, re.S).group(0)
    assert "Bob Young, Cara Diaz" in row
    growth = re.search(r"<tr><td[^>]*>Growth</td>.*?</tr>", teams, re.S).group(0)
    assert ">none<" in growth


def test_workflow_savings_are_the_baseline_of_the_successes_minus_the_spend(tiny):
    w = WORKFLOW
    workflows = section_html(build_report(tiny, now=NOW).html, "workflows")
    row = re.search(r"<tr><td[^>]*>Ticket triage</td>.*?</tr>", workflows, re.S).group(0)
    assert usd(w["baseline"] * w["successful"] - w["cost"]) in row
    assert unit_usd(w["cost"] / w["completed"]) in row
    assert unit_usd(w["cost"] / w["successful"]) in row


def test_only_open_alerts_are_listed_and_budgets_are_drawn(tiny):
    report = build_report(tiny, now=NOW)
    budgets = section_html(report.html, "budgets")
    assert "Open alerts (1)" in budgets and "feature: search" in budgets
    assert "resolved-scope" not in budgets
    chart = next(c for s in report.sections for c in s.charts if c.chart_id == "chart-budget-status")
    assert list(chart.figure.data[0].y) == ["feature: search", "team: platform"]


def test_reconciliation_draws_only_the_causes_that_moved(tiny):
    report = build_report(tiny, now=NOW)
    chart = next(c for s in report.sections for c in s.charts if c.chart_id == "chart-reconciliation-causes")
    assert sorted(t.name for t in chart.figure.data) == ["price drift", "unlogged traffic"]


def test_missing_marts_are_not_built_and_empty_ones_have_no_data(tmp_path):
    full = marts()
    db = create_tiny_warehouse(tmp_path / "partial.duckdb", {
        "mart_spend_daily": full["mart_spend_daily"],
        "mart_feature_spend": [],
        "mart_workflow_spend": [],
        "mart_team_spend": [],
    })
    report = build_report(db, now=NOW)
    status = {s.key: (s.status, s.detail) for s in report.sections}
    assert status["spend"] == (OK, "")
    assert [status[k][0] for k in ("features", "workflows", "teams")] == [NO_DATA] * 3
    assert status["untagged"] == (NOT_BUILT, "this warehouse has no marts.mart_untagged_share, "
                                             "marts.mart_untagged_offenders")
    assert status["budgets"][0] == NOT_BUILT
    assert "No data: the mart has no rows yet" in section_html(report.html, "features")
    assert report.charts == ["chart-spend-by-model"]


def test_a_warehouse_without_idle_seat_names_says_to_rebuild(tmp_path):
    db = create_tiny_warehouse(tmp_path / "old.duckdb", {"mart_team_spend": marts()["mart_team_spend"]})
    with duckdb.connect(str(db)) as con:
        con.execute("alter table marts.mart_team_spend drop column idle_seat_names")
    teams = section_html(build_report(db, now=NOW).html, "teams")
    assert "rebuild it to see who holds the idle seats" in teams


class _Resources(HTMLParser):
    """Every URL an element of the page would load or link to."""

    def __init__(self):
        super().__init__()
        self.urls: list[tuple[str, str]] = []
        self.inline_scripts = 0

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href", "data", "poster", "srcset", "action") and value:
                self.urls.append((tag, value))
        if tag == "script" and not dict(attrs).get("src"):
            self.inline_scripts += 1


def test_the_page_loads_nothing_from_outside_itself(tiny):
    html = build_report(tiny, now=NOW).html
    parser = _Resources()
    parser.feed(html)
    assert all(url.startswith("#") for _, url in parser.urls), parser.urls
    assert "plotly.js v" in html[:html.index("</head>")]  # the library itself, in the head
    assert not re.search(r"@import|url\(\s*['\"]?(https?:|//)", html[:html.index("<script")])  # no remote CSS
    assert parser.inline_scripts >= 1 + len(build_report(tiny, now=NOW).charts)


def test_the_warehouse_file_is_free_as_soon_as_the_report_is_built(tiny):
    build_report(tiny, now=NOW)
    # a read-write connection in this process fails while any other connection holds the file
    with duckdb.connect(str(tiny)) as con:
        assert con.execute("select count(*) from marts.mart_spend_daily").fetchone()[0] == len(spend_daily())


def test_text_from_the_marts_is_escaped(tmp_path):
    rows = marts()["mart_team_spend"]
    rows[0] = {**rows[0], "idle_seat_names": "<script>alert(1)</script>"}
    db = create_tiny_warehouse(tmp_path / "x.duckdb", {"mart_team_spend": rows})
    html = build_report(db, now=NOW).html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script>" not in html


def test_spend_change_and_customer_sections_render_from_their_marts(tmp_path):
    change_columns = contract_columns("mart_spend_change")
    customer_columns = contract_columns("mart_customer_spend")
    effects = [c for c in change_columns if c.endswith("_effect_usd") or c in ("new_scope_usd", "gone_scope_usd")]
    scope = {"period_grain": "month", "provider": "openai", "feature": "search", "workflow": "(unattributed)",
             "team": "growth"} | {c: D("0") for c in effects}
    whole = scope | {"period_start": SEP, "prior_period_start": dt.date(2026, 8, 1), "is_complete_comparison": True,
                     "prior_cost_usd": D("10.00"), "cost_usd": D("13.00"), "change_usd": D("3.00"),
                     effects[0]: D("2.00"), effects[1]: D("1.00"), "largest_effect": effects[0].removesuffix("_usd")}
    # a later month cut short by the end of the data: the report explains the latest month compared whole
    cut = scope | {"period_start": OCT, "prior_period_start": SEP, "is_complete_comparison": False,
                   "prior_cost_usd": D("13.00"), "cost_usd": D("6.00"), "change_usd": D("-7.00"),
                   effects[0]: D("-7.00"), "largest_effect": effects[0].removesuffix("_usd")}
    db = create_tiny_warehouse(tmp_path / "more.duckdb", {
        "mart_spend_change": [{k: v for k, v in row.items() if k in change_columns} for row in (whole, cut)],
        "mart_customer_spend": _customer_rows(customer_columns),
    })
    report = build_report(db, now=NOW)
    status = {s.key: s.status for s in report.sections}
    assert status["spend_change"] == OK and status["customers"] == OK
    waterfall = next(c for s in report.sections for c in s.charts if c.chart_id == "chart-spend-change-month")
    assert list(waterfall.figure.data[0].y) == [D("10.00"), D("2.00"), D("1.00"), D("13.00")]
    low, high = waterfall.figure.layout.yaxis.range
    assert low <= D("10.00") and high >= D("13.00")
    assert "chart-customer-spend" in report.charts and "chart-segment-cost-per-interaction" in report.charts
    customers = section_html(report.html, "customers")
    assert f"{usd(D('3.00'))} of spend carries no customer" in customers
    assert "Acme" in customers


def _customer_rows(columns: dict[str, str]) -> list[dict]:
    rows = [
        {"month": OCT, "scope_type": "customer", "scope": "cus_1", "customer_name": "Acme", "segment": "enterprise",
         "requests": 10, "interactions": 5, "cost_usd": D("2.00"), "cost_per_interaction_usd": D("0.40")},
        {"month": OCT, "scope_type": "segment", "scope": "enterprise", "segment": "enterprise",
         "requests": 10, "interactions": 5, "cost_usd": D("2.00"), "cost_per_interaction_usd": D("0.40")},
        {"month": OCT, "scope_type": "customer", "scope": "(no customer)", "segment": "(no customer)",
         "requests": 3, "interactions": 3, "cost_usd": D("3.00"), "cost_per_interaction_usd": D("1.00")},
    ]
    return [{k: v for k, v in row.items() if k in columns} for row in rows]


def test_the_command_writes_the_file_and_names_a_bad_input(tiny, tmp_path, capsys):
    out = tmp_path / "out" / REPORT_FILE
    assert main(["--db", str(tiny), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and out.read_text(encoding="utf-8").startswith("<!doctype html>")

    not_a_database = tmp_path / "notes.duckdb"
    not_a_database.write_text("not a database")
    assert main(["--db", str(not_a_database), "--out", str(out)]) == 1
    assert f"cannot read {not_a_database} as a tokenspend warehouse" in capsys.readouterr().err

    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    assert main(["--db", str(empty), "--out", str(out)]) == 1
    assert f"{empty} has no tables in schema marts" in capsys.readouterr().err
    assert main(["--db", str(tmp_path / "absent.duckdb"), "--out", str(out)]) == 1
    assert "no warehouse at" in capsys.readouterr().err


def test_write_report_replaces_the_file_whole(tiny, tmp_path):
    out = tmp_path / REPORT_FILE
    out.write_text("old")
    written = write_report(tiny, out, now=NOW)
    assert written.bytes == out.stat().st_size and out.read_text(encoding="utf-8") == written.report.html
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(("value", "cents", "unit"), [
    (D("1234.5678"), "$1,234.57", "$1,234.57"),
    (D("0.027560576"), "$0.03", "$0.0276"),
    (D("-2.646"), "-$2.65", "-$2.65"),
    (D("-0.000000001"), "$0.00", "$0.0000"),
    (None, "–", "–"),
])
def test_money_is_written_from_decimals(value, cents, unit):
    assert (usd(value), unit_usd(value)) == (cents, unit)


def test_the_report_asset_runs_after_the_publish_and_depends_on_every_mart_it_draws():
    import dagster as dg

    from dagster_project.cli import load_definitions

    graph = load_definitions().resolve_asset_graph()
    parents = graph.get(dg.AssetKey(["exports", "spend_report"])).parent_keys
    drawn = {dg.AssetKey(table.split(".")) for spec in SECTIONS for table in spec.source.tables
             if table.startswith("marts.")}
    assert dg.AssetKey(["published", "warehouse"]) in parents
    assert drawn <= parents, drawn - parents
