"""The report's sections: what each reads from the marts (SQL, aggregated by DuckDB) and how it is drawn.

Each section is a `Source` (the tables it needs and its queries) and a builder that turns the frames into
charts (Plotly figures), tables and notes. A builder returns None when its frames hold no rows; the
report then says "no data" for that section. Charts get only series that have values, so every chart
drawn has data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import plotly.graph_objects as go

from dagster_project.report.data import Catalog, Frame, Source
from dagster_project.report.model import DASH, Chart, Section, Table, count, month, pct, text, unit_usd, usd

# The reconciliation causes, in the order of mart_reconciliation's columns (each is a `<cause>_usd` column).
RECONCILIATION_CAUSES = (
    "unlogged_traffic", "unpriced_model", "price_drift", "classification", "logged_not_in_usage", "not_billed",
    "unmatched_billed", "web_search", "non_token_billed", "unexplained",
)
STATUS_COLOURS = {"breached": "#c0392b", "at_risk": "#e67e22", "ok": "#2e86c1"}
HEIGHT = 380


def _layout(fig: go.Figure, *, y_title: str = "", x_title: str = "", height: int = HEIGHT, **extra) -> go.Figure:
    fig.update_layout(
        template="plotly_white", height=height, margin={"l": 60, "r": 20, "t": 20, "b": 50},
        legend={"orientation": "h", "y": -0.18}, hovermode="closest", **extra,
    )
    fig.update_yaxes(title_text=y_title, rangemode="tozero")
    fig.update_xaxes(title_text=x_title)
    return fig


def _series_bars(frame: Frame, *, name: str, x: str, y: str) -> list[go.Bar]:
    """One bar trace per row of `frame`, whose columns `x` and `y` are lists (DuckDB list())."""
    return [go.Bar(name=str(row[name]), x=row[x], y=row[y]) for row in frame.records()]


def _label(column: str) -> str:
    return column.removesuffix("_usd").replace("_", " ")


@dataclass(frozen=True)
class SectionSpec:
    key: str
    title: str
    intro: str
    source: Source
    build: Callable[[dict[str, Frame | None]], Section | None]


# --- spend over time by provider and model ------------------------------------------------------------

def _spend_queries(_: Catalog) -> dict[str, str]:
    return {
        "totals": """
            select sum(cost_usd) as total_usd, min(usage_date) as first_day, max(usage_date) as last_day,
                   count(distinct usage_date) as days
            from marts.mart_spend_daily having count(*) > 0
        """,
        "providers": """
            select provider, sum(cost_usd) as cost_usd from marts.mart_spend_daily group by provider order by 2 desc
        """,
        "series": """
            select provider || ' · ' || coalesce(model_key, '(no model)') as series,
                   list(usage_date order by usage_date) as days, list(cost_usd order by usage_date) as costs,
                   sum(cost_usd) as total_usd
            from marts.mart_spend_daily group by provider, model_key order by total_usd desc, series
        """,
        "models": """
            select provider, coalesce(model_key, '(no model: web search, code execution)') as model,
                   sum(cost_usd) as cost_usd, sum(cost_usd) / nullif(sum(sum(cost_usd)) over (), 0) as share,
                   sum(estimated_cost_usd) as estimated_cost_usd, sum(total_tokens) as tokens,
                   sum(request_count) as requests, sum(unpriced_tokens) as unpriced_tokens
            from marts.mart_spend_daily group by provider, model_key order by cost_usd desc, provider, model
        """,
    }


def _spend(frames: dict[str, Frame | None]) -> Section | None:
    if not frames["totals"]:
        return None
    totals = frames["totals"].records()[0]
    fig = go.Figure(_series_bars(frames["series"], name="series", x="days", y="costs"))
    _layout(fig, y_title="billed cost (USD/day)", barmode="stack", height=440)
    models = Table(
        "Billed cost by provider and model over the period",
        ["provider", "model", "billed cost", "share", "list-price estimate", "tokens", "requests", "unpriced tokens"],
        [[r["provider"], r["model"], usd(r["cost_usd"]), pct(r["share"]), usd(r["estimated_cost_usd"]),
          count(r["tokens"]), count(r["requests"]), count(r["unpriced_tokens"])]
         for r in frames["models"].records()],
        frozenset(range(2, 8)),
    )
    providers = ", ".join(f"{r['provider']} {usd(r['cost_usd'])}" for r in frames["providers"].records())
    section = _new("spend")
    section.notes.append(f"Billed spend {text(totals['first_day'])} to {text(totals['last_day'])} "
                         f"({totals['days']} days): {usd(totals['total_usd'])}; {providers}.")
    section.charts.append(Chart("chart-spend-by-model", "Daily billed cost by provider and model", fig))
    section.tables.append(models)
    return section


# --- features by cost per interaction -----------------------------------------------------------------

def _feature_queries(_: Catalog) -> dict[str, str]:
    return {
        "series": """
            select period_start, list(coalesce(feature_name, feature) order by feature) as features,
                   list(cost_per_interaction_usd order by feature) as unit_costs
            from marts.mart_feature_spend where cost_per_interaction_usd is not null and is_attributed
            group by period_start order by period_start
        """,
        "rows": """
            select coalesce(feature_name, feature) as feature, owner_team, period_start, requests, interactions,
                   cost_usd, cost_per_interaction_usd
            from marts.mart_feature_spend
            order by period_start desc, cost_per_interaction_usd desc nulls last, feature
        """,
    }


def _features(frames: dict[str, Frame | None]) -> Section | None:
    if not frames["rows"]:
        return None
    section = _new("features")
    if frames["series"]:
        traces = [go.Bar(name=month(r["period_start"]), x=r["features"], y=r["unit_costs"])
                  for r in frames["series"].records()]
        fig = _layout(go.Figure(traces), y_title="billed cost per interaction (USD)", barmode="group")
        fig.update_xaxes(categoryorder="total descending")
        section.charts.append(Chart("chart-feature-cost-per-interaction", "Cost per interaction, by feature and month",
                                    fig))
    section.tables.append(Table(
        "Features by month, most expensive interaction first",
        ["feature", "owner team", "month", "requests", "interactions", "billed cost", "cost per interaction"],
        [[r["feature"], text(r["owner_team"]), month(r["period_start"]), count(r["requests"]),
          count(r["interactions"]), usd(r["cost_usd"]), unit_usd(r["cost_per_interaction_usd"])]
         for r in frames["rows"].records()],
        frozenset(range(3, 7)), wrap=frozenset({0}),
    ))
    return section


# --- workflows: cost per completed task and per success against the baseline, savings -------------------

def _workflow_queries(_: Catalog) -> dict[str, str]:
    rows = """
        select workflow, coalesce(workflow_name, workflow) as label, period_start, completed_tasks, successful_tasks,
               success_rate, cost_usd, cost_per_completed_task_usd, cost_per_successful_outcome_usd,
               baseline_cost_per_task_usd,
               baseline_cost_per_task_usd * successful_tasks - cost_usd as net_savings_usd
        from marts.mart_workflow_spend where is_attributed
    """
    return {
        "rows": rows + " order by period_start desc, cost_usd desc, workflow",
        "latest": f"""
            with rows as ({rows})
            select * from rows where period_start = (select max(period_start) from rows where completed_tasks > 0)
              and completed_tasks > 0
            order by label
        """,
        "savings": f"""
            with rows as ({rows})
            select period_start, list(label order by label) as workflows, list(net_savings_usd order by label) as savings
            from rows where net_savings_usd is not null group by period_start order by period_start
        """,
    }


def _workflows(frames: dict[str, Frame | None]) -> Section | None:
    if not frames["rows"]:
        return None
    section = _new("workflows")
    latest = frames["latest"]
    if latest:
        labels = latest.column("label")
        measures = [("cost per completed task", "cost_per_completed_task_usd"),
                    ("cost per successful outcome", "cost_per_successful_outcome_usd"),
                    ("baseline cost per task before automation", "baseline_cost_per_task_usd")]
        traces = []
        for name, column in measures:
            values = latest.column(column)
            if any(v is not None for v in values):
                traces.append(go.Bar(name=name, x=labels, y=values))
        # a task before automation costs dollars, after it cents: a log axis shows both
        fig = _layout(go.Figure(traces), y_title="USD per task (log scale)", barmode="group")
        fig.update_yaxes(type="log", rangemode="normal")
        section.charts.append(Chart(
            "chart-workflow-unit-costs",
            f"Cost per completed task and per success against the baseline, {month(latest.records()[0]['period_start'])}",
            fig))
    if frames["savings"]:
        traces = [go.Bar(name=month(r["period_start"]), x=r["workflows"], y=r["savings"])
                  for r in frames["savings"].records()]
        fig = _layout(go.Figure(traces), y_title="net savings (USD)", barmode="group")
        section.charts.append(Chart(
            "chart-workflow-savings", "Net savings: the baseline cost of the tasks that succeeded, minus the spend",
            fig))
    else:
        section.notes.append("No workflow has a baseline (seeds/workflow_baselines.csv), so no savings are shown.")
    section.tables.append(Table(
        "Workflows by month",
        ["workflow", "month", "completed tasks", "successful", "success rate", "billed cost", "per completed task",
         "per success", "baseline per task", "net savings"],
        [[r["label"], month(r["period_start"]), count(r["completed_tasks"]), count(r["successful_tasks"]),
          pct(r["success_rate"]), usd(r["cost_usd"]), unit_usd(r["cost_per_completed_task_usd"]),
          unit_usd(r["cost_per_successful_outcome_usd"]), unit_usd(r["baseline_cost_per_task_usd"]),
          usd(r["net_savings_usd"])]
         for r in frames["rows"].records()],
        frozenset(range(2, 10)), wrap=frozenset({0}),
    ))
    return section


# --- teams: spend per active seat, idle seats by name -------------------------------------------------

def _team_queries(catalog: Catalog) -> dict[str, str]:
    names = ("idle_seat_names" if catalog.has_column("marts.mart_team_spend", "idle_seat_names")
             else "cast(null as varchar)")
    rows = f"""
        select team, coalesce(team_name, team) as label, period_start, is_attributed, seats, active_seats,
               idle_seats, {names} as idle_seat_names, cost_usd, employee_tooling_cost_usd, spend_per_active_seat_usd
        from marts.mart_team_spend
    """
    return {
        "rows": rows + " order by period_start desc, cost_usd desc, team",
        "per_seat": f"""
            with rows as ({rows})
            select period_start, list(label order by label) as teams, list(spend_per_active_seat_usd order by label) as per_seat
            from rows where spend_per_active_seat_usd is not null group by period_start order by period_start
        """,
        "seats": f"""
            with rows as ({rows})
            select label, active_seats, idle_seats, coalesce(idle_seat_names, 'none') as idle_seat_names, period_start
            from rows where seats > 0 and period_start = (select max(period_start) from rows where seats > 0)
            order by label
        """,
        "has_names": """
            select count(*) > 0 as has_names from information_schema.columns
            where table_catalog = current_database() and table_schema = 'marts' and table_name = 'mart_team_spend'
              and column_name = 'idle_seat_names'
        """,
    }


def _teams(frames: dict[str, Frame | None]) -> Section | None:
    if not frames["rows"]:
        return None
    section = _new("teams")
    if frames["per_seat"]:
        traces = [go.Bar(name=month(r["period_start"]), x=r["teams"], y=r["per_seat"])
                  for r in frames["per_seat"].records()]
        fig = _layout(go.Figure(traces), y_title="employee-tooling spend per active seat (USD)", barmode="group")
        fig.update_xaxes(categoryorder="total descending")
        section.charts.append(Chart("chart-team-spend-per-seat", "Spend per active seat, by team and month", fig))
    seats = frames["seats"]
    if seats:
        labels = seats.column("label")
        fig = go.Figure([
            go.Bar(name="active seats", x=labels, y=seats.column("active_seats")),
            go.Bar(name="idle seats", x=labels, y=seats.column("idle_seats"),
                   customdata=seats.column("idle_seat_names"),
                   hovertemplate="%{x}: %{y} idle<br>%{customdata}<extra></extra>"),
        ])
        _layout(fig, y_title="seats", barmode="stack")
        latest = seats.records()[0]["period_start"]
        section.charts.append(Chart("chart-team-seats", f"Active and idle AI seats, {month(latest)}", fig))
    has_names = bool(frames["has_names"].rows[0][0])
    if not has_names:
        section.notes.append("This warehouse's mart_team_spend has no idle_seat_names column: rebuild it to see "
                             "who holds the idle seats.")
    section.tables.append(Table(
        "Teams by month: seats, the people holding idle seats, and spend",
        ["team", "month", "seats", "active", "idle", "idle seat holders", "billed cost", "employee tooling",
         "per active seat"],
        [[r["label"], month(r["period_start"]), count(r["seats"]), count(r["active_seats"]), count(r["idle_seats"]),
          (r["idle_seat_names"] or ("none" if r["idle_seats"] == 0 or has_names else DASH)),
          usd(r["cost_usd"]), usd(r["employee_tooling_cost_usd"]), usd(r["spend_per_active_seat_usd"])]
         for r in frames["rows"].records()],
        frozenset({2, 3, 4, 6, 7, 8}), wrap=frozenset({0, 5}),
    ))
    return section


# --- untagged spend: share over time, offenders by name ------------------------------------------------

KEY_LABEL = """
    case when api_key_id is null then 'no API key (Console usage or a bill line)'
         when key_name is null then 'unregistered key ' || api_key_id
         else key_name || ' (' || api_key_id || ')' end
"""
PROJECT_LABEL = """
    case when project_id is null then 'no project'
         when project_name is null then 'unregistered ' || case when provider = 'anthropic' then 'workspace '
                                                           else 'project ' end || project_id
         else project_name || ' (' || project_id || ')' end
"""
FIX = """
    case when api_key_id is not null and key_name is null
             then 'register the key in api_key_owners.csv, or tag its requests'
         when api_key_id is not null
             then 'its api_key_owners.csv entry was not in force: extend it, or tag its requests'
         when project_id is not null and project_name is null
             then 'register the ' || case when provider = 'anthropic' then 'workspace' else 'project' end
                  || ' in project_owners.csv'
         else 'tag the requests, or extend the project_owners.csv entry' end
"""


def _untagged_queries(_: Catalog) -> dict[str, str]:
    return {
        "overall": """
            select any_value(overall_total_cost_usd) as total_usd, any_value(overall_untagged_cost_usd) as untagged_usd,
                   any_value(overall_untagged_share) as share
            from marts.mart_untagged_share having count(*) > 0
        """,
        "series": """
            with daily as (
                select provider as series, usage_date, untagged_share from marts.mart_untagged_share
                union all
                select 'all providers', usage_date, sum(untagged_cost_usd) / nullif(sum(total_cost_usd), 0)
                from marts.mart_untagged_share group by usage_date
            )
            select series, list(usage_date order by usage_date) as days, list(untagged_share order by usage_date) as shares
            from daily where untagged_share is not null
            group by series order by series = 'all providers' desc, series
        """,
        "offenders": f"""
            select offender_rank, provider, {KEY_LABEL} as api_key, {PROJECT_LABEL} as project,
                   first_untagged_date, last_untagged_date, untagged_days, untagged_cost_usd,
                   share_of_provider_untagged, {FIX} as fix
            from marts.mart_untagged_offenders order by offender_rank, provider, api_key, project
        """,
    }


def _untagged(frames: dict[str, Frame | None]) -> Section | None:
    if not frames["overall"] and not frames["offenders"]:
        return None
    section = _new("untagged")
    if frames["overall"]:
        overall = frames["overall"].records()[0]
        section.notes.append(f"Untagged: {usd(overall['untagged_usd'])} of {usd(overall['total_usd'])} billed "
                             f"({pct(overall['share'])}), spend no tag, key owner or project owner attributes.")
    if frames["series"]:
        traces = [go.Scatter(name=r["series"], x=r["days"], y=r["shares"], mode="lines+markers")
                  for r in frames["series"].records()]
        fig = _layout(go.Figure(traces), y_title="untagged share of billed cost")
        fig.update_yaxes(tickformat=".0%")
        section.charts.append(Chart("chart-untagged-share", "Untagged share of billed cost, by day", fig))
    offenders = frames["offenders"]
    if offenders:
        top = offenders.records()[:15]
        labels = [f"{r['api_key']}<br>{r['project']}" for r in top]
        fig = go.Figure(go.Bar(name="untagged cost", x=[r["untagged_cost_usd"] for r in top], y=labels,
                               orientation="h"))
        _layout(fig, x_title="untagged billed cost over the period (USD)", height=max(240, 80 + 50 * len(top)),
                showlegend=False)
        fig.update_yaxes(autorange="reversed", automargin=True)
        fig.update_xaxes(rangemode="tozero")
        section.charts.append(Chart("chart-untagged-offenders", "The keys and projects that cause it", fig))
        section.tables.append(Table(
            "Offenders to fix, largest first",
            ["rank", "provider", "API key", "project / workspace", "first day", "last day", "days", "untagged cost",
             "share of provider's untagged", "fix"],
            [[count(r["offender_rank"]), r["provider"], r["api_key"], r["project"], text(r["first_untagged_date"]),
              text(r["last_untagged_date"]), count(r["untagged_days"]), usd(r["untagged_cost_usd"]),
              pct(r["share_of_provider_untagged"]), r["fix"]]
             for r in offenders.records()],
            frozenset({0, 6, 7, 8}), wrap=frozenset({2, 3, 9}),
        ))
    else:
        section.notes.append("No key or project has untagged spend.")
    return section


# --- budgets and open alerts -------------------------------------------------------------------------

def _budget_queries(catalog: Catalog) -> dict[str, str | None]:
    return {
        "budgets": """
            select scope_type, scope, scope_type || ': ' || scope as label, period_start, as_of_date, policy, owner,
                   monthly_budget_usd, spend_to_date_usd, forecast_month_end_usd, share_of_budget, forecast_share,
                   status, action
            from marts.mart_budget_status
            where period_start = (select max(period_start) from marts.mart_budget_status)
            order by share_of_budget desc nulls last, label
        """,
        "alerts": None if not catalog.has("ops.alerts") else """
            select kind, scope_type, scope, period_grain, period_start, severity, first_seen_at, last_seen_at,
                   times_opened, notified_at,
                   coalesce(json_extract_string(details, '$.status'), '') as budget_status,
                   json_extract_string(details, '$.spend_to_date_usd') as spend_to_date_usd,
                   json_extract_string(details, '$.monthly_budget_usd') as monthly_budget_usd,
                   json_extract_string(details, '$.cost_usd') as cost_usd,
                   json_extract_string(details, '$.threshold_usd') as threshold_usd
            from ops.alerts where status = 'open'
            order by severity = 'critical' desc, kind, period_start desc, scope_type, scope
        """,
    }


def _alert_detail(r: dict) -> str:
    if r["kind"].startswith("budget"):
        return f"{r['budget_status'] or 'over budget'}: spent ${r['spend_to_date_usd']} of ${r['monthly_budget_usd']}"
    if r["cost_usd"] is not None:
        return f"${r['cost_usd']} on {text(r['period_start'])}, above the threshold ${r['threshold_usd']}"
    return DASH


def _budgets(frames: dict[str, Frame | None]) -> Section | None:
    budgets, alerts = frames["budgets"], frames["alerts"]
    if not budgets and not alerts:
        return None
    section = _new("budgets")
    if budgets:
        rows = [r for r in budgets.records() if r["share_of_budget"] is not None]
        if rows:
            labels = [r["label"] for r in rows]
            fig = go.Figure([
                go.Bar(name="spent to date", x=[r["share_of_budget"] for r in rows], y=labels, orientation="h",
                       marker_color=[STATUS_COLOURS.get(r["status"], "#7f8c8d") for r in rows],
                       customdata=[r["status"] for r in rows],
                       hovertemplate="%{y}: %{x:.0%} of budget (%{customdata})<extra></extra>"),
                go.Scatter(name="forecast at month end", x=[r["forecast_share"] for r in rows], y=labels,
                           mode="markers", marker={"symbol": "diamond", "size": 11, "color": "#222"}),
            ])
            _layout(fig, x_title="share of the monthly budget", height=max(260, 80 + 36 * len(rows)))
            fig.update_xaxes(tickformat=".0%", rangemode="tozero")
            fig.update_yaxes(autorange="reversed", automargin=True)
            fig.add_vline(x=1, line_dash="dash", line_color="#c0392b")
            section.charts.append(Chart("chart-budget-status",
                                        f"Budgets, {month(rows[0]['period_start'])} (as of {text(rows[0]['as_of_date'])})",
                                        fig, "Bars: spent to date; diamonds: the linear forecast at month end."))
        section.tables.append(Table(
            "Budget status in the latest month",
            ["scope", "policy", "owner", "budget", "spent to date", "share", "forecast at month end", "status", "action"],
            [[r["label"], r["policy"], text(r["owner"]), usd(r["monthly_budget_usd"]), usd(r["spend_to_date_usd"]),
              pct(r["share_of_budget"], 0), usd(r["forecast_month_end_usd"]), r["status"], r["action"]]
             for r in budgets.records()],
            frozenset({3, 4, 5, 6}), wrap=frozenset({0}),
        ))
    if alerts is None:
        section.notes.append("This warehouse has no alert history (ops.alerts).")
    elif not alerts:
        section.notes.append("No open alerts.")
    else:
        section.tables.append(Table(
            f"Open alerts ({len(alerts)})",
            ["severity", "kind", "scope", "period", "what", "first seen (UTC)", "last seen (UTC)", "times opened",
             "notified"],
            [[r["severity"], r["kind"], f"{r['scope_type']}: {r['scope']}",
              (month(r["period_start"]) if r["period_grain"] == "month" else text(r["period_start"])),
              _alert_detail(r), text(r["first_seen_at"]), text(r["last_seen_at"]), count(r["times_opened"]),
              "yes" if r["notified_at"] else "not yet"]
             for r in alerts.records()],
            frozenset({7}), wrap=frozenset({2, 4}),
        ))
    return section


# --- reconciliation variance by cause -----------------------------------------------------------------

def _causes(catalog: Catalog) -> list[str]:
    return [c for c in RECONCILIATION_CAUSES if catalog.has_column("marts.mart_reconciliation", f"{c}_usd")]


def _reconciliation_queries(catalog: Catalog) -> dict[str, str]:
    causes = _causes(catalog)
    sums = ", ".join(f"sum({c}_usd) as {c}_usd" for c in causes)
    return {
        "daily": f"select usage_date, {sums} from marts.mart_reconciliation group by usage_date order by usage_date",
        "providers": f"""
            select provider, sum(billed_cost_usd) as billed_cost_usd, sum(estimated_cost_usd) as estimated_cost_usd,
                   sum(variance_usd) as variance_usd,
                   sum(variance_usd) / nullif(sum(billed_cost_usd), 0) as variance_share, {sums}
            from marts.mart_reconciliation group by provider order by provider
        """,
    }


def _reconciliation(frames: dict[str, Frame | None]) -> Section | None:
    daily, providers = frames["daily"], frames["providers"]
    if not daily:
        return None
    section = _new("reconciliation")
    causes = [c for c in daily.columns if c.endswith("_usd")]
    moving = [c for c in causes if any(v for v in daily.column(c))]
    if moving:
        fig = go.Figure([go.Bar(name=_label(c), x=daily.column("usage_date"), y=daily.column(c)) for c in moving])
        _layout(fig, y_title="billed minus estimate (USD/day)", barmode="relative", height=440)
        section.charts.append(Chart("chart-reconciliation-causes", "Reconciliation variance by cause, by day", fig,
                                    "Each day's bars add up to the bill minus the request-level estimate."))
    else:
        section.notes.append("The estimate equals the bill on every day: no variance to explain.")
    records = providers.records()
    section.tables.append(Table(
        "Variance by provider and cause over the period",
        ["provider", "billed", "estimate", "variance", "variance % of billed", *[_label(c) for c in moving]],
        [[r["provider"], usd(r["billed_cost_usd"]), usd(r["estimated_cost_usd"]), usd(r["variance_usd"]),
          pct(r["variance_share"]), *[usd(r[c]) for c in moving]] for r in records],
        frozenset(range(1, 5 + len(moving))),
    ))
    return section


# --- why spend changed (mart_spend_change) --------------------------------------------------------------

def _effects(catalog: Catalog) -> list[str]:
    columns = catalog.columns("marts.mart_spend_change")
    return [c for c in columns if c.endswith("_effect_usd") or c in ("new_scope_usd", "gone_scope_usd")]


def _change_queries(catalog: Catalog) -> dict[str, str]:
    effects = _effects(catalog)
    sums = ", ".join(f"sum({c}) as {c}" for c in effects)
    # the latest period compared whole (both periods inside the data), else the latest there is
    complete = ("bool_and(is_complete_comparison)"
                if catalog.has_column("marts.mart_spend_change", "is_complete_comparison") else "true")
    largest = ("largest_effect" if catalog.has_column("marts.mart_spend_change", "largest_effect")
               else "cast(null as varchar)")
    return {
        "waterfalls": f"""
            with periods as (
                select period_grain, period_start, any_value(prior_period_start) as prior_period_start,
                       {complete} as is_complete, sum(prior_cost_usd) as prior_cost_usd, sum(cost_usd) as cost_usd,
                       sum(change_usd) as change_usd, {sums}
                from marts.mart_spend_change group by period_grain, period_start
            )
            select * from periods
            qualify row_number() over (partition by period_grain order by is_complete desc, period_start desc) = 1
            order by period_grain = 'month' desc, period_grain
        """,
        "scopes": f"""
            with periods as (
                select period_grain, period_start, {complete} as is_complete
                from marts.mart_spend_change where period_grain = 'month' group by period_grain, period_start
                qualify row_number() over (order by is_complete desc, period_start desc) = 1
            )
            select provider, feature, workflow, team, prior_cost_usd, cost_usd, change_usd,
                   replace({largest}, '_', ' ') as largest_effect
            from marts.mart_spend_change s semi join periods using (period_grain, period_start)
            order by abs(change_usd) desc, provider, feature, workflow, team limit 15
        """,
    }


def _waterfall_range(start, steps) -> list:
    """The y range around the running totals, so effects of a few percent stay visible (the first and last
    bars, which start at 0, are cut at the bottom)."""
    totals = [start]
    for step in steps:
        totals.append(totals[-1] + step)
    low, high = min(totals), max(totals)
    pad = (high - low) * Decimal("0.25") or abs(high) * Decimal("0.05") or Decimal(1)
    return [low - pad if low < 0 else max(low - pad, Decimal(0)), high + pad]


def _spend_change(frames: dict[str, Frame | None]) -> Section | None:
    waterfalls = frames["waterfalls"]
    if not waterfalls:
        return None
    section = _new("spend_change")
    effects = [c for c in waterfalls.columns if c.endswith("_effect_usd") or c in ("new_scope_usd", "gone_scope_usd")]
    for r in waterfalls.records():
        before = f"{r['period_grain']} of {text(r['prior_period_start'])}"
        after = f"{r['period_grain']} of {text(r['period_start'])}"
        steps = [c for c in effects if r[c]]
        fig = go.Figure(go.Waterfall(
            name="change", orientation="v",
            measure=["absolute", *["relative"] * len(steps), "total"],
            x=[before, *[_label(c).removesuffix(" effect") for c in steps], after],
            y=[r["prior_cost_usd"], *[r[c] for c in steps], r["cost_usd"]],
            connector={"line": {"color": "#999"}},
        ))
        _layout(fig, y_title="billed cost (USD)", showlegend=False)
        fig.update_yaxes(range=_waterfall_range(r["prior_cost_usd"], [r[c] for c in steps]))
        caption = "" if r["is_complete"] else (
            "A period cut short by the ends of the data: its volume effect mostly measures the cut.")
        section.charts.append(Chart(
            f"chart-spend-change-{r['period_grain']}",
            f"Why spend changed: {before} to {after} ({usd(r['change_usd'])})", fig, caption))
    scopes = frames["scopes"]
    if scopes:
        section.tables.append(Table(
            "The largest changes in that month, by provider, feature, workflow and team",
            ["provider", "feature", "workflow", "team", "prior month", "this month", "change", "largest effect"],
            [[r["provider"], r["feature"], r["workflow"], r["team"], usd(r["prior_cost_usd"]), usd(r["cost_usd"]),
              usd(r["change_usd"]), text(r["largest_effect"])] for r in scopes.records()],
            frozenset({4, 5, 6}), wrap=frozenset({1, 2, 3}),
        ))
    return section


# --- customers (mart_customer_spend) ------------------------------------------------------------------

NO_CUSTOMER = "(no customer)"


def _customer_queries(_: Catalog) -> dict[str, str]:
    rows = """
        select scope_type, scope, coalesce(customer_name, scope) as label, segment, month, requests, interactions,
               cost_usd, cost_per_interaction_usd, share_of_feature_spend
        from marts.mart_customer_spend
        where month = (select max(month) from marts.mart_customer_spend)
    """
    return {
        "customers": rows + f" and scope_type = 'customer' and scope <> '{NO_CUSTOMER}' order by cost_usd desc, scope limit 20",
        "segments": rows + f" and scope_type = 'segment' and scope <> '{NO_CUSTOMER}' order by cost_usd desc, scope",
        "no_customer": rows + f" and scope_type = 'customer' and scope = '{NO_CUSTOMER}'",
    }


def _customers(frames: dict[str, Frame | None]) -> Section | None:
    customers, segments, untagged = frames["customers"], frames["segments"], frames["no_customer"]
    if not customers and not segments and not untagged:
        return None
    section = _new("customers")
    if untagged:
        r = untagged.records()[0]
        section.notes.append(f"{month(r['month'])}: {usd(r['cost_usd'])} of spend carries no customer (untagged "
                             "requests, and usage no logged request explains).")
    if customers:
        top = customers.records()[:15]
        fig = go.Figure(go.Bar(name="billed cost", x=[r["cost_usd"] for r in top], y=[r["label"] for r in top],
                               orientation="h"))
        _layout(fig, x_title="billed cost (USD)", height=max(240, 60 + 32 * len(top)), showlegend=False)
        fig.update_yaxes(autorange="reversed", automargin=True)
        fig.update_xaxes(rangemode="tozero")
        section.charts.append(Chart("chart-customer-spend", f"Top customers by spend, {month(top[0]['month'])}", fig))
        section.tables.append(Table(
            "Customers in the latest month, largest first",
            ["customer", "segment", "requests", "interactions", "billed cost", "cost per interaction",
             "share of its features' spend"],
            [[r["label"], text(r["segment"]), count(r["requests"]), count(r["interactions"]), usd(r["cost_usd"]),
              unit_usd(r["cost_per_interaction_usd"]), pct(r["share_of_feature_spend"])]
             for r in customers.records()],
            frozenset({2, 3, 4, 5, 6}), wrap=frozenset({0}),
        ))
    priced = [r for r in segments.records() if r["cost_per_interaction_usd"] is not None] if segments else []
    if priced:
        fig = go.Figure(go.Bar(name="cost per interaction", x=[r["scope"] for r in priced],
                               y=[r["cost_per_interaction_usd"] for r in priced]))
        _layout(fig, y_title="billed cost per interaction (USD)", showlegend=False)
        section.charts.append(Chart("chart-segment-cost-per-interaction",
                                    f"Cost per interaction by customer segment, {month(priced[0]['month'])}", fig))
    return section


# --- the report's sections, in order -----------------------------------------------------------------

SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec("spend", "Spend over time by provider and model",
                "Billed cost per day, stacked by provider and model (marts.mart_spend_daily).",
                Source(("marts.mart_spend_daily",), _spend_queries), _spend),
    SectionSpec("features", "Features by cost per interaction",
                "Billed cost over distinct interactions (a task, else a request) per feature and month "
                "(marts.mart_feature_spend).",
                Source(("marts.mart_feature_spend",), _feature_queries), _features),
    SectionSpec("workflows", "Workflows: cost per completed task and per success, against the baseline",
                "Cost per completed and per successful root task, beside the cost per task before automation "
                "(marts.mart_workflow_spend). Net savings = baseline x successful tasks - billed cost: a failed task "
                "still needs the work it was meant to replace.",
                Source(("marts.mart_workflow_spend",), _workflow_queries), _workflows),
    SectionSpec("teams", "Teams: spend per active seat, and who holds the idle seats",
                "Employee-tooling spend per active AI seat, and the seat holders with no spend in the month "
                "(marts.mart_team_spend).",
                Source(("marts.mart_team_spend",), _team_queries), _teams),
    SectionSpec("untagged", "Untagged spend and the offenders to fix",
                "The share of billed cost no tag, key owner or project owner attributes, by day, and the API keys "
                "and projects behind it by name (marts.mart_untagged_share, marts.mart_untagged_offenders).",
                Source(("marts.mart_untagged_share", "marts.mart_untagged_offenders"), _untagged_queries), _untagged),
    SectionSpec("budgets", "Budgets and open alerts",
                "Spend to date and the month-end forecast against each budget of the latest month "
                "(marts.mart_budget_status), and the alerts still open (ops.alerts).",
                Source(("marts.mart_budget_status",), _budget_queries), _budgets),
    SectionSpec("reconciliation", "Reconciliation: why the bill differs from the estimate",
                "The provider's bill minus the request-level estimate, split into named causes that add up to it "
                "exactly (marts.mart_reconciliation, docs/reconciliation.md).",
                Source(("marts.mart_reconciliation",), _reconciliation_queries), _reconciliation),
    SectionSpec("spend_change", "Why spend changed",
                "The change in billed cost from the period before, split into volume, mix, price and scope effects "
                "that add up to it (marts.mart_spend_change).",
                Source(("marts.mart_spend_change",), _change_queries), _spend_change),
    SectionSpec("customers", "Customers",
                "Spend and cost per interaction by customer and segment in the latest month "
                "(marts.mart_customer_spend).",
                Source(("marts.mart_customer_spend",), _customer_queries), _customers),
)
_BY_KEY = {spec.key: spec for spec in SECTIONS}


def _new(key: str) -> Section:
    spec = _BY_KEY[key]
    return Section(key=spec.key, title=spec.title, intro=spec.intro)
