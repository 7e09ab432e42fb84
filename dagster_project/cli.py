"""`python -m dagster_project.cli run [--demo]`: materialise every asset and print what the warehouse says.

The same runs can be started from the Dagster UI (`make dev`) or the `dagster asset materialize` CLI;
this command orders them for a first run: in demo mode the demo organisation, then the provider ingest
assets over a date range in one run per provider partition range (in live mode, the enabled providers
only), then the file sources, dbt, the checks and, when the error-severity checks passed, the published
copy BI tools open. Runs are recorded in $DAGSTER_HOME, so the UI shows them afterwards. The summary
reads the published copy, so it shows what BI tools see.

The mode is live unless `--demo` or TOKENSPEND_MODE=demo says demo (`make run` runs the demo). Before
anything runs, the command checks that the warehouse file and landing folder belong to the mode and, in
live mode, that every enabled provider's admin key is set; a failed check names the file or the variable.

`run --start/--end` choose the provider ingest range, UTC dates with `--end` exclusive. Daily
partitions exist for complete UTC days only, so the latest `--end` is today (the last day fetched is
yesterday; today's partial day arrives with the next daily run). `--start` alone runs to today;
`--end` alone covers the 30 days before it; neither: the demo period in demo mode, else the last 30
complete days. A range that is empty or outside the partitions is refused before anything runs.

`prepare` parses the dbt project into the manifest the code location loads (`run` does it itself).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from decimal import Decimal
from pathlib import Path

import dagster as dg

from dagster_project.lib.deployment import WrongDeployment, verify_deployment
from dagster_project.lib.warehouse import connect
from dagster_project.settings import SettingsError, current_settings


def load_definitions() -> dg.Definitions:
    from dagster_project.definitions import defs

    return defs() if callable(defs) else defs


def _instance() -> dg.DagsterInstance:
    if os.environ.get("DAGSTER_HOME"):
        os.makedirs(os.environ["DAGSTER_HOME"], exist_ok=True)
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


DEFAULT_DAYS = 30


class DateRangeError(ValueError):
    """`--start`/`--end` do not make a range of daily partitions; the message names the dates."""


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def first_partition_day() -> dt.date:
    """The first daily partition of the provider ingest assets (`TOKENSPEND_START_DATE`)."""
    return current_settings().start_date


def resolve_range(
    start: dt.date | None, end: dt.date | None, today: dt.date, first_day: dt.date, days: int = DEFAULT_DAYS
) -> tuple[dt.date, dt.date]:
    """The provider ingest range [start, end) from `--start`/`--end`, either of which may be missing.

    Partitions are whole UTC days from `first_day` to yesterday, so `end` (exclusive) is at most `today`.
    A missing `end` is `today`; a missing `start` is `days` before `end`, but not before `first_day`.
    Raises DateRangeError when the range is empty or reaches outside the partitions.
    """
    given_start, given_end = start, end
    end = end if end is not None else today
    start = start if start is not None else max(end - dt.timedelta(days=days), first_day)
    last_complete = today - dt.timedelta(days=1)
    if start >= end:
        if given_start is not None and given_end is not None:
            raise DateRangeError(
                f"--start {start} is not before --end {end}: the range is empty (--end is exclusive; "
                f"for the single day {start} use --start {start} --end {start + dt.timedelta(days=1)})"
            )
        if given_start is not None:
            raise DateRangeError(
                f"--start {start} is not before today ({today} UTC), where a run without --end stops: "
                f"the last complete UTC day is {last_complete}"
            )
        if given_end is not None:
            raise DateRangeError(
                f"--end {end} is not after the first daily partition {first_day} (TOKENSPEND_START_DATE)"
            )
        raise DateRangeError(
            f"no complete UTC day yet: the first daily partition {first_day} (TOKENSPEND_START_DATE) "
            f"is not before today ({today} UTC)"
        )
    if end > today:
        raise DateRangeError(
            f"--end {end} is after today ({today} UTC): the last complete UTC day is {last_complete}, "
            f"so the latest --end is {today}"
        )
    if start < first_day:
        raise DateRangeError(
            f"--start {start} is before the first daily partition {first_day}; set TOKENSPEND_START_DATE "
            "earlier to fetch it"
        )
    return start, end


def default_window(mode: str) -> tuple[dt.date, dt.date]:
    """The demo period in demo mode, else the last 30 complete UTC days."""
    if mode == "demo":
        from dagster_project.demo.generator import DEMO_END, DEMO_START

        return DEMO_START, DEMO_END
    return resolve_range(None, None, utc_today(), first_partition_day())


def materialize_all(start: dt.date | None = None, end: dt.date | None = None, instance=None) -> list[dg.DagsterRunStatus]:
    """Run (demo →) provider ingest (partition range [start, end)) → everything else. Raises on failure.

    With `start` or `end` given, the range is resolved and checked first (`resolve_range`), so a bad
    range raises DateRangeError before anything runs; with neither, `default_window` applies. The
    settings, the enabled providers' keys (SettingsError) and the deployment's files (WrongDeployment)
    are checked next, still before anything runs.
    """
    if start is not None or end is not None:
        start, end = resolve_range(start, end, utc_today(), first_partition_day())
    config = current_settings()
    providers = config.enabled_providers
    config.require_provider_keys(providers)
    verify_deployment(config)
    from dagster_project.defs.dbt.project import prepare_manifest

    prepare_manifest(config)
    defs = load_definitions()
    instance = instance or _instance()
    graph = defs.resolve_asset_graph()
    job = defs.resolve_implicit_global_asset_job_def()
    if start is None or end is None:
        start, end = default_window(config.mode)

    keys = graph.get_all_asset_keys()
    partitioned = {k for k in keys if graph.get(k).is_partitioned}
    ingest = {k for k in partitioned if graph.get(k).group_name in {f"ingest_{p}" for p in providers}}
    demo = {k for k in keys if graph.get(k).group_name == "demo"}
    # the price book's refresh proposes rows for people to review: run by `make prices`, never by a build
    prices = {k for k in keys if graph.get(k).group_name == "prices"}
    rest = keys - partitioned - demo - prices
    last = (end - dt.timedelta(days=1)).isoformat()
    print(f"==> {config.mode} mode: warehouse {config.duckdb_path}, landing {config.landing_dir}", flush=True)
    if not providers:
        print("==> no provider enabled (no admin key set, TOKENSPEND_PROVIDERS empty): provider ingest skipped",
              flush=True)
    steps = [
        ("demo organisation", demo, {}),
        (f"provider ingest ({', '.join(providers)}) {start}..{last}", ingest, {
            "dagster/asset_partition_range_start": start.isoformat(),
            "dagster/asset_partition_range_end": last,
        }),
        ("files, dbt models, checks and the published copy", rest, {}),
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
    """A short text summary of the marts: total spend, top features, workflows, teams, untagged share.

    Reads the published copy (`TOKENSPEND_PUBLISHED_PATH`), what BI tools see, unless `db_path` names
    another file with a `marts` schema (the warehouse file, say).
    """
    path = Path(db_path) if db_path else current_settings().published_path
    if not path.exists():
        raise FileNotFoundError(
            f"no published warehouse at {path} yet: `make run` (or a build run) publishes it after its checks pass"
        )
    lines = []
    with connect(path, read_only=True) as con:
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


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tokenspend", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="materialise every asset, then print a summary")
    run.add_argument(
        "--demo", action="store_true",
        help="run the built-in demo organisation in its own deployment (TOKENSPEND_DEMO_DIR, default warehouse/demo)",
    )
    run.add_argument(
        "--start", type=_date, help="first UTC date to fetch from the providers (alone: from then to today)"
    )
    run.add_argument(
        "--end", type=_date,
        help=f"UTC date to stop before (exclusive; at most today; alone: the {DEFAULT_DAYS} days before it)",
    )
    summary_parser = sub.add_parser("summary", help="print the summary of the published warehouse")
    summary_parser.add_argument("--demo", action="store_true", help="the demo deployment's published warehouse")
    sub.add_parser("prepare", help="parse the dbt project into the manifest the code location loads")
    args = parser.parse_args(argv)
    if getattr(args, "demo", False):
        if os.environ.get("TOKENSPEND_MODE", "demo") not in ("", "demo"):
            parser.error(f"--demo contradicts TOKENSPEND_MODE={os.environ['TOKENSPEND_MODE']}")
        os.environ["TOKENSPEND_MODE"] = "demo"  # this process and the dbt commands it starts
    try:
        config = current_settings()
    except SettingsError as exc:
        print(f"tokenspend: {exc}", file=sys.stderr)
        return 2
    if args.command == "prepare":
        from dagster_project.defs.dbt.project import prepare_manifest

        print(f"dbt manifest: {prepare_manifest(config)}")
        return 0
    if args.command == "run":
        start, end = args.start, args.end
        if start is not None or end is not None:
            try:
                start, end = resolve_range(start, end, utc_today(), first_partition_day())
            except DateRangeError as exc:
                run.error(str(exc))  # exits with status 2 before anything runs
        try:
            materialize_all(start, end)
        except (SettingsError, WrongDeployment) as exc:
            print(f"tokenspend: {exc}", file=sys.stderr)
            return 2
    try:
        text = summary()
    except FileNotFoundError as exc:
        print(f"tokenspend: {exc}", file=sys.stderr)
        return 1
    print()
    print(f"Warehouse: {config.published_path} (schema marts; open it read-only, replaced after each build)")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
