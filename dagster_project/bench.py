"""`make bench`: tokenspend's whole build on a realistic organisation's volume, against a floor.

Generates N event lines (default 1,000,000; `make bench ROWS=10000000`) of a mid-sized organisation
in the documented event-log format, one file per day, as JSON lines and as Parquet, with its outcome
events and a complete seeds folder (`dagster_project/benchmark/organisation.py`). Then runs, each in
its own subprocess, so that its wall time and peak memory are its own:

1. tokenspend's whole build from an empty warehouse: the event and outcome loads, `dbt build` (seeds,
   models, tests) and every asset check: one Dagster run of every asset but the demo organisation and
   the partitioned provider ingest;
2. the floor: one hand-written DuckDB SQL script that dedupes, prices and attributes the same files
   (`dagster_project/benchmark/floor.py`);
3. a one-day incremental build: one more day's file lands, and the same warehouse is built again;
4. the same whole build with no events: the fixed start-up cost of Dagster and dbt (run first, on the
   same warehouse path, so dbt's partial parse serves it as it serves the others);
5. the event load alone, JSON lines and Parquet, against DuckDB's plain read_json / read_parquet.

It prints wall time, CPU time and peak memory of each, the ratios, where the full build's time goes
(Dagster steps, dbt's run_results.json), and checks that tokenspend's totals equal the floor's exactly
after (1) and again after (3); a difference fails the bench (exit status 1). Absolute figures depend
on the machine; the ratios are what compare between machines.

While it runs it prints a line per stage with the time since it started, and beneath a build one line per
Dagster step of a second or more (the same lines as `cli run`); a stage that prints nothing for 30 s
says it is still running.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

BUSY_SHARE = 0.25
EVENT_LOAD_STEP, OUTCOME_LOAD_STEP, DBT_STEP = "raw__request_events", "raw__outcome_events", "tokenspend_dbt_models"
PROVIDER_SETTINGS = ("OPENAI_ADMIN_KEY", "ANTHROPIC_ADMIN_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL",
                     "DAGSTER_HOME", "TOKENSPEND_LITELLM_DATABASE_URL")


class Progress:
    """One line per step, with the time since the bench started. A measured step's own progress (one line
    per Dagster step of a build) is echoed beneath it as it comes."""

    HEARTBEAT_SECONDS = 30.0

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def __call__(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.started:8.1f}s] {message}", flush=True)

    @contextlib.contextmanager
    def while_running(self, label: str):
        """Say every HEARTBEAT_SECONDS that `label` is still running, while the block runs."""
        done, began = threading.Event(), time.perf_counter()

        def tick():
            while not done.wait(self.HEARTBEAT_SECONDS):
                self(f"    ... {label}: running for {time.perf_counter() - began:,.0f} s")

        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
        try:
            yield
        finally:
            done.set()
            ticker.join()


def _env(db: Path, landing: Path, seeds: Path) -> dict[str, str]:
    """The environment of a step: this warehouse, landing and seeds folder, every other tokenspend setting
    at its default (so nothing is read from or written to the folders of a configured deployment), and no
    provider keys."""
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_SETTINGS and not k.startswith("TOKENSPEND_")}
    env.update({
        "TOKENSPEND_DUCKDB_PATH": str(db),
        "TOKENSPEND_LANDING_DIR": str(landing),
        "TOKENSPEND_SEEDS_DIR": str(seeds),
        "TOKENSPEND_EXPORT_DIR": str(db.parent / "exports"),
        "TOKENSPEND_PUBLISHED_PATH": str(db.parent / "published" / db.name),
    })
    return env


def _remove(root: Path) -> None:
    """Delete the benchmark's folder, and the links into it that dbt's seed path needed."""
    from dagster_project import settings

    for link in settings.DBT_PROJECT_DIR.iterdir():
        if link.is_symlink() and Path(os.readlink(link)).is_relative_to(root):
            link.unlink()
    shutil.rmtree(root, ignore_errors=True)


def _size(folder: Path, suffix: str) -> int:
    return sum(p.stat().st_size for p in folder.rglob(f"*{suffix}"))


def _mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def _ratio(a: float, b: float) -> str:
    """a / b; a difference that came out at or below zero is measurement noise, not a ratio."""
    return f"{a / b:.2f}" if a > 0 and b > 0 else "noise"


def _line(m) -> str:
    return (f"{m.label:<58} {m.wall_seconds:9.1f} {m.cpu_seconds:9.1f} {m.peak_mib:10,.0f} "
            f"{m.others_share:9.0%}")


def _check(progress: Progress, label: str, db: Path, floor_db: Path) -> dict:
    """tokenspend's totals from the marts against the floor's, exactly; raises TotalsDiffer."""
    import duckdb

    from dagster_project.benchmark.totals import FLOOR_FACT, TOKENSPEND_FACT, compare, totals

    with duckdb.connect(str(db), read_only=True) as con:
        ours = totals(con, TOKENSPEND_FACT)
    with duckdb.connect(str(floor_db), read_only=True) as con:
        floor = totals(con, FLOOR_FACT)
    compare(ours, floor)
    progress(f"totals {label}: tokenspend = floor on all {len(ours)} figures")
    return ours


def main(argv: list[str] | None = None) -> int:
    from dagster_project.benchmark import organisation
    from dagster_project.benchmark.measure import run_step
    from dagster_project.benchmark.totals import TotalsDiffer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=int(os.environ.get("TOKENSPEND_BENCH_EVENTS", 1_000_000)),
                        help="event lines over the 30-day period (default 1,000,000)")
    parser.add_argument("--format", choices=("jsonl", "parquet"), default="jsonl",
                        help="event file format the builds and the floor read (default jsonl)")
    parser.add_argument("--workdir", type=Path, help="folder for generated files and warehouses (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files and warehouses")
    args = parser.parse_args(argv)

    progress = Progress()
    root = Path(args.workdir or tempfile.mkdtemp(prefix="tokenspend-bench-")).resolve()
    root.mkdir(parents=True, exist_ok=True)
    fmt = args.format

    def measure(label: str, step: str, step_args: dict, env: dict):
        progress(f"{label.strip()} ...")
        m = run_step(label, step, step_args, env, root / "logs", echo=lambda line: progress(f"    {line.strip()}"))
        progress(f"{label.strip()}: {m.wall_seconds:.1f} s wall, {m.cpu_seconds:.1f} s CPU, "
                 f"peak {m.peak_mib:,.0f} MiB")
        return m

    try:
        progress(f"generating {args.events:,} event lines, outcomes and seeds under {root}")
        with progress.while_running("generating"):
            layout, counts = organisation.generate(root, args.events)
        landing, seeds = layout.landing(fmt), layout.seeds
        period, extra_day = counts["period"], counts["extra_day"]
        progress(f"generated {period['lines']:,} lines ({period['requests']:,} requests, {period['tasks']:,} tasks) "
                 f"over {organisation.DAYS} days: JSONL {_mib(_size(layout.landing('jsonl') / 'events', '.jsonl'))}, "
                 f"Parquet {_mib(_size(layout.landing('parquet') / 'events', '.parquet'))}; "
                 f"one more day: {extra_day['lines']:,} lines")
        db = root / "warehouse" / "tokenspend.duckdb"
        env = _env(db, landing, seeds)
        runs, loads = {}, {}

        measure("prepare: Dagster definitions, dbt manifest for the benchmark's seeds (not counted)",
                "prepare", {}, env)
        # The build with no events runs first, on the same warehouse path as the others (dbt re-parses the
        # whole project when the path in its profile changes, which a deployment never pays), and its
        # warehouse is then removed so that the full build starts from nothing.
        (root / "landing-empty").mkdir(exist_ok=True)
        runs["empty"] = measure("(4) build with no events (start-up cost)", "build", {"out": str(root / "empty")},
                                _env(db, root / "landing-empty", seeds))
        shutil.rmtree(db.parent)
        runs["full"] = measure("(1) full build: load, dbt build with tests, asset checks", "build",
                               {"out": str(root / "full")}, env)
        runs["floor"] = measure("(2) floor: one DuckDB SQL script", "floor",
                                {"landing": str(landing), "format": fmt, "seeds": str(seeds),
                                 "db": str(root / "floor.duckdb")}, env)
        figures = _check(progress, "after the full build", db, root / "floor.duckdb")

        for load_fmt in ("jsonl", "parquet"):
            reader = "read_json" if load_fmt == "jsonl" else "read_parquet"
            for step, label in (("reader", f"DuckDB {reader} into a table"), ("load", "tokenspend load_new_files")):
                loads[(load_fmt, step)] = measure(
                    f"    event load alone, {load_fmt}: {label}", step,
                    {"landing": str(layout.landing(load_fmt)), "format": load_fmt,
                     "db": str(root / f"load-{load_fmt}-{step}.duckdb")}, env)
            ours, ref = loads[(load_fmt, "load")], loads[(load_fmt, "reader")]
            if ours.result["rows"] != ref.result["rows"] or ours.result["rejected"]:
                raise SystemExit(f"{load_fmt} load: tokenspend loaded {ours.result['rows']:,} rows "
                                 f"({ours.result['rejected']:,} rejected), DuckDB read {ref.result['rows']:,}")

        progress(f"one more day lands: {organisation.EXTRA_DAY}, {extra_day['lines']:,} lines")
        for sub in ("events", "outcomes"):
            shutil.copytree(layout.extra_day(fmt) / sub, landing / sub, dirs_exist_ok=True)
        runs["incremental"] = measure("(3) one-day incremental build", "build", {"out": str(root / "incremental")}, env)
        runs["floor_after"] = measure("    floor on the period plus that day", "floor",
                                      {"landing": str(landing), "format": fmt, "seeds": str(seeds),
                                       "db": str(root / "floor-after.duckdb")}, env)
        _check(progress, "after the incremental build", db, root / "floor-after.duckdb")

    except TotalsDiffer as e:
        print(f"\nFAIL: {e}", file=sys.stderr)
        print(f"files kept under {root}", file=sys.stderr)
        return 1
    except BaseException:
        print(f"files kept under {root}", file=sys.stderr)
        raise

    _report(fmt, counts, runs, loads, figures, kept=bool(args.keep or args.workdir))
    if args.keep or args.workdir:
        print(f"\nfiles kept under {root}")
    else:
        _remove(root)
    return 0


def _build_line(m) -> str:
    r = m.result
    dbt = r.get("dbt", {}).get("elapsed")
    return (f"  {m.label.split(':')[0]}: Python and definitions {r['definitions_seconds']:.1f} s, run "
            f"{r['run_seconds']:.1f} s (event load {r['steps'].get(EVENT_LOAD_STEP, 0):.1f} s, dbt build "
            f"{dbt or 0:.1f} s)")


def _report(fmt: str, counts: dict, runs: dict, loads: dict, figures: dict, kept: bool) -> None:
    from dagster_project.benchmark.totals import NO_TEAM, breakdown, untagged_share

    full, floor, incremental, empty = runs["full"], runs["floor"], runs["incremental"], runs["empty"]
    lines, extra = counts["period"]["lines"], counts["extra_day"]["lines"]
    memory = next((int(line.split()[1]) * 1024 for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0)
    print()
    print(f"tokenspend bench: {lines:,} event lines ({counts['period']['requests']:,} requests) over 30 days, "
          f"{fmt} files; this machine: {os.cpu_count()} cores, {memory / 2**30:.0f} GiB")
    print(f"{'step':<58} {'wall s':>9} {'cpu s':>9} {'peak MiB':>10} {'others':>9}")
    for name in ("full", "floor", "incremental", "floor_after", "empty"):
        print(_line(runs[name]))
    print("  (others: share of the cores other processes kept busy during the step)")
    busy = [m for m in runs.values() if m.others_share > BUSY_SHARE]
    if busy:
        print(f"  the machine was shared: other processes used more than {BUSY_SHARE:.0%} of the cores during "
              f"{', '.join(m.label.split(':')[0].strip() for m in busy)}; their wall times read slower than "
              f"the work is, and the CPU-time ratios are the steadier figures")
    print(f"ratios{'':<40} {'wall':>8} {'cpu':>8}")
    for name, a, b in (
        ("full build minus fixed start-up / floor", lambda m: m["full"] - m["empty"], lambda m: m["floor"]),
        ("full build / floor", lambda m: m["full"], lambda m: m["floor"]),
        ("one-day incremental / full build", lambda m: m["incremental"], lambda m: m["full"]),
        ("the same, each minus start-up", lambda m: m["incremental"] - m["empty"],
         lambda m: m["full"] - m["empty"]),
    ):
        wall = {k: v.wall_seconds for k, v in runs.items()}
        cpu = {k: v.cpu_seconds for k, v in runs.items()}
        print(f"  {name:<44} {_ratio(a(wall), b(wall)):>8} {_ratio(a(cpu), b(cpu)):>8}")
    if min(full.wall_seconds - empty.wall_seconds, full.cpu_seconds - empty.cpu_seconds) <= 0:
        print("  (noise: the build with events did not measure slower than the build without; at this volume "
              "the fixed start-up is the whole cost)")
    print(f"  peak memory, full build / floor: {_ratio(full.peak_bytes, floor.peak_bytes)}; the incremental day is "
          f"{extra:,} lines, {extra / lines:.1%} of the period")
    for name in ("full", "incremental", "empty"):
        peaks = runs[name].peaks
        print(f"  peak memory of {runs[name].label.split(':')[0]} by process: Dagster (loads, asset checks) "
              f"{peaks.get('step', 0) / 2**20:,.0f} MiB, dbt {peaks.get('dbt', 0) / 2**20:,.0f} MiB")
    print(f"  full build on this machine: {lines / full.wall_seconds:,.0f} events/s; "
          f"floor: {lines / floor.wall_seconds:,.0f} events/s")

    print("where the time goes")
    for m in (full, incremental, empty):
        print(_build_line(m))
    result = full.result
    steps = sorted(result["steps"].items(), key=lambda kv: -kv[1])
    kinds = result["step_kinds"]
    print(f"  full build: {result['assets']} assets and {result['checks']} asset checks in {len(steps)} Dagster steps")
    event_load = result["steps"].get(EVENT_LOAD_STEP)
    if event_load:
        print(f"  event load ({EVENT_LOAD_STEP}): {event_load:.1f} s, {lines / event_load:,.0f} lines/s")
    for kind, title in (("asset", "other assets"), ("check", "asset checks")):
        chosen = [(s, t) for s, t in steps if kinds.get(s) == kind and s not in (EVENT_LOAD_STEP, DBT_STEP)]
        print(f"  {title}: {sum(t for _, t in chosen):.1f} s over {len(chosen)} steps; slowest: "
              + ", ".join(f"{s} {t:.1f} s" for s, t in chosen[:4]))
    dbt = result.get("dbt")
    if dbt:
        kinds_dbt = ", ".join(f"{k} {v['count']} in {v['seconds']:.1f} s" for k, v in dbt["by_type"].items())
        print(f"  dbt ({DBT_STEP} {result['steps'].get(DBT_STEP, 0):.1f} s): dbt build {dbt['elapsed']:.1f} s "
              f"elapsed; node time by type (2 threads): {kinds_dbt}")
        print("  slowest dbt nodes:")
        for node in dbt["slowest"]:
            print(f"    {node['seconds']:8.2f} s  {node['node']}")
        if kept:
            print(f"  (dbt's run_results.json: {dbt['run_results']})")
    later = incremental.result.get("dbt")
    if later:
        print("  slowest dbt nodes of the one-day incremental build: "
              + ", ".join(f"{n['node'].split('.')[2]} {n['seconds']:.1f} s" for n in later["slowest"][:5]))
    if result["failed_checks"]:
        print(f"  asset checks that did not pass (none blocks): {', '.join(result['failed_checks'])}")

    print("event load alone (seconds of the load call; peak memory of its process)")
    for load_fmt in ("jsonl", "parquet"):
        ours, ref = loads[(load_fmt, "load")], loads[(load_fmt, "reader")]
        print(f"  {load_fmt:<8} DuckDB reader {ref.result['seconds']:7.1f} s {ref.peak_mib:7,.0f} MiB;  "
              f"tokenspend {ours.result['seconds']:7.1f} s {ours.peak_mib:7,.0f} MiB;  "
              f"ratio time {_ratio(ours.result['seconds'], ref.result['seconds'])}, "
              f"memory {_ratio(ours.peak_bytes, ref.peak_bytes)}")

    print("totals, the same in tokenspend's marts and the floor (exact DECIMAL)")
    print(f"  requests {figures['requests']:,}; priced estimated cost ${figures['priced estimated cost']:,.9f}; "
          f"unpriced requests {figures['unpriced requests']:,}")
    print(f"  untagged: {figures['untagged requests']:,} requests, ${figures['untagged priced cost']:,.2f} "
          f"({untagged_share(figures):.1%} of priced cost)")
    teams = sorted(breakdown(figures, "team", "priced cost").items(), key=lambda kv: -kv[1])
    print("  priced cost per team: " + ", ".join(f"{t} ${v:,.2f}" for t, v in teams if t != NO_TEAM))
    owners = sorted(breakdown(figures, "key owner team", "priced cost").items(), key=lambda kv: -kv[1])
    print("  of which attributed by the API key's owner: " + ", ".join(f"{t} ${v:,.2f}" for t, v in owners))


if __name__ == "__main__":
    sys.exit(main())
