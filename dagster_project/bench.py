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
4. the same whole build with no events: the fixed start-up cost of Dagster and dbt;
5. the event load alone, JSON lines and Parquet, against DuckDB's plain read_json / read_parquet.

It prints wall time, CPU time and peak memory of each, the ratios, where the full build's time goes
(Dagster steps, dbt's run_results.json), and checks that tokenspend's totals equal the floor's exactly
after (1) and again after (3); a difference fails the bench (exit status 1). Absolute figures depend
on the machine; the ratios are what compare between machines.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

EVENT_LOAD_STEP, OUTCOME_LOAD_STEP, DBT_STEP = "raw__request_events", "raw__outcome_events", "tokenspend_dbt_models"
PROVIDER_SETTINGS = ("OPENAI_ADMIN_KEY", "ANTHROPIC_ADMIN_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL",
                     "DAGSTER_HOME", "TOKENSPEND_LITELLM_DATABASE_URL")


class Progress:
    """One line per step, with the time since the bench started."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def __call__(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.started:8.1f}s] {message}", flush=True)


def _env(workdir: Path, db: Path, landing: Path, seeds: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_SETTINGS}
    env.update({
        "TOKENSPEND_DUCKDB_PATH": str(db),
        "TOKENSPEND_LANDING_DIR": str(landing),
        "TOKENSPEND_SEEDS_DIR": str(seeds),
        "TOKENSPEND_EXPORT_DIR": str(db.parent / "exports"),
    })
    return env


def _size(folder: Path, suffix: str) -> int:
    return sum(p.stat().st_size for p in folder.rglob(f"*{suffix}"))


def _mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


def _line(m) -> str:
    return f"{m.label:<58} {m.wall_seconds:9.1f} {m.cpu_seconds:9.1f} {m.peak_mib:10,.0f}"


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
    logs = root / "logs"
    try:
        progress(f"generating {args.events:,} event lines, outcomes and seeds under {root}")
        layout, counts = organisation.generate(root, args.events)
        fmt = args.format
        landing, seeds = layout.landing(fmt), layout.seeds
        main_counts, extra_counts = counts["period"], counts["extra_day"]
        progress(f"generated {main_counts['lines']:,} lines ({main_counts['requests']:,} requests, "
                 f"{main_counts['tasks']:,} tasks) over {organisation.DAYS} days: "
                 f"JSONL {_mib(_size(layout.landing('jsonl') / 'events', '.jsonl'))}, "
                 f"Parquet {_mib(_size(layout.landing('parquet') / 'events', '.parquet'))}; "
                 f"one more day: {extra_counts['lines']:,} lines")

        db = root / "warehouse" / "tokenspend.duckdb"
        env = _env(root, db, landing, seeds)

        prepared = run_step("prepare: dbt manifest for the benchmark's seeds", "prepare", {}, env, logs)
        progress(f"definitions loaded and dbt manifest parsed for the benchmark's seeds "
                 f"({prepared.wall_seconds:.1f} s, not counted in the builds)")

        progress("(1) full build from an empty warehouse ...")
        full = run_step("(1) full build: load, dbt build with tests, asset checks", "build",
                        {"out": str(root / "full")}, env, logs)
        progress(f"(1) full build done: {full.wall_seconds:.1f} s, peak {full.peak_mib:,.0f} MiB")

        progress("(2) floor script ...")
        floor_db = root / "floor.duckdb"
        floor = run_step("(2) floor: one DuckDB SQL script", "floor",
                         {"landing": str(landing), "format": fmt, "seeds": str(seeds), "db": str(floor_db)}, env, logs)
        progress(f"(2) floor done: {floor.wall_seconds:.1f} s, peak {floor.peak_mib:,.0f} MiB")
        figures = _check(progress, "after the full build", db, floor_db)

        progress(f"(3) one more day lands ({organisation.EXTRA_DAY}); incremental build ...")
        for sub in ("events", "outcomes"):
            shutil.copytree(layout.extra_day(fmt) / sub, landing / sub, dirs_exist_ok=True)
        incremental = run_step("(3) one-day incremental build", "build", {"out": str(root / "incremental")}, env, logs)
        progress(f"(3) incremental build done: {incremental.wall_seconds:.1f} s, peak {incremental.peak_mib:,.0f} MiB")
        floor_db_after = root / "floor-after.duckdb"
        floor_after = run_step("    floor on the period plus that day", "floor",
                               {"landing": str(landing), "format": fmt, "seeds": str(seeds),
                                "db": str(floor_db_after)}, env, logs)
        _check(progress, "after the incremental build", db, floor_db_after)

        progress("(4) build with no events (fixed start-up) ...")
        empty_landing = root / "landing-empty"
        empty_landing.mkdir(exist_ok=True)
        empty_db = root / "warehouse-empty" / "tokenspend.duckdb"
        empty = run_step("(4) build with no events (start-up cost)", "build", {"out": str(root / "empty")},
                         _env(root, empty_db, empty_landing, seeds), logs)
        progress(f"(4) empty build done: {empty.wall_seconds:.1f} s, peak {empty.peak_mib:,.0f} MiB")

        loads = {}
        for load_fmt in ("jsonl", "parquet"):
            where = layout.landing(load_fmt)
            for step, label in (("reader", "DuckDB read_" + ("json" if load_fmt == "jsonl" else "parquet")),
                                ("load", "tokenspend load_new_files")):
                progress(f"event load alone, {load_fmt}: {label} ...")
                loads[(load_fmt, step)] = run_step(
                    f"    {load_fmt} {label}", step,
                    {"landing": str(where), "format": load_fmt, "db": str(root / f"load-{load_fmt}-{step}.duckdb")},
                    env, logs)
            ours, ref = loads[(load_fmt, "load")], loads[(load_fmt, "reader")]
            if ours.result["rows"] != ref.result["rows"] or ours.result["rejected"]:
                raise SystemExit(f"{load_fmt} load: tokenspend loaded {ours.result['rows']:,} rows "
                                 f"({ours.result['rejected']:,} rejected), DuckDB read {ref.result['rows']:,}")
    except TotalsDiffer as e:
        print(f"\nFAIL: {e}", file=sys.stderr)
        print(f"files kept under {root}", file=sys.stderr)
        return 1
    except BaseException:
        print(f"files kept under {root}", file=sys.stderr)
        raise

    _report(fmt, counts, {"full": full, "floor": floor, "incremental": incremental, "floor_after": floor_after,
                          "empty": empty}, loads, figures)
    if args.keep or args.workdir:
        print(f"\nfiles kept under {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 0


def _build_line(m) -> str:
    r = m.result
    dbt = r.get("dbt", {}).get("elapsed")
    return (f"  {m.label.split(':')[0]}: Python and definitions {r['definitions_seconds']:.1f} s, run "
            f"{r['run_seconds']:.1f} s (event load {r['steps'].get(EVENT_LOAD_STEP, 0):.1f} s, dbt build "
            f"{dbt or 0:.1f} s)")


def _report(fmt: str, counts: dict, runs: dict, loads: dict, figures: dict) -> None:
    from dagster_project.benchmark.totals import NO_TEAM, breakdown, untagged_share

    full, floor, incremental, empty = runs["full"], runs["floor"], runs["incremental"], runs["empty"]
    lines, extra = counts["period"]["lines"], counts["extra_day"]["lines"]
    memory = next((int(line.split()[1]) * 1024 for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0)
    print()
    print(f"tokenspend bench: {lines:,} event lines ({counts['period']['requests']:,} requests) over 30 days, "
          f"{fmt} files; this machine: {os.cpu_count()} cores, {memory / 2**30:.0f} GiB")
    print(f"{'step':<58} {'wall s':>9} {'cpu s':>9} {'peak MiB':>10}")
    for m in runs.values():
        print(_line(m))
    start_up = empty.wall_seconds
    print("ratios")
    print(f"  full build minus fixed start-up / floor:  {_ratio(full.wall_seconds - start_up, floor.wall_seconds)}")
    print(f"  full build / floor:                       {_ratio(full.wall_seconds, floor.wall_seconds)}")
    print(f"  peak memory, full build / floor:          {_ratio(full.peak_bytes, floor.peak_bytes)}")
    print(f"  one-day incremental / full build:         {_ratio(incremental.wall_seconds, full.wall_seconds)}"
          f"   (+{extra:,} lines, {extra / lines:.1%} of the period)")
    print(f"  full build on this machine: {lines / full.wall_seconds:,.0f} events/s; "
          f"floor: {lines / floor.wall_seconds:,.0f} events/s")

    print("where the time goes")
    for m in (full, incremental, empty):
        print(_build_line(m))
    result = full.result
    steps = sorted(result["steps"].items(), key=lambda kv: -kv[1])
    print(f"  full build: {result['assets']} assets and {result['checks']} asset checks in "
          f"{len(steps)} Dagster steps; slowest: " + ", ".join(f"{s} {t:.1f} s" for s, t in steps[:5]))
    event_load = result["steps"].get(EVENT_LOAD_STEP)
    if event_load:
        print(f"  event load ({EVENT_LOAD_STEP}): {event_load:.1f} s, {lines / event_load:,.0f} lines/s")
    others = [t for s, t in steps if s not in (EVENT_LOAD_STEP, DBT_STEP)]
    print(f"  every other step (outcome load, asset checks, alerts): {sum(others):.1f} s over {len(others)} steps")
    dbt = result.get("dbt")
    if dbt:
        kinds = ", ".join(f"{k} {v['count']} in {v['seconds']:.1f} s" for k, v in dbt["by_type"].items())
        print(f"  dbt build: {dbt['elapsed']:.1f} s elapsed; node time by type (2 threads): {kinds}")
        print("  slowest dbt nodes:")
        for node in dbt["slowest"]:
            print(f"    {node['seconds']:8.2f} s  {node['node']}")
        print(f"  (dbt's run_results.json: {dbt['run_results']})")
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


if __name__ == "__main__":
    sys.exit(main())
