"""Estimate versus bill: warn when a day's variance is beyond tolerance, and say why.

The check reads `marts.mart_reconciliation`, sums it per day and provider, and measures the variance
as |billed - estimate| / billed, where the estimate is the request-level one (events x price book).
A day x provider beyond `TOKENSPEND_RECONCILIATION_TOLERANCE_PCT` (default 10, LiteLLM's own
"more than 10% is suspicious" rule of thumb) fails the check; the description and metadata name the
worst days, their provider and their largest cause, so the owner knows whether to fix logging
(unlogged_traffic), the price book (unpriced_model, price_drift) or the event schema (classification).

Severity is WARN and the check never blocks: the fact ties to the bill whatever the variance, so a gap
between estimate and bill is a coverage finding, not corrupt data (the dbt tests that guard the money
are errors). Causes an organisation has decided to live with - Console traffic nobody will ever log,
say - can be excluded from the measured variance with `TOKENSPEND_RECONCILIATION_ACCEPTED_CAUSES`
(comma-separated cause names, default none); they stay in the metadata.
"""

from __future__ import annotations

from decimal import Decimal

import dagster as dg

from dagster_project.lib.deployment import open_warehouse
from dagster_project.settings import current_settings

# The cause columns of mart_reconciliation (without _usd), in the order ties are broken.
CAUSES = (
    "unlogged_traffic",
    "unpriced_model",
    "price_drift",
    "classification",
    "logged_not_in_usage",
    "not_billed",
    "unmatched_billed",
    "web_search",
    "non_token_billed",
    "unexplained",
)
TOP_N = 10
DEFAULT_TOLERANCE_PCT = 10.0


def tolerance_pct() -> float:
    """`TOKENSPEND_RECONCILIATION_TOLERANCE_PCT`: the largest |billed - estimate| / billed, in percent."""
    return current_settings().reconciliation_tolerance_pct


def accepted_causes() -> tuple[str, ...]:
    """`TOKENSPEND_RECONCILIATION_ACCEPTED_CAUSES`: causes left out of the measured variance."""
    names = current_settings().reconciliation_accepted_causes
    unknown = sorted(set(names) - set(CAUSES))
    if unknown:
        raise ValueError(f"TOKENSPEND_RECONCILIATION_ACCEPTED_CAUSES names unknown causes {unknown}; "
                         f"known: {', '.join(CAUSES)}")
    return names


def largest_cause(causes: dict[str, Decimal], among: tuple[str, ...] = CAUSES) -> tuple[str | None, Decimal]:
    """The cause with the largest absolute amount (first in CAUSES on a tie); (None, 0) when all are 0."""
    name, amount = None, Decimal(0)
    for cause in among:
        if abs(causes[cause]) > abs(amount):
            name, amount = cause, causes[cause]
    return name, amount


def measure_reconciliation(con, tolerance: float, accepted: tuple[str, ...] = ()) -> dict:
    """Per day x provider: billed, estimate, variance, each cause, the measured variance and the verdict.

    The measured variance is billed - estimate minus the accepted causes; its share of billed is
    compared with `tolerance` (percent). A day x provider with no bill yet cannot be judged and is
    counted apart (`unbilled`).
    """
    sums = ", ".join(f"sum({c}_usd)" for c in CAUSES)
    rows = con.execute(f"""
        select usage_date, provider, sum(billed_cost_usd), sum(coalesce(estimated_cost_usd, 0)),
               sum(variance_usd), {sums}
        from marts.mart_reconciliation
        group by usage_date, provider
        order by usage_date, provider
    """).fetchall()
    counted = tuple(c for c in CAUSES if c not in accepted)
    days, unbilled = [], []
    for usage_date, provider, billed, estimate, variance, *amounts in rows:
        causes = dict(zip(CAUSES, amounts, strict=True))
        measured = variance - sum((causes[c] for c in accepted), Decimal(0))
        cause, cause_usd = largest_cause(causes, counted)
        day = {
            "usage_date": usage_date, "provider": provider, "billed": billed, "estimate": estimate,
            "variance": variance, "measured": measured, "causes": causes,
            "largest_cause": cause, "largest_cause_usd": cause_usd,
        }
        if billed == 0:
            unbilled.append(day)
            continue
        day["variance_pct"] = float(abs(measured) / billed * 100)
        day["passed"] = day["variance_pct"] <= tolerance
        days.append(day)
    failing = sorted((d for d in days if not d["passed"]), key=lambda d: (-d["variance_pct"], d["usage_date"]))
    providers = {}
    for d in days + unbilled:
        p = providers.setdefault(d["provider"], {"billed": Decimal(0), "estimate": Decimal(0),
                                                 "causes": dict.fromkeys(CAUSES, Decimal(0))})
        p["billed"] += d["billed"]
        p["estimate"] += d["estimate"]
        for c in CAUSES:
            p["causes"][c] += d["causes"][c]
    unpriced = con.execute("""
        select provider, model_key, sum(unpriced_tokens), sum(billed_cost_usd), min(usage_date), max(usage_date)
        from marts.mart_reconciliation
        where is_unpriced
        group by provider, model_key
        order by sum(billed_cost_usd) desc, provider, model_key
    """).fetchall()
    return {"days": days, "failing": failing, "unbilled": unbilled, "providers": providers,
            "unpriced": unpriced, "tolerance": tolerance, "accepted": accepted}


def _usd(value: Decimal) -> str:
    return f"{value:,.2f}"


def describe(m: dict) -> str:
    """One line: how many day x provider fail, and the worst one with its largest cause."""
    checked = len(m["days"])
    if not m["failing"]:
        return f"all {checked} day x provider within {m['tolerance']:g}% of the bill"
    worst = m["failing"][0]
    return (
        f"{len(m['failing'])} of {checked} day x provider beyond {m['tolerance']:g}%; worst "
        f"{worst['usage_date']} {worst['provider']}: estimate {_usd(worst['estimate'])} vs billed "
        f"{_usd(worst['billed'])} ({worst['variance_pct']:.1f}%), largest cause {worst['largest_cause']} "
        f"{_usd(worst['largest_cause_usd'])}"
    )


def metadata(m: dict) -> dict:
    worst = ["| day | provider | billed USD | estimate USD | variance % | largest cause | cause USD |",
             "|---|---|---|---|---|---|---|"]
    worst += [
        f"| {d['usage_date']} | {d['provider']} | {_usd(d['billed'])} | {_usd(d['estimate'])} | "
        f"{d['variance_pct']:.1f} | {d['largest_cause']} | {_usd(d['largest_cause_usd'])} |"
        for d in m["failing"][:TOP_N]
    ]
    by_provider = ["| provider | billed USD | estimate USD | " + " | ".join(CAUSES) + " | largest cause |",
                   "|---|---|---|" + "---|" * len(CAUSES) + "---|"]
    for provider, p in sorted(m["providers"].items()):
        cause, _ = largest_cause(p["causes"])
        by_provider.append(f"| {provider} | {_usd(p['billed'])} | {_usd(p['estimate'])} | "
                           + " | ".join(_usd(p["causes"][c]) for c in CAUSES) + f" | {cause} |")
    unpriced = ["| provider | model | tokens | billed USD | first day | last day |", "|---|---|---|---|---|---|"]
    unpriced += [f"| {p} | {model} | {tokens:,} | {_usd(billed)} | {first} | {last} |"
                 for p, model, tokens, billed, first, last in m["unpriced"]]
    worst_day = m["failing"][0] if m["failing"] else None
    return {
        "tolerance_pct": dg.MetadataValue.float(m["tolerance"]),
        "accepted_causes": dg.MetadataValue.text(", ".join(m["accepted"]) or "(none)"),
        "checked_days": dg.MetadataValue.int(len(m["days"])),
        "failing_days": dg.MetadataValue.int(len(m["failing"])),
        "unbilled_days": dg.MetadataValue.int(len(m["unbilled"])),
        "worst_day": dg.MetadataValue.text(str(worst_day["usage_date"]) if worst_day else "(none)"),
        "worst_provider": dg.MetadataValue.text(worst_day["provider"] if worst_day else "(none)"),
        "worst_largest_cause": dg.MetadataValue.text(
            (worst_day["largest_cause"] or "(none)") if worst_day else "(none)"),
        "worst_days": dg.MetadataValue.md("\n".join(worst)),
        "by_provider": dg.MetadataValue.md("\n".join(by_provider)),
        "unpriced_models": dg.MetadataValue.md("\n".join(unpriced)),
    }


@dg.asset_check(asset=dg.AssetKey(["marts", "mart_reconciliation"]), name="reconciliation_variance_within_tolerance",
                blocking=False)
def reconciliation_variance_within_tolerance() -> dg.AssetCheckResult:
    """Warns when a day x provider's estimate is further from the bill than the tolerance; names the cause."""
    tolerance, accepted = tolerance_pct(), accepted_causes()
    with open_warehouse(read_only=True) as con:
        m = measure_reconciliation(con, tolerance, accepted)
    return dg.AssetCheckResult(
        passed=not m["failing"],
        severity=dg.AssetCheckSeverity.WARN,
        description=describe(m),
        metadata=metadata(m),
    )
