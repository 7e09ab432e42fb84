"""`make bench`: event-load throughput and memory, as ratios against plain DuckDB on the same file.

Each measurement runs in a fresh subprocess (so peak memory is its own) on the same generated file of
event-log lines. The reference is DuckDB's own `read_json` into a table: the floor for reading the
file. tokenspend's load adds line numbering, validation with reasons, rejects and the per-file
transaction; the ratio says what that costs. Absolute events per second are printed for the record,
but only the ratios are comparable between machines.
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


def _measure(mode: str, path: Path, db: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "dagster_project.bench", "--child", mode, str(path), str(db)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=int(os.environ.get("TOKENSPEND_BENCH_EVENTS", 1_000_000)))
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
