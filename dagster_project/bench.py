"""`make bench`: load throughput and warehouse build cost, as ratios against references from the same run.

Each measurement runs in a fresh subprocess (so peak memory is its own) on the same generated file of
event-log lines. The reference is DuckDB's own `read_json` into a table: the floor for reading the
file. tokenspend's load adds line numbering, validation with reasons, rejects and the per-file
transaction; the ratio says what that costs. Absolute events per second are printed for the record,
but only the ratios are comparable between machines.

The second measurement builds the whole demo warehouse at scale 1 (the reference) and at a larger
scale, and reports how time and memory grow against volume: a time-per-event ratio near or below 1
means the build scales linearly (fixed costs such as dbt start-up make it fall below 1).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GENERATE = """
copy (
    select
        'req-' || i as request_id,
        strftime(timestamp '2026-09-01' + to_seconds(i % 5184000), '%Y-%m-%dT%H:%M:%SZ') as occurred_at,
        case when i % 3 = 0 then 'anthropic' else 'openai' end as provider,
        case when i % 3 = 0 then 'claude-sonnet-4-5-20250929' else 'gpt-4.1-mini-2025-04-14' end as model,
        'key_' || (i % 40) as api_key_id,
        'proj_' || (i % 7) as project_id,
        (hash(i) % 4000)::bigint as uncached_input_tokens,
        (hash(i + 1) % 2000)::bigint as cache_read_input_tokens,
        (hash(i + 2) % 300)::bigint as cache_write_input_tokens,
        (hash(i + 3) % 800)::bigint as output_tokens,
        i % 17 = 0 as batch,
        'default' as service_tier,
        case when i % 5 <> 0 then 'feature-' || (i % 4) end as feature,
        case when i % 2 = 0 then 'workflow-' || (i % 4) end as workflow,
        case when i % 2 = 0 then 'task-' || (i // 3) end as task_id,
        'team-' || (i % 5) as team,
        'emp-' || (i % 40) as employee_id
    from range({n}) t(i)
) to '{path}' (format json)
"""


def _child_warehouse(scale: str, root: str) -> None:
    """Build the whole demo warehouse at `scale` under `root`; print time, peak memory and volume."""
    os.environ.update({
        "TOKENSPEND_DEMO_SCALE": scale,
        "TOKENSPEND_DUCKDB_PATH": str(Path(root) / "tokenspend.duckdb"),
        "TOKENSPEND_LANDING_DIR": str(Path(root) / "landing"),
    })
    for var in ("OPENAI_ADMIN_KEY", "ANTHROPIC_ADMIN_KEY", "DAGSTER_HOME"):
        os.environ.pop(var, None)
    import contextlib

    import dagster as dg
    import duckdb

    from dagster_project.cli import materialize_all

    started = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):
        materialize_all(instance=dg.DagsterInstance.ephemeral())
    elapsed = time.perf_counter() - started
    con = duckdb.connect(os.environ["TOKENSPEND_DUCKDB_PATH"], read_only=True)
    rows = con.execute("select count(*) from raw.request_events").fetchone()[0]
    con.close()
    peak_kib = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(json.dumps({"mode": f"scale {scale}", "rows": rows, "seconds": elapsed, "peak_mib": peak_kib / 1024}))


def _child(mode: str, path: str, db: str) -> None:
    import duckdb

    from dagster_project.defs.events.sources import EVENT_FILES
    from dagster_project.lib.file_ingest import load_new_files
    from dagster_project.lib.warehouse import connect

    started = time.perf_counter()
    if mode == "reference":
        con = duckdb.connect(db)
        con.execute(f"create table events as select * from read_json('{path}', format = 'newline_delimited')")
        rows = con.execute("select count(*) from events").fetchone()[0]
        con.close()
    else:
        landing = Path(path).parent.parent
        with connect(db) as con:
            summary = load_new_files(con, EVENT_FILES, landing)
            rows = summary.rows_loaded
    elapsed = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"mode": mode, "rows": rows, "seconds": elapsed, "peak_mib": peak_kib / 1024}))


def _measure(mode: str, path: Path | str, db: Path | str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "dagster_project.bench", "--child", mode, str(path), str(db)],
        capture_output=True, text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"benchmark step {mode} {path} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=int(os.environ.get("TOKENSPEND_BENCH_EVENTS", 1_000_000)))
    parser.add_argument("--warehouse-scale", type=float, default=float(os.environ.get("TOKENSPEND_BENCH_SCALE", 4)),
                        help="also build the whole demo warehouse at scale 1 and at this scale (0 to skip)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        if args.child[0] == "warehouse":
            _child_warehouse(args.child[1], args.child[2])
        else:
            _child(*args.child)
        return 0

    import duckdb

    with tempfile.TemporaryDirectory(prefix="tokenspend-bench-") as tmp:
        events = Path(tmp) / "landing" / "events"
        events.mkdir(parents=True)
        path = events / "bench.jsonl"
        duckdb.connect().execute(GENERATE.format(n=args.events, path=path))
        size_mib = path.stat().st_size / 2**20
        ref = _measure("reference", path, Path(tmp) / "reference.duckdb")
        ours = _measure("tokenspend", path, Path(tmp) / "tokenspend.duckdb")
    if ours["rows"] != args.events or ref["rows"] != args.events:
        raise SystemExit(f"row counts differ: reference {ref['rows']}, tokenspend {ours['rows']}, expected {args.events}")
    print(f"event-log load, {args.events:,} events ({size_mib:,.0f} MiB JSONL)")
    print(f"  reference (DuckDB read_json into a table): {ref['seconds']:.2f} s, peak {ref['peak_mib']:,.0f} MiB")
    print(f"  tokenspend (validated, rejects, atomic):   {ours['seconds']:.2f} s, peak {ours['peak_mib']:,.0f} MiB")
    print(f"  time ratio   tokenspend / reference: {ours['seconds'] / ref['seconds']:.2f}")
    print(f"  memory ratio tokenspend / reference: {ours['peak_mib'] / ref['peak_mib']:.2f}")
    print(f"  throughput on this machine: {args.events / ours['seconds']:,.0f} events/s")
    if args.warehouse_scale:
        _bench_warehouse(args.warehouse_scale)
    return 0


def _bench_warehouse(scale: float) -> None:
    """Whole pipeline at scale 1 (the reference) and at `scale`: does time grow no faster than volume?"""
    with tempfile.TemporaryDirectory(prefix="tokenspend-bench-") as tmp:
        ref = _measure("warehouse", "1", Path(tmp) / "s1")
        big = _measure("warehouse", str(scale), Path(tmp) / "sN")
    volume = big["rows"] / ref["rows"]
    print(f"whole warehouse build (demo, make run's three runs), scale 1 vs scale {scale:g}")
    print(f"  scale 1:      {ref['rows']:,} events, {ref['seconds']:.1f} s, peak {ref['peak_mib']:,.0f} MiB")
    print(f"  scale {scale:<6g}  {big['rows']:,} events, {big['seconds']:.1f} s, peak {big['peak_mib']:,.0f} MiB")
    print(f"  volume ratio {volume:.2f}; time ratio {big['seconds'] / ref['seconds']:.2f}; "
          f"memory ratio {big['peak_mib'] / ref['peak_mib']:.2f}")
    print(f"  time per event, scale {scale:g} / scale 1: {(big['seconds'] / big['rows']) / (ref['seconds'] / ref['rows']):.2f}")


if __name__ == "__main__":
    sys.exit(main())
