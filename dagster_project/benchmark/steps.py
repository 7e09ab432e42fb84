"""What each measured subprocess does: `python -m dagster_project.benchmark.steps <step> '<json args>'`.

Each step prints one JSON line (its result) as the last line of stdout; logs go to stderr. The warehouse
file, landing folder and seeds folder of a build come from the environment the parent sets
(TOKENSPEND_DUCKDB_PATH, TOKENSPEND_LANDING_DIR, TOKENSPEND_SEEDS_DIR), as for any tokenspend run.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import time
import uuid
from pathlib import Path

SLOWEST_DBT_NODES = 12
PROGRESS_HEARTBEAT_SECONDS = 30.0


def build_selection(defs) -> list:
    """Every asset the code location can materialise but the demo organisation, the partitioned provider
    ingest (no provider keys here) and the price book's refresh (group prices: it rewrites a seed, which
    `make run` and the scheduled builds never do): the event and outcome loads, every dbt seed and model
    with their tests, the alerts, the published copy, the exports, and every asset check on them."""
    graph = defs.resolve_asset_graph()
    return sorted((k for k in graph.get_all_asset_keys()
                   if graph.get(k).is_executable and not graph.get(k).is_partitioned
                   and graph.get(k).group_name not in ("demo", "prices")), key=str)


def _step_seconds(instance, run_id: str) -> tuple[dict[str, float], dict[str, str]]:
    """Seconds per Dagster step, and what each step did: `asset` (materialised at least one asset) or
    `check` (only evaluated asset checks), from the run's event log."""
    started: dict[str, float] = {}
    seconds: dict[str, float] = {}
    kinds: dict[str, str] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or not event.step_key:
            continue
        key, kind = event.step_key, event.event_type_value
        if kind == "STEP_START":
            started[key] = entry.timestamp
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and key in started:
            seconds[key] = entry.timestamp - started[key]
        elif kind == "ASSET_MATERIALIZATION":
            kinds[key] = "asset"
        elif kind == "ASSET_CHECK_EVALUATION":
            kinds.setdefault(key, "check")
    return seconds, kinds


def _dbt_summary(run_results: Path) -> dict:
    """dbt's own timings: elapsed, time per resource type, the slowest nodes."""
    data = json.loads(run_results.read_text())
    nodes = []
    by_type: dict[str, list[float]] = {}
    for r in data["results"]:
        kind = r["unique_id"].split(".")[0]
        by_type.setdefault(kind, []).append(r.get("execution_time") or 0.0)
        nodes.append({"node": r["unique_id"], "kind": kind, "status": r["status"],
                      "seconds": r.get("execution_time") or 0.0})
    nodes.sort(key=lambda n: -n["seconds"])
    return {
        "elapsed": data.get("elapsed_time"),
        "by_type": {k: {"count": len(v), "seconds": sum(v)} for k, v in sorted(by_type.items())},
        "slowest": nodes[:SLOWEST_DBT_NODES],
        "not_passed": [n for n in nodes if n["status"] not in ("success", "pass")],
    }


def build(args: dict) -> dict:
    """tokenspend's whole build: one Dagster run of `build_selection`, as `make run`'s last run does."""
    started = time.perf_counter()
    import dagster as dg

    from dagster_project import settings
    from dagster_project.cli import load_definitions
    from dagster_project.defs.dbt.project import prepare_manifest

    prepare_manifest()  # as the CLI does before a run: a no-op when the manifest is current
    defs = load_definitions()
    job = defs.resolve_implicit_global_asset_job_def()
    selection = build_selection(defs)
    loaded = time.perf_counter()
    instance = dg.DagsterInstance.ephemeral()
    run_id = str(uuid.uuid4())
    with contextlib.ExitStack() as stack:
        stack.enter_context(contextlib.redirect_stdout(sys.stderr))
        if args.get("progress"):  # one line per Dagster step of a second or more, for the parent to echo
            from dagster_project.cli import RunProgress

            out = stack.enter_context(open(args["progress"], "a", buffering=1, encoding="utf-8"))
            progress = stack.enter_context(RunProgress(out, heartbeat=PROGRESS_HEARTBEAT_SECONDS, min_seconds=1.0))
            instance.add_event_listener(run_id, progress)
        result = job.execute_in_process(
            instance=instance,
            asset_selection=selection,
            run_id=run_id,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            raise_on_error=False,
        )
    finished = time.perf_counter()

    checks = list(result.get_asset_check_evaluations())
    failed_checks = sorted(f"{c.asset_check_key.asset_key.to_user_string()}:{c.check_name} ({c.severity.value})"
                           for c in checks if not c.passed)
    steps, kinds = _step_seconds(instance, result.run_id)
    out = {
        "seconds": finished - started,
        "definitions_seconds": loaded - started,
        "run_seconds": finished - loaded,
        "assets": len(selection),
        "steps": steps,
        "step_kinds": kinds,
        "checks": len(checks),
        "failed_checks": failed_checks,
    }
    # dagster-dbt runs dbt in a per-run target folder named after the dbt op and the run id
    target = settings.DBT_PROJECT_DIR / "target"
    found = sorted(target.glob(f"*-{result.run_id[:7]}-*/run_results.json"))
    if found:
        kept = Path(args["out"]) / "run_results.json"
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(found[-1], kept)
        out["dbt"] = _dbt_summary(kept)
        out["dbt"]["run_results"] = str(kept)
        for f in found:
            shutil.rmtree(f.parent, ignore_errors=True)
    if not result.success:
        failed = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        print(f"the build failed in step(s) {failed}", file=sys.stderr)
        for node in out.get("dbt", {}).get("not_passed", []):
            print(f"  dbt {node['status']}: {node['node']}", file=sys.stderr)
        raise SystemExit(1)
    from dagster_project.lib.warehouse import connect

    with connect(settings.current_settings().duckdb_path, read_only=True) as con:
        out["raw_request_events"] = con.execute("select count(*) from raw.request_events").fetchone()[0]
    return out


def floor(args: dict) -> dict:
    """The hand-written script on the same files, into its own DuckDB file."""
    import duckdb

    from dagster_project.benchmark.floor import events_reader, floor_sql

    started = time.perf_counter()
    con = duckdb.connect(args["db"])
    con.execute(floor_sql(events_reader(Path(args["landing"]), args["format"]), Path(args["seeds"])))
    rows = con.execute("select count(*) from fact").fetchone()[0]
    con.close()
    return {"seconds": time.perf_counter() - started, "fact_rows": rows}


def load(args: dict) -> dict:
    """tokenspend's event-file load alone (`load_new_files`) into an empty warehouse."""
    from dagster_project.defs.events.sources import EVENT_FILES
    from dagster_project.lib.file_ingest import load_new_files
    from dagster_project.lib.warehouse import connect

    with connect(args["db"]) as con:
        started = time.perf_counter()
        summary = load_new_files(con, EVENT_FILES, Path(args["landing"]))
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": summary.rows_loaded, "rejected": summary.rows_rejected,
            "files": summary.files_loaded}


def reader(args: dict) -> dict:
    """The reader floor: DuckDB's plain read_json / read_parquet of the same files into a table."""
    import duckdb

    landing = Path(args["landing"])
    if args["format"] == "jsonl":
        source = f"read_json('{landing}/events/**/*.jsonl', format = 'newline_delimited', hive_partitioning = false)"
    else:
        source = f"read_parquet('{landing}/events/**/*.parquet', hive_partitioning = false)"
    con = duckdb.connect(args["db"])
    started = time.perf_counter()
    con.execute(f"create table events as select * from {source}")
    seconds = time.perf_counter() - started
    rows = con.execute("select count(*) from events").fetchone()[0]
    con.close()
    return {"seconds": seconds, "rows": rows}


def prepare(args: dict) -> dict:
    """Load the definitions once, so the dbt manifest is parsed for the benchmark's seeds folder before
    anything is timed (a deployment parses it once, not per run)."""
    started = time.perf_counter()
    from dagster_project.cli import load_definitions
    from dagster_project.defs.dbt.project import prepare_manifest

    prepare_manifest()
    load_definitions()
    return {"seconds": time.perf_counter() - started}


STEPS = {"prepare": prepare, "build": build, "floor": floor, "load": load, "reader": reader}


def own_peak_bytes() -> int:
    """This process's own peak resident memory since it started (VmHWM; unlike getrusage's maxrss it
    does not count the parent's memory at fork)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def main(argv: list[str]) -> int:
    step, args = argv[0], json.loads(argv[1])
    result = STEPS[step](args)
    result["own_peak_bytes"] = own_peak_bytes()
    print(json.dumps(result, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
