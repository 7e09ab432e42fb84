"""`python -m dagster_project.cli run`: materialise every asset and print what the warehouse says.

The same runs can be started from the Dagster UI (`make dev`) or the `dagster asset materialize` CLI;
this command orders them for a first run: the demo organisation (when no keys are set), the provider
ingest assets over a date range in one run per provider partition range, then the file sources, dbt
and the checks. Runs are recorded in $DAGSTER_HOME, so `make dev` shows them afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from decimal import Decimal

import dagster as dg

from dagster_project import settings
from dagster_project.lib.warehouse import connect


def load_definitions() -> dg.Definitions:
    from dagster_project.definitions import defs

    return defs() if callable(defs) else defs


def _instance() -> dg.DagsterInstance:
    if os.environ.get("DAGSTER_HOME"):
        os.makedirs(os.environ["DAGSTER_HOME"], exist_ok=True)
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def default_window(defs: dg.Definitions) -> tuple[dt.date, dt.date]:
    """The demo period when any provider runs on the demo, else the last 30 complete UTC days."""
    apis = [defs.resources[k] for k in ("openai", "anthropic")]
    if any(not api.is_live() for api in apis):
        from dagster_project.defs.demo.generator import DEMO_END, DEMO_START

        return DEMO_START, DEMO_END
    today = dt.datetime.now(dt.UTC).date()
    return today - dt.timedelta(days=30), today


def materialize_all(start: dt.date | None = None, end: dt.date | None = None, instance=None) -> list[dg.DagsterRunStatus]:
    """Run demo → provider ingest (partition range [start, end)) → everything else. Raises on failure."""
    settings.export_dbt_env()
    defs = load_definitions()
    instance = instance or _instance()
    graph = defs.resolve_asset_graph()
    job = defs.resolve_implicit_global_asset_job_def()
    if start is None or end is None:
        start, end = default_window(defs)

    keys = graph.get_all_asset_keys()
    partitioned = {k for k in keys if graph.get(k).is_partitioned}
    demo = {k for k in keys if graph.get(k).group_name == "demo"}
    rest = keys - partitioned - demo
    last = (end - dt.timedelta(days=1)).isoformat()
    steps = [
        ("demo organisation", demo, {}),
        (f"provider ingest {start}..{last}", partitioned, {
            "dagster/asset_partition_range_start": start.isoformat(),
            "dagster/asset_partition_range_end": last,
        }),
        ("files, dbt models and checks", rest, {}),
    ]
    statuses = []
    for label, selection, tags in steps:
        if not selection:
            continue
        print(f"==> {label}: {len(selection)} asset(s)", flush=True)
        result = job.execute_in_process(
            instance=instance,
            asset_selection=sorted(selection, key=str),
            tags=tags,
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
            raise_on_error=True,
        )
        statuses.append(result.dagster_run.status)
    return statuses


def summary(db_path=None) -> str:
    """A short text summary of the marts: total spend, top features, workflows, teams, untagged share."""
    lines = []
    with connect(db_path or settings.duckdb_path(), read_only=True) as con:
        total, first, last = con.execute(
            "select sum(cost_usd), min(usage_date), max(usage_date) from marts.fct_token_spend"
        ).fetchone()
        total = total or Decimal(0)
        lines.append(f"Total billed spend {first} .. {last}: ${total:,.2f}")
        by_provider = con.execute(
            "select provider, sum(cost_usd) from marts.fct_token_spend group by 1 order by 2 desc"
        ).fetchall()
        lines.append("  by provider: " + ", ".join(f"{p} ${c:,.2f}" for p, c in by_provider))
        for dim in ("feature", "workflow", "team"):
            rows = con.execute(
                f"""select {dim}, sum(cost_usd) as c from marts.fct_token_spend where {dim} is not null
                    group by 1 order by c desc limit 5"""
            ).fetchall()
            lines.append(f"Top {dim}s: " + ", ".join(f"{k} ${c:,.2f}" for k, c in rows))
        untagged = con.execute(
            "select coalesce(sum(cost_usd), 0) from marts.fct_token_spend where attribution_method = 'untagged'"
        ).fetchone()[0]
        share = untagged / total if total else 0
        lines.append(f"Untagged spend: ${untagged:,.2f} ({share:.1%} of billed spend); see marts.mart_untagged_spend")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tokenspend", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="materialise every asset, then print a summary")
    run.add_argument("--start", type=dt.date.fromisoformat, help="first UTC date to fetch from the providers")
    run.add_argument("--end", type=dt.date.fromisoformat, help="UTC date to stop before (exclusive)")
    sub.add_parser("summary", help="print the summary of an existing warehouse")
    args = parser.parse_args(argv)
    if args.command == "run":
        materialize_all(args.start, args.end)
    print()
    print(f"Warehouse: {settings.duckdb_path()} (schema marts)")
    print(summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
