"""Untagged spend is an attribution problem: measure it, name who causes it, warn (never block).

The check reports the share of billed cost whose attribution method is `untagged` over every day and
provider, as `marts.mart_untagged_share` carries it (its overall_ columns, what BI reads), with the
keys and projects that cause most of it (`marts.mart_untagged_offenders`) in the metadata, so their
owners can fix their tagging. It warns above `TOKENSPEND_UNTAGGED_SHARE_WARN` (default 0.05).
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
    """Total and untagged billed cost, their share, and the top offending (provider, project, key) triples."""
    overall = con.execute(
        """
        select overall_total_cost_usd, overall_untagged_cost_usd, overall_untagged_share
        from marts.mart_untagged_share
        limit 1
        """
    ).fetchone()
    total, untagged, share = overall or (0, 0, None)  # no spend yet: no rows
    offenders = con.execute(
        f"""
        select provider, coalesce(project_id, '(none)') as project_id, coalesce(api_key_id, '(none)') as api_key_id,
               untagged_cost_usd
        from marts.mart_untagged_offenders
        order by untagged_cost_usd desc, provider, project_id, api_key_id
        limit {TOP_N}
        """
    ).fetchall()
    return {"total": total, "untagged": untagged, "share": float(share or 0), "offenders": offenders}


@dg.asset_check(
    asset=dg.AssetKey(["marts", "mart_untagged_share"]),
    additional_deps=[dg.AssetKey(["marts", "mart_untagged_offenders"])],
    name="untagged_spend_share",
    blocking=False,
)
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
