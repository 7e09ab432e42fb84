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

Output. `run` is quiet by default: everything Dagster, dbt, Great Expectations and Python warnings print
goes to a log file beside the warehouse (`logs/run-<UTC time>.log`, its path printed first), and the
terminal gets one line per Dagster step as it ends (`RunProgress`: its duration, what it materialised
with the counts in its metadata, the verdict of its checks), a line now and then while a long step runs,
and the summary. `-v` (`make run V=1`) prints the full logs instead. A failure prints the error in full,
with the log's path. The summary (`summary`) is a list of sections, each a function of the published
file that returns its lines (`SUMMARY_SECTIONS`), then the checks that failed in the run, one line each.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TextIO

import dagster as dg

from dagster_project.lib.deployment import WrongDeployment, verify_deployment
from dagster_project.lib.warehouse import connect
from dagster_project.settings import SettingsError, command_settings, current_settings


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


# ---------------------------------------------------------------------------------------------------------
# Progress: one line per Dagster step as it ends, from the run's events


def _count(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def metadata_counts(metadata: dict) -> list[str]:
    """The counts in a materialisation's metadata (its integer and float values), as `name value`."""
    out = []
    for key, value in metadata.items():
        raw = getattr(value, "value", value)
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            out.append(f"{key.removeprefix('dagster/')} {_count(raw)}")
    return out


def one_line(text: str | None, limit: int | None = None) -> str:
    text = " ".join((text or "").split())
    return text if limit is None or len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class _Step:
    started: float | None = None
    materialized: dict[str, list[dict]] = field(default_factory=dict)  # asset -> metadata of each event
    checks: list = field(default_factory=list)  # AssetCheckEvaluation


class RunProgress:
    """Prints one line per Dagster step as it ends: its duration, what it materialised (with the counts in
    its metadata; a partitioned asset as its number of partitions, a step of many assets as counts per
    group) and its checks' verdicts. While a step runs longer than `heartbeat` seconds without a line, it
    says so with what the step has done so far. Keeps every check evaluation for the summary.

    Called with each event of a run (`DagsterInstance.add_event_listener`), or with a finished run's
    events (`replay`). Steps shorter than `min_seconds` are left out, unless one of their checks failed.
    """

    def __init__(self, out: TextIO, heartbeat: float | None = 20.0, min_seconds: float = 0.0,
                 also: TextIO | None = None) -> None:
        self.out, self.also = out, also
        self.heartbeat, self.min_seconds = heartbeat, min_seconds
        self.started = time.monotonic()
        self.evaluations: list = []
        self.failed_steps: list[str] = []
        self._steps: dict[str, _Step] = {}
        self._lock = threading.Lock()
        self._last_line = time.time()  # epoch seconds, as the events' timestamps
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    # the terminal, and the log file in quiet mode, so that the log holds the same timeline
    def line(self, text: str) -> None:
        with self._lock:
            for stream in (self.out, self.also):
                if stream is not None:
                    stream.write(text + "\n")
                    stream.flush()
            self._last_line = time.time()

    def section(self, text: str) -> None:
        self.line(f"==> {text}")

    def __enter__(self) -> RunProgress:
        if self.heartbeat:
            self._ticker = threading.Thread(target=self._tick, name="tokenspend-progress", daemon=True)
            self._ticker.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            now = time.time()
            with self._lock:
                running = [(k, s) for k, s in self._steps.items() if s.started is not None]
                last = self._last_line
            if not running or not self.heartbeat:
                continue
            key, step = running[0]
            # a line every `heartbeat` seconds of a step's run, counted from its start or the last line
            if now - max(last, step.started) >= self.heartbeat:
                done = sum(len(v) for v in step.materialized.values())
                self.line(f"   ... {key}: running for {now - step.started:,.0f} s, "
                          f"{done} materialisation(s) and {len(step.checks)} check(s) so far")

    def __call__(self, entry) -> None:
        event = entry.dagster_event
        if event is None or not event.step_key:
            return
        kind, key = event.event_type_value, event.step_key
        with self._lock:
            step = self._steps.setdefault(key, _Step())
            if kind == "STEP_START":
                step.started = entry.timestamp
            elif kind == "ASSET_MATERIALIZATION":
                mat = event.event_specific_data.materialization
                step.materialized.setdefault(mat.asset_key.to_user_string(), []).append(dict(mat.metadata))
            elif kind == "ASSET_CHECK_EVALUATION":
                step.checks.append(event.event_specific_data)
                self.evaluations.append(event.event_specific_data)
        if kind in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"):
            with self._lock:
                step = self._steps.pop(key, _Step())
            seconds = entry.timestamp - step.started if step.started else 0.0
            if kind == "STEP_FAILURE":
                self.failed_steps.append(key)
                error = getattr(event.event_specific_data, "error", None)
                message = error.message if error is not None else "see the log"
                self.line(f"{seconds:9.1f}s  {key}: FAILED: {one_line(message, 300)}")
            elif kind == "STEP_SKIPPED":
                self.line(f"{'':10}  {key}: skipped (an upstream step failed or a blocking check did not pass)")
            elif seconds >= self.min_seconds or any(not c.passed for c in step.checks):
                self.line(f"{seconds:9.1f}s  {self.describe(key, step)}")

    def describe(self, key: str, step: _Step) -> str:
        """What one step did, in a line."""
        parts = []
        if len(step.materialized) == 1:
            asset, events = next(iter(step.materialized.items()))
            counts = metadata_counts(events[-1])
            parts.append(asset + (f": {len(events)} partitions" if len(events) > 1 else "")
                         + ("," if len(events) > 1 and counts else ":" if counts else "")
                         + (" " + ", ".join(counts) if counts else ""))
        elif step.materialized:
            groups: dict[str, int] = {}
            for asset in step.materialized:
                groups[asset.split("/")[0]] = groups.get(asset.split("/")[0], 0) + 1
            parts.append(f"{key}: {len(step.materialized)} assets ("
                         + ", ".join(f"{g} {n}" for g, n in groups.items()) + ")")
        if step.checks:
            failed = [c for c in step.checks if not c.passed]
            if len(step.checks) == 1 and not step.materialized:
                c = step.checks[0]
                verdict = "passed" if c.passed else f"{c.severity.value} {one_line(c.description, 110)}"
                parts.append(f"check {c.check_name} on {c.asset_key.to_user_string()}: {verdict}")
            else:
                parts.append(f"{len(step.checks)} checks: {len(step.checks) - len(failed)} passed"
                             + (f", {len(failed)} failed ({', '.join(c.check_name for c in failed[:3])}"
                                f"{', ...' if len(failed) > 3 else ''})" if failed else ""))
        return "; ".join(parts) or f"{key}: done"

    def replay(self, instance: dg.DagsterInstance, run_id: str) -> None:
        """Feed a finished run's events, as the listener would have received them."""
        for entry in instance.all_logs(run_id):
            self(entry)


# ---------------------------------------------------------------------------------------------------------
# Quiet mode: the process's output goes to a log file


def run_log_path(config) -> Path:
    """`logs/run-<UTC time>.log` beside the warehouse file."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return config.duckdb_path.parent / "logs" / f"run-{stamp}.log"


@contextlib.contextmanager
def output_to(log_path: Path) -> Iterator[tuple[TextIO, TextIO]]:
    """Send file descriptors 1 and 2 (Python's prints, warnings and logging, Dagster's banners and logs,
    dbt's output) to `log_path` while the block runs; yields (the terminal's stdout, the log) to write
    to. Restored on the way out, also on error, before the error is printed."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(saved[0]), "w", buffering=1)
    log = open(log_path, "a", buffering=1, encoding="utf-8")  # closed below
    try:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        # sys.stdout/stderr too, for when they are not the process's descriptors 1 and 2
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            yield terminal, log
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        for stream in (terminal, log):
            stream.close()


def materialize_all(start: dt.date | None = None, end: dt.date | None = None, instance=None,
                    progress: RunProgress | None = None) -> list[dg.DagsterRunStatus]:
    """Run (demo →) provider ingest (partition range [start, end)) → everything else. Raises on failure.

    With `start` or `end` given, the range is resolved and checked first (`resolve_range`), so a bad
    range raises DateRangeError before anything runs; with neither, `default_window` applies. The
    settings, the enabled providers' keys (SettingsError) and the deployment's files (WrongDeployment)
    are checked next, still before anything runs. `progress`, when given, hears every event of the runs.
    """
    if start is not None or end is not None:
        start, end = resolve_range(start, end, utc_today(), first_partition_day())
    config = current_settings()
    providers = config.enabled_providers
    config.require_provider_keys(providers)
    verify_deployment(config)
    from dagster_project.defs.dbt.project import prepare_manifest

    say = progress.section if progress is not None else (lambda text: print(f"==> {text}", flush=True))
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
    days = (end - start).days
    if not providers:
        say("no provider enabled (no admin key set, TOKENSPEND_PROVIDERS empty): provider ingest skipped")
    steps = [
        ("demo organisation", demo, {}),
        (f"provider ingest ({', '.join(providers)}) {start}..{last}, {days} daily partition(s)", ingest, {
            "dagster/asset_partition_range_start": start.isoformat(),
            "dagster/asset_partition_range_end": last,
        }),
        ("files, dbt models, checks and the published copy", rest, {}),
    ]
    statuses = []
    for label, selection, tags in steps:
        if not selection:
            continue
        say(f"{label}: {len(selection)} asset(s)")
        run_id = str(uuid.uuid4())
        if progress is not None:
            instance.add_event_listener(run_id, progress)
        result = job.execute_in_process(
            instance=instance,
            asset_selection=sorted(selection, key=str),
            tags=tags,
            run_id=run_id,
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
            raise_on_error=True,
        )
        statuses.append(result.dagster_run.status)
    return statuses


# ---------------------------------------------------------------------------------------------------------
# The summary: sections of lines from the published file, then the run's failing checks


def _money(value) -> str:
    return f"${Decimal(value or 0):,.2f}"


def _share(part, whole) -> str:
    return f"{(Decimal(part or 0) / Decimal(whole)):.1%}" if whole else "0.0%"


def spend_lines(con) -> list[str]:
    """Total billed spend over the period and by provider."""
    total, first, last = con.execute(
        "select sum(cost_usd), min(usage_date), max(usage_date) from marts.fct_token_spend"
    ).fetchone()
    by_provider = con.execute(
        "select provider, sum(cost_usd) from marts.fct_token_spend group by 1 order by 2 desc"
    ).fetchall()
    return [f"Total billed spend {first} .. {last}: {_money(total)}",
            "  by provider: " + ", ".join(f"{p} {_money(c)}" for p, c in by_provider)]


def top_lines(con) -> list[str]:
    """The five largest features, workflows and teams by billed spend."""
    lines = []
    for dim in ("feature", "workflow", "team"):
        rows = con.execute(
            f"""select {dim}, sum(cost_usd) as c from marts.fct_token_spend where {dim} is not null
                group by 1 order by c desc limit 5"""
        ).fetchall()
        lines.append(f"Top {dim}s: " + ", ".join(f"{k} {_money(c)}" for k, c in rows))
    return lines


def untagged_lines(con) -> list[str]:
    """The untagged share (no tag and no owner: what mart_untagged_share and its check report) and the
    wider share without a feature: untagged spend plus spend a team owns (by request tags or by the
    key's or project's owner) that names no feature, by attribution method."""
    row = con.execute(
        "select overall_total_cost_usd, overall_untagged_cost_usd from marts.mart_untagged_share limit 1"
    ).fetchone()
    total, untagged = row or (Decimal(0), Decimal(0))
    owned = con.execute(
        """select attribution_method, sum(cost_usd) from marts.fct_token_spend
           where feature is null and attribution_method <> 'untagged'
           group by 1 order by 2 desc, 1"""
    ).fetchall()
    owned_total = sum((c for _, c in owned), Decimal(0))
    lines = [
        f"Untagged spend: {_money(untagged)} ({_share(untagged, total)} of billed spend): no tag and no owner; "
        "who causes it: marts.mart_untagged_offenders",
        f"Spend without a feature: {_money(untagged + owned_total)} ({_share(untagged + owned_total, total)}) = "
        f"the untagged {_money(untagged)} + {_money(owned_total)} ({_share(owned_total, total)}) a team owns "
        "with no feature named",
    ]
    if owned:
        lines.append("  owned without a feature, by how: "
                     + ", ".join(f"{m.replace('_', ' ').replace('api ', 'API ')} {_money(c)}" for m, c in owned))
    return lines


EFFECTS = {"volume": "volume", "model_mix": "model mix", "batch_share": "batch share", "output_share": "output share",
           "cache": "cache", "unit_price": "unit price", "new_scope": "new scope", "gone_scope": "gone scope",
           "other_charges": "other charges"}


def _signed_money(value) -> str:
    value = Decimal(value or 0)
    return ("+" if value >= 0 else "-") + _money(abs(value))


def _ratio(value) -> str:
    return "n/a" if value is None else f"{Decimal(value):+.1%}"


def _has_mart(con, name: str) -> bool:
    return con.execute("select count(*) from information_schema.tables where table_schema = 'marts' "
                       "and table_name = ?", [name]).fetchone()[0] > 0


def spend_change_lines(con) -> list[str]:
    """The latest month against the one before (mart_spend_change): the change and its three largest effects,
    each with the scope that carries most of it, and token growth beside the unit-cost change."""
    if not _has_mart(con, "mart_spend_change"):
        return ["Spend change: marts.mart_spend_change is not in this warehouse (built by `dbt build`)"]
    latest = con.execute("""select period_start, prior_period_start, bool_and(is_complete_comparison),
                                   sum(prior_cost_usd), sum(change_usd), sum(prior_tokens), sum(tokens)
                            from marts.mart_spend_change where period_grain = 'month'
                            group by 1, 2 order by 1 desc limit 1""").fetchone()
    if latest is None:
        return ["Spend change: needs two months of data (marts.mart_spend_change)"]
    period, prior, complete, prior_cost, change, prior_tokens, tokens = latest
    effects = con.execute(
        "select " + ", ".join(
            f"sum({'new_scope_usd' if e == 'new_scope' else 'gone_scope_usd' if e == 'gone_scope' else e + '_effect_usd'})"
            for e in EFFECTS)
        + " from marts.mart_spend_change where period_grain = 'month' and period_start = ?", [period]).fetchone()
    named = sorted(((e, v) for e, v in zip(EFFECTS, effects, strict=True) if v), key=lambda ev: -abs(ev[1]))[:3]
    parts = []
    for effect, value in named:
        column = {"new_scope": "new_scope_usd", "gone_scope": "gone_scope_usd"}.get(effect, f"{effect}_effect_usd")
        scope = con.execute(
            f"""select coalesce(nullif(workflow, '(unattributed)'), nullif(feature, '(unattributed)'),
                                nullif(team, '(unattributed)'), provider || ' unattributed')
                from marts.mart_spend_change where period_grain = 'month' and period_start = ?
                order by {column} * sign(?) desc limit 1""", [period, value]).fetchone()[0]
        parts.append(f"{EFFECTS[effect]} {_signed_money(value)} ({scope})")
    unit_prior = Decimal(prior_cost) / prior_tokens if prior_tokens else None
    unit_now = (Decimal(prior_cost) + Decimal(change)) / tokens if tokens else None
    unit_change = (unit_now / unit_prior - 1) if unit_prior and unit_now is not None else None
    token_growth = (Decimal(tokens) / prior_tokens - 1) if prior_tokens else None
    return [f"Spend change {str(period)[:7]} vs {str(prior)[:7]}"
            + ("" if complete else " (one of the two months is not complete in the data)")
            + f": {_signed_money(change)} ({_ratio(Decimal(change) / prior_cost if prior_cost else None)}): "
            + ", ".join(parts)
            + f"; tokens {_ratio(token_growth)}, cost per token {_ratio(unit_change)}; see marts.mart_spend_change"]


def segment_lines(con) -> list[str]:
    """The latest month's customer segments by billed spend (mart_customer_spend), and the spend with no customer."""
    if not _has_mart(con, "mart_customer_spend"):
        return ["Customer segments: marts.mart_customer_spend is not in this warehouse (built by `dbt build`)"]
    month = con.execute("select max(month) from marts.mart_customer_spend").fetchone()[0]
    if month is None:
        return ["Customer segments: no spend yet (marts.mart_customer_spend)"]
    rows = con.execute(
        """select scope, cost_usd, cost_per_interaction_usd,
                  (select count(distinct c.scope) from marts.mart_customer_spend as c
                   where c.scope_type = 'customer' and c.month = s.month and c.segment = s.scope) as customers
           from marts.mart_customer_spend as s
           where scope_type = 'segment' and month = ? order by cost_usd desc, scope""", [month]).fetchall()
    named = [r for r in rows if r[0] != "(no customer)"]
    none = sum((r[1] for r in rows if r[0] == "(no customer)"), Decimal(0))
    return [f"Top customer segments {str(month)[:7]}: "
            + ", ".join(f"{scope} {_money(cost)} ({customers} customers, ${Decimal(per or 0):,.4f} per interaction)"
                        for scope, cost, per, customers in named[:3])
            + f"; no customer {_money(none)}; see marts.mart_customer_spend"]


ALERT_KINDS = {"budget_hard_cap": "hard cap", "budget_soft": "budget", "spend_anomaly": "anomaly"}


def alert_line(kind: str, scope_type: str, scope: str, period_start, severity: str, details: dict) -> str:
    """One open alert with its figures."""
    if kind == "spend_anomaly":
        what = (f"{period_start}: {_money(details.get('cost_usd'))} against a median of "
                f"{_money(details.get('baseline_median_usd'))} (threshold {_money(details.get('threshold_usd'))})")
    else:
        status = str(details.get("status", "")).replace("_", " ")
        what = (f"{str(period_start)[:7]}: {status}, {_money(details.get('spend_to_date_usd'))} of "
                f"{_money(details.get('monthly_budget_usd'))}, forecast {_money(details.get('forecast_month_end_usd'))}"
                + (", cap to enforce" if details.get("action") == "enforce_cap" else ""))
    return f"  {severity:<8} {ALERT_KINDS.get(kind, kind):<8} {scope_type} {scope} {what}"


def alert_lines(con) -> list[str]:
    """The open alerts of ops.alerts as of the build, critical first."""
    rows = con.execute(
        """select kind, scope_type, scope, period_start, severity, details from ops.alerts where status = 'open'
           order by severity = 'critical' desc, kind, scope_type, scope, period_start"""
    ).fetchall()
    if not rows:
        return ["Open alerts: none"]
    return [f"Open alerts ({len(rows)}, ops.alerts):"] + [
        alert_line(kind, scope_type, scope, period, severity, json.loads(details))
        for kind, scope_type, scope, period, severity, details in rows
    ]


# Each section is a function of a read-only connection to the published file that returns its lines;
# a new section is one function added here, in the place its lines should appear.
SUMMARY_SECTIONS: list[Callable] = [spend_lines, top_lines, spend_change_lines, segment_lines, untagged_lines,
                                     alert_lines]


def check_lines(evaluations: list) -> list[str]:
    """Every check that failed, one line each (errors first): severity, name, asset, description."""
    latest = {}
    for evaluation in evaluations:  # a check evaluated twice counts once, as its latest verdict
        latest[(evaluation.asset_key.to_user_string(), evaluation.check_name)] = evaluation
    failed = sorted((e for e in latest.values() if not e.passed),
                    key=lambda e: (e.severity.value != "ERROR", e.asset_key.to_user_string(), e.check_name))
    if not failed:
        return [f"Checks: all {len(latest)} passed"]
    errors = sum(e.severity.value == "ERROR" for e in failed)
    lines = [f"Checks that failed: {len(failed)} of {len(latest)} ("
             + (f"{errors} error(s): nothing was published; " if errors else "")
             + f"{len(failed) - errors} warning(s): findings to act on, the build went on)"]
    lines += [f"  {e.severity.value:<5} {e.check_name} on {e.asset_key.to_user_string()}: {one_line(e.description)}"
              for e in failed]
    return lines


def summary(db_path=None, evaluations: list | None = None, sections: list[Callable] | None = None) -> str:
    """The summary: each section's lines (`SUMMARY_SECTIONS`), then, given a run's check evaluations, the
    checks that failed.

    Reads the published copy (`TOKENSPEND_PUBLISHED_PATH`), what BI tools see, unless `db_path` names
    another file with the `marts` and `ops` schemas (the warehouse file, say).
    """
    path = Path(db_path) if db_path else current_settings().published_path
    if not path.exists():
        raise FileNotFoundError(
            f"no published warehouse at {path} yet: `make run` (or a build run) publishes it after its checks pass"
        )
    lines: list[str] = []
    with connect(path, read_only=True) as con:
        for section in SUMMARY_SECTIONS if sections is None else sections:
            lines.extend(section(con))
    if evaluations is not None:
        lines.extend(check_lines(evaluations))
    return "\n".join(lines)


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def run_command(start: dt.date | None, end: dt.date | None, config, verbose: bool) -> tuple[int, list]:
    """`run`: materialise everything with progress lines; quiet unless `verbose`. Returns (exit status,
    check evaluations). Errors are printed in full to stderr, with the log file's path."""
    if verbose:
        with RunProgress(sys.stdout) as progress:
            progress.section(f"{config.mode} mode: warehouse {config.duckdb_path}, landing {config.landing_dir}")
            materialize_all(start, end, progress=progress)
            progress.section(f"built in {time.monotonic() - progress.started:,.1f} s")
        return 0, progress.evaluations
    log_path = run_log_path(config)
    print(f"==> {config.mode} mode: warehouse {config.duckdb_path}, landing {config.landing_dir}", flush=True)
    print(f"==> full log: {log_path} (`run -v`, or `make run V=1`, prints it here)", flush=True)
    progress = None
    try:
        with output_to(log_path) as (terminal, log), RunProgress(terminal, also=log) as progress:
            materialize_all(start, end, progress=progress)
            progress.section(f"built in {time.monotonic() - progress.started:,.1f} s")
    except (SettingsError, WrongDeployment):
        raise
    except Exception:
        print(f"tokenspend: the run failed{' in ' + ', '.join(progress.failed_steps) if progress and progress.failed_steps else ''}"
              f"; the full log is {log_path}", file=sys.stderr)
        traceback.print_exc()
        if progress is not None and progress.evaluations:
            print("\n".join(check_lines(progress.evaluations)), file=sys.stderr)
        return 1, []
    return 0, progress.evaluations


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
    run.add_argument(
        "-v", "--verbose", action="store_true",
        help="print the full logs (Dagster, dbt, warnings) instead of one line per step and a log file",
    )
    summary_parser = sub.add_parser("summary", help="print the summary of the published warehouse")
    summary_parser.add_argument("--demo", action="store_true", help="the demo deployment's published warehouse")
    sub.add_parser("prepare", help="parse the dbt project into the manifest the code location loads")
    args = parser.parse_args(argv)
    config = command_settings(parser, getattr(args, "demo", False))
    if args.command == "prepare":
        from dagster_project.defs.dbt.project import prepare_manifest

        print(f"dbt manifest: {prepare_manifest(config)}")
        return 0
    evaluations = None
    if args.command == "run":
        start, end = args.start, args.end
        if start is not None or end is not None:
            try:
                start, end = resolve_range(start, end, utc_today(), first_partition_day())
            except DateRangeError as exc:
                run.error(str(exc))  # exits with status 2 before anything runs
        try:
            status, evaluations = run_command(start, end, config, args.verbose)
        except (SettingsError, WrongDeployment) as exc:
            print(f"tokenspend: {exc}", file=sys.stderr)
            return 2
        if status:
            return status
    try:
        text = summary(evaluations=evaluations)
    except FileNotFoundError as exc:
        print(f"tokenspend: {exc}", file=sys.stderr)
        return 1
    print()
    print(f"Warehouse: {config.published_path} (schema marts; open it read-only, replaced after each build)")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
