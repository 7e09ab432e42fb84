"""One provider call must count once: warn on requests that two sources probably logged under different ids.

Sources that carry the provider's response id are merged on it in staging. When one side lacks it (a
span without `gen_ai.response.id`, a gateway that logged only its own id), the same call can arrive as
two requests. `intermediate.int_request_likely_duplicates` pairs requests of different sources with the
same provider, model, key, millisecond and token counts; this check warns while any pair exists and
lists the pairs in its metadata, with what they carry in tokens, so the producer can log the response
id. Pairs are not merged automatically: two real calls can match on every one of those fields.
"""

from __future__ import annotations

import dagster as dg

from dagster_project.lib.deployment import open_warehouse

TOP_N = 20


def likely_duplicates(con) -> dict:
    """The number of likely-duplicate pairs, their tokens, and the first pairs by time."""
    count, tokens = con.execute(
        "select count(*), coalesce(sum(total_tokens), 0) from intermediate.int_request_likely_duplicates"
    ).fetchone()
    pairs = con.execute(
        f"""
        select occurred_at, provider, model, request_id, source_system, other_request_id, other_source_system,
               total_tokens
        from intermediate.int_request_likely_duplicates
        order by occurred_at, request_id, other_request_id
        limit {TOP_N}
        """
    ).fetchall()
    return {"pairs": count, "tokens": int(tokens), "first_pairs": pairs}


@dg.asset_check(
    asset=dg.AssetKey(["intermediate", "int_request_likely_duplicates"]),
    name="likely_duplicate_requests",
    blocking=False,
)
def likely_duplicate_requests() -> dg.AssetCheckResult:
    """Warns while requests of different sources probably record the same provider call; lists the pairs."""
    with open_warehouse(read_only=True) as con:
        m = likely_duplicates(con)
    table = "\n".join(
        ["| at | provider | model | request | source | other request | other source | tokens |",
         "|---|---|---|---|---|---|---|---|"]
        + [f"| {at} | {p} | {model} | {a} | {sa} | {b} | {sb} | {t:,} |"
           for at, p, model, a, sa, b, sb, t in m["first_pairs"]]
    )
    return dg.AssetCheckResult(
        passed=m["pairs"] == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=(f"{m['pairs']} pair(s) of requests from different sources look like one call counted twice "
                     f"({m['tokens']:,} tokens on the first of each pair); log the provider's response id on both"
                     if m["pairs"] else "no request looks like a call counted twice"),
        metadata={
            "likely_duplicate_pairs": dg.MetadataValue.int(m["pairs"]),
            "likely_duplicate_tokens": dg.MetadataValue.int(m["tokens"]),
            "first_pairs": dg.MetadataValue.md(table),
        },
    )
