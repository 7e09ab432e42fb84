"""Rejected rows and quarantined files are data, and this check reports them, on each file-fed raw table.

A file's bad rows go to `raw.rejected_rows` with file, line and reason while its good rows load; a file
that cannot be read as a whole is quarantined: its `raw.landed_files` row holds the reason (see
`dagster_project.lib.file_ingest`). The check fails (never blocks) while any row of the table's sources
is rejected or any of their files is quarantined, with the counts per source, the share of rows
rejected, the most frequent reasons (the reason up to its first colon, so `unknown provider: mistral`
and `unknown provider: azure` count together) and every quarantined file with its reason in the
metadata, so the producer of the files can be told what to fix. Its severity is warn; while a file is
quarantined it is TOKENSPEND_QUARANTINE_SEVERITY (`warn`, the default, or `error`).
"""

from __future__ import annotations

import dagster as dg

from dagster_project.defs.events.litellm import LITELLM_FILES
from dagster_project.defs.events.otel import OTEL_FILES
from dagster_project.defs.events.sources import EVENT_FILES, OUTCOME_FILES
from dagster_project.lib.deployment import open_warehouse
from dagster_project.settings import current_settings

TOP_REASONS = 10
# Quarantined files listed in the check's metadata (the count covers them all).
LISTED_QUARANTINED = 50


def quarantined_files(con, sources: tuple[str, ...]) -> list[tuple[str, str, str, object]]:
    """(source, path, reason, quarantined at) of every quarantined file of `sources`, by path.

    Empty on a warehouse whose `raw.landed_files` predates quarantining (the column is added by the
    next load, not by this read-only check)."""
    has_column = con.execute(
        "select count(*) from information_schema.columns where table_catalog = current_database() "
        "and table_schema = 'raw' and table_name = 'landed_files' and column_name = 'quarantine_reason'"
    ).fetchone()[0]
    if not has_column:
        return []
    placeholders = ", ".join("?" for _ in sources)
    return con.execute(
        f"""select source, path, quarantine_reason, _loaded_at from raw.landed_files
            where source in ({placeholders}) and quarantine_reason is not null order by path, source""",
        list(sources),
    ).fetchall()


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
        "quarantined": quarantined_files(con, sources),
    }


def _md_cell(text: str) -> str:
    """Text for a Markdown table cell: pipes escaped, on one line."""
    return " ".join(str(text).replace("|", "\\|").split())


def _reject_check(table: str, sources: tuple[str, ...]) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(["raw", table]),
        name="rejected_rows",
        blocking=False,
        description=(f"Fails while rows of {', '.join(sources)} are rejected (warn) or a file is quarantined "
                     "(TOKENSPEND_QUARANTINE_SEVERITY, default warn); counts per source, top reasons, "
                     "quarantined files."),
    )
    def _check() -> dg.AssetCheckResult:
        with open_warehouse(read_only=True) as con:
            m = measure_rejects(con, sources)
        reasons = "\n".join(
            ["| source | reason | rows | first at (file:line) |", "|---|---|---|---|"]
            + [f"| {s} | {r} | {n} | {ex} |" for s, r, n, ex in m["reasons"]]
        )
        quarantined = m["quarantined"]
        files = "\n".join(
            ["| file | reason | quarantined at |", "|---|---|---|"]
            + [f"| {_md_cell(path)} | {_md_cell(reason)} | {at:%Y-%m-%d %H:%M} UTC |"
               for _, path, reason, at in quarantined[:LISTED_QUARANTINED]]
            + ([f"| ... and {len(quarantined) - LISTED_QUARANTINED} more | | |"]
               if len(quarantined) > LISTED_QUARANTINED else [])
        )
        error = bool(quarantined) and current_settings().quarantine_severity == "error"
        return dg.AssetCheckResult(
            passed=m["rejected"] == 0 and not quarantined,
            severity=dg.AssetCheckSeverity.ERROR if error else dg.AssetCheckSeverity.WARN,
            description=(f"{m['rejected']} row(s) rejected of {m['loaded'] + m['rejected']} ({m['share']:.2%}); "
                         f"{len(quarantined)} file(s) quarantined"),
            metadata={
                "rows_rejected": dg.MetadataValue.int(m["rejected"]),
                "rows_loaded": dg.MetadataValue.int(m["loaded"]),
                "rejected_share": dg.MetadataValue.float(round(m["share"], 6)),
                **{f"rows_rejected_{s}": dg.MetadataValue.int(m["per_source"].get(s, (0, 0))[1]) for s in sources},
                "top_reasons": dg.MetadataValue.md(reasons),
                "files_quarantined": dg.MetadataValue.int(len(quarantined)),
                "quarantined_files": dg.MetadataValue.md(files),
            },
        )

    return _check


request_events_rejects = _reject_check(EVENT_FILES.table, (EVENT_FILES.name,))
litellm_spend_logs_rejects = _reject_check(LITELLM_FILES.table, (LITELLM_FILES.name,))
otel_spans_rejects = _reject_check(OTEL_FILES.table, (OTEL_FILES.name,))
outcome_events_rejects = _reject_check(OUTCOME_FILES.table, (OUTCOME_FILES.name,))
