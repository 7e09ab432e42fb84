"""Untagged spend is an attribution problem: measure it, name who causes it, warn (never block).

The check reads `marts.fct_token_spend` and reports the share of billed cost whose attribution method
is `untagged`, with the keys and projects that cause most of it in the metadata, so their owners can
fix their tagging. It warns above `TOKENSPEND_UNTAGGED_SHARE_WARN` (default 0.05).
"""

from __future__ import annotations

import dagster as dg

from dagster_project.lib.deployment import open_warehouse
from dagster_project.settings import current_settings

TOP_N = 10


def untagged_share_threshold() -> float:
    """`TOKENSPEND_UNTAGGED_SHARE_WARN`: the untagged share above which the check warns."""
    return current_settings().untagged_share_warn


def measure_untagged(con) -> dict:
    """Total and untagged billed cost, and the top offending (provider, project, key) triples."""
    total, untagged = con.execute(
        """
        select coalesce(sum(cost_usd), 0), coalesce(sum(case when attribution_method = 'untagged' then cost_usd end), 0)
        from marts.fct_token_spend
        """
    ).fetchone()
    offenders = con.execute(
        f"""
        select provider, coalesce(project_id, '(none)') as project_id, coalesce(api_key_id, '(none)') as api_key_id,
               sum(cost_usd) as untagged_cost_usd
        from marts.fct_token_spend
        where attribution_method = 'untagged'
        group by all
        order by untagged_cost_usd desc, provider, project_id, api_key_id
        limit {TOP_N}
        """
    ).fetchall()
    share = float(untagged / total) if total else 0.0
    return {"total": total, "untagged": untagged, "share": share, "offenders": offenders}


@dg.asset_check(asset=dg.AssetKey(["marts", "fct_token_spend"]), name="untagged_spend_share", blocking=False)
def untagged_spend_share() -> dg.AssetCheckResult:
    """Warns when the untagged share of billed spend is above the threshold; lists the top offenders."""
    with open_warehouse(read_only=True) as con:
        m = measure_untagged(con)
    threshold = untagged_share_threshold()
    table = "\n".join(
        ["| provider | project | api key | untagged USD |", "|---|---|---|---|"]
        + [f"| {p} | {proj} | {key} | {cost:,.2f} |" for p, proj, key, cost in m["offenders"]]
    )
    return dg.AssetCheckResult(
        passed=m["share"] <= threshold,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"untagged share {m['share']:.1%} of billed spend (warn above {threshold:.0%})",
        metadata={
            "untagged_share": dg.MetadataValue.float(round(m["share"], 6)),
            "untagged_cost_usd": dg.MetadataValue.float(float(m["untagged"])),
            "total_cost_usd": dg.MetadataValue.float(float(m["total"])),
            "threshold": dg.MetadataValue.float(threshold),
            "top_offenders": dg.MetadataValue.md(table),
        },
    )
