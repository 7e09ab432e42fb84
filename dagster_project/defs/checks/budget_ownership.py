"""Every production feature and workflow that spends should have a budget and an owner: warn on those that do not.

Once an organisation runs AI in more than two production workflows (workflows whose seed row says
`is_production = true` with billed spend that month), spend without a budget or without anyone who
answers for it stops being an experiment. The check looks at the month in progress (the month of the
latest day in the data, as budgets are measured: `mart_budget_status`), and names every production
feature (`seeds/features.csv`) and workflow (`seeds/workflows.csv`) with spend that month that has

- **no budget**: no row of `seeds/budgets.csv` in force on the month's first day (none in
  `mart_budget_status` for the scope and month), or
- **no owner**: neither its budget's `owner` nor its seed row's `owner_team`,

with its spend in the metadata. It reads the marts BI reads (`mart_feature_spend`,
`mart_workflow_spend`, `mart_budget_status`), so the figures are the ones BI shows. Severity WARN,
never blocking: a missing budget is a governance gap to close, not bad data.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import dagster as dg

from dagster_project.lib.deployment import open_warehouse

# The check applies once more than this many production workflows have spend in the month.
PRODUCTION_WORKFLOWS_BEFORE_CHECK = 2

_SCOPES_SQL = """
with

month as (

    select max(period_start) as period_start from marts.mart_feature_spend

),

production_spend as (

    select 'feature' as scope_type, feature as scope, owner_team, period_start, cost_usd
    from marts.mart_feature_spend
    where is_production and cost_usd > 0
    union all
    select 'workflow' as scope_type, workflow as scope, owner_team, period_start, cost_usd
    from marts.mart_workflow_spend
    where is_production and cost_usd > 0

)

select
    production_spend.scope_type,
    production_spend.scope,
    production_spend.cost_usd,
    budgets.monthly_budget_usd is not null as has_budget,
    coalesce(nullif(trim(budgets.owner), ''), nullif(trim(production_spend.owner_team), '')) as owner
from production_spend
inner join month
    on production_spend.period_start = month.period_start
left join marts.mart_budget_status as budgets
    on budgets.scope_type = production_spend.scope_type
    and budgets.scope = production_spend.scope
    and budgets.period_start = production_spend.period_start
order by production_spend.cost_usd desc, production_spend.scope_type, production_spend.scope
"""


def budget_ownership(con) -> dict:
    """The month in progress, its production scopes with spend, and those with no budget or no owner.

    Returns `month` (its first day, None without spend), `production_workflows` (production workflows
    with spend that month), `applies` (more than PRODUCTION_WORKFLOWS_BEFORE_CHECK of them) and
    `gaps`: one dict per production feature or workflow with spend and no budget or no owner
    (scope_type, scope, cost_usd, has_budget, owner, missing), largest spend first.
    """
    month = con.execute("select max(period_start) from marts.mart_feature_spend").fetchone()[0]
    scopes = con.execute(_SCOPES_SQL).fetchall()
    workflows = sum(1 for scope_type, *_ in scopes if scope_type == "workflow")
    gaps = []
    for scope_type, scope, cost, has_budget, owner in scopes:
        missing = [label for label, absent in (("no budget", not has_budget), ("no owner", owner is None)) if absent]
        if missing:
            gaps.append({"scope_type": scope_type, "scope": scope, "cost_usd": Decimal(cost), "has_budget": has_budget,
                         "owner": owner, "missing": missing})
    return {"month": month, "production_workflows": workflows,
            "applies": workflows > PRODUCTION_WORKFLOWS_BEFORE_CHECK, "gaps": gaps}


def _month_label(month: dt.date | None) -> str:
    return month.strftime("%Y-%m") if month else "(no spend)"


@dg.asset_check(
    asset=dg.AssetKey(["marts", "mart_budget_status"]),
    additional_deps=[dg.AssetKey(["marts", "mart_feature_spend"]), dg.AssetKey(["marts", "mart_workflow_spend"])],
    name="production_spend_has_budget_and_owner",
    blocking=False,
)
def production_spend_has_budget_and_owner() -> dg.AssetCheckResult:
    """Warns, once more than two production workflows have spend, on every production feature or workflow
    with spend this month and no budget in force or no owner; lists them with their spend."""
    with open_warehouse(read_only=True) as con:
        m = budget_ownership(con)
    month = _month_label(m["month"])
    gaps = m["gaps"] if m["applies"] else []
    table = "\n".join(
        ["| scope type | scope | spend USD | budget | owner | missing |", "|---|---|---|---|---|---|"]
        + [f"| {g['scope_type']} | {g['scope']} | {g['cost_usd']:,.2f} | {'yes' if g['has_budget'] else 'none'} | "
           f"{g['owner'] or '(none)'} | {', '.join(g['missing'])} |" for g in gaps]
    )
    if not m["applies"]:
        description = (f"{m['production_workflows']} production workflow(s) with spend in {month}: budgets and "
                       f"owners are required from {PRODUCTION_WORKFLOWS_BEFORE_CHECK + 1}")
    elif gaps:
        named = "; ".join(f"{g['scope_type']} {g['scope']} ${g['cost_usd']:,.2f} ({', '.join(g['missing'])})"
                          for g in gaps)
        description = f"{len(gaps)} production scope(s) with spend in {month} lack a budget or an owner: {named}"
    else:
        description = f"every production feature and workflow with spend in {month} has a budget and an owner"
    return dg.AssetCheckResult(
        passed=not gaps,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={
            "month": dg.MetadataValue.text(month),
            "production_workflows_with_spend": dg.MetadataValue.int(m["production_workflows"]),
            "applies_above_production_workflows": dg.MetadataValue.int(PRODUCTION_WORKFLOWS_BEFORE_CHECK),
            "scopes_without_budget_or_owner": dg.MetadataValue.int(len(gaps)),
            "unbudgeted_or_unowned_spend_usd": dg.MetadataValue.float(float(sum((g["cost_usd"] for g in gaps),
                                                                                Decimal(0)))),
            "scopes": dg.MetadataValue.md(table),
            "scope_list": dg.MetadataValue.json([
                {"scope_type": g["scope_type"], "scope": g["scope"], "cost_usd": str(g["cost_usd"]),
                 "has_budget": g["has_budget"], "owner": g["owner"], "missing": g["missing"]} for g in gaps
            ]),
        },
    )
