"""Rejected rows are data, and this check reports them: per source and per reason, on each file-fed raw table.

A file's bad rows go to `raw.rejected_rows` with file, line and reason while its good rows load (see
`dagster_project.lib.file_ingest`). The check warns (never blocks) while any row of the table's sources
is rejected, with the counts per source, the share of rows rejected and the most frequent reasons
(the reason up to its first colon, so `unknown provider: mistral` and `unknown provider: azure` count
together) in the metadata, so the producer of the files can be told what to fix.
"""

from __future__ import annotations

import dagster as dg

from dagster_project.defs.events.litellm import LITELLM_FILES
from dagster_project.defs.events.otel import OTEL_FILES
from dagster_project.defs.events.sources import EVENT_FILES, OUTCOME_FILES
from dagster_project.lib.deployment import open_warehouse

TOP_REASONS = 10


def measure_rejects(con, sources: tuple[str, ...]) -> dict:
    """Rows loaded and rejected per source, and the top reasons, over every landed file of `sources`."""
    placeholders = ", ".join("?" for _ in sources)
    per_source = {
        name: (loaded, rejected)
        for name, loaded, rejected in con.execute(
            f"""select source, sum(rows_loaded), sum(rows_rejected) from raw.landed_files
                where source in ({placeholders}) group by source order by source""",
            list(sources),
        ).fetchall()
    }
    reasons = con.execute(
        f"""select source, split_part(reason, ':', 1) as reason, count(*) as n,
                   min(_source_file || ':' || coalesce(cast(_source_line as varchar), '?')) as example
            from raw.rejected_rows where source in ({placeholders})
            group by all order by n desc, source, reason limit {TOP_REASONS}""",
        list(sources),
    ).fetchall()
    loaded = sum(v[0] for v in per_source.values())
    rejected = sum(v[1] for v in per_source.values())
    return {
        "per_source": per_source,
        "reasons": reasons,
        "loaded": loaded,
        "rejected": rejected,
        "share": rejected / (loaded + rejected) if loaded + rejected else 0.0,
    }


def _reject_check(table: str, sources: tuple[str, ...]) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(["raw", table]),
        name="rejected_rows",
        blocking=False,
        description=f"Warns while rows of {', '.join(sources)} are rejected; counts per source and top reasons.",
    )
    def _check() -> dg.AssetCheckResult:
        with open_warehouse(read_only=True) as con:
            m = measure_rejects(con, sources)
        reasons = "\n".join(
            ["| source | reason | rows | first at (file:line) |", "|---|---|---|---|"]
            + [f"| {s} | {r} | {n} | {ex} |" for s, r, n, ex in m["reasons"]]
        )
        return dg.AssetCheckResult(
            passed=m["rejected"] == 0,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"{m['rejected']} row(s) rejected of {m['loaded'] + m['rejected']} ({m['share']:.2%})",
            metadata={
                "rows_rejected": dg.MetadataValue.int(m["rejected"]),
                "rows_loaded": dg.MetadataValue.int(m["loaded"]),
                "rejected_share": dg.MetadataValue.float(round(m["share"], 6)),
                **{f"rows_rejected_{s}": dg.MetadataValue.int(m["per_source"].get(s, (0, 0))[1]) for s in sources},
                "top_reasons": dg.MetadataValue.md(reasons),
            },
        )

    return _check


request_events_rejects = _reject_check(EVENT_FILES.table, (EVENT_FILES.name,))
litellm_spend_logs_rejects = _reject_check(LITELLM_FILES.table, (LITELLM_FILES.name,))
otel_spans_rejects = _reject_check(OTEL_FILES.table, (OTEL_FILES.name,))
outcome_events_rejects = _reject_check(OUTCOME_FILES.table, (OUTCOME_FILES.name,))
