"""The figures tokenspend and the floor must agree on, read the same way from each, compared exactly.

Both sides are relations at the fact grain with `request_count`, `estimated_cost_usd` (DECIMAL),
`is_unpriced`, `attribution_method`, `team` and `customer_id`: tokenspend's is `marts.fct_token_spend`'s request
rows, the floor's its `fact` table. Money stays DECIMAL from DuckDB to the comparison.
"""

from __future__ import annotations

from decimal import Decimal

import duckdb

TOKENSPEND_FACT = "(select * from marts.fct_token_spend where record_type = 'request')"
FLOOR_FACT = "fact"
NO_TEAM = "(no team)"


class TotalsDiffer(AssertionError):
    """tokenspend's figures and the floor's are not the same."""


def totals(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, int | Decimal]:
    """Requests, priced estimated cost, unpriced requests, untagged requests and cost, the requests and
    priced cost that served a customer and the customers served, and requests and priced cost per
    attribution method, per team, and per team of the requests its API key owner attributed, from
    `relation`."""
    out: dict[str, int | Decimal] = {}
    row = con.execute(f"""
        select
            coalesce(sum(request_count), 0),
            coalesce(sum(estimated_cost_usd) filter (where not is_unpriced), 0),
            coalesce(sum(request_count) filter (where is_unpriced), 0),
            coalesce(sum(request_count) filter (where attribution_method = 'untagged'), 0),
            coalesce(sum(estimated_cost_usd) filter (where attribution_method = 'untagged' and not is_unpriced), 0),
            coalesce(sum(request_count) filter (where customer_id is not null), 0),
            coalesce(sum(estimated_cost_usd) filter (where customer_id is not null and not is_unpriced), 0),
            count(distinct customer_id)
        from {relation}
    """).fetchone()
    names = ["requests", "priced estimated cost", "unpriced requests", "untagged requests", "untagged priced cost",
             "customer requests", "customer priced cost", "customers"]
    out.update(zip(names, row, strict=True))
    team = "coalesce(team, '" + NO_TEAM + "')"
    for column, label, where in (("attribution_method", "method", "true"), (team, "team", "true"),
                                 (team, "key owner team", "attribution_method = 'api_key_owner'")):
        for key, requests, cost in con.execute(f"""
            select {column} as k, sum(request_count),
                   coalesce(sum(estimated_cost_usd) filter (where not is_unpriced), 0)
            from {relation} where {where} group by k order by k
        """).fetchall():
            out[f"{label} {key}: requests"] = requests
            out[f"{label} {key}: priced cost"] = cost
    return {k: (int(v) if isinstance(v, int) else Decimal(v)) for k, v in out.items()}


def breakdown(figures: dict, label: str, measure: str) -> dict:
    """`{key: value}` of one per-key figure, e.g. breakdown(figures, "team", "priced cost")."""
    head, tail = f"{label} ", f": {measure}"
    return {k[len(head):-len(tail)]: v for k, v in figures.items() if k.startswith(head) and k.endswith(tail)}


def untagged_share(figures: dict) -> Decimal:
    """Untagged share of the priced estimated cost."""
    total = figures["priced estimated cost"]
    return figures["untagged priced cost"] / total if total else Decimal(0)


def compare(ours: dict, floor: dict, names: tuple[str, str] = ("tokenspend", "floor")) -> None:
    """Raise `TotalsDiffer` naming every figure that is not exactly the same on both sides."""
    a, b = names
    diffs = [f"  {k}: {a} {ours.get(k)!s}, {b} {floor.get(k)!s}"
             for k in sorted(set(ours) | set(floor)) if ours.get(k) != floor.get(k)]
    if diffs:
        raise TotalsDiffer(f"{a}'s totals differ from the {b}'s:\n" + "\n".join(diffs))
