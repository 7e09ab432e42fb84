"""`python -m dagster_project.export [--demo]`: the marts and the FOCUS export as CSV and Parquet files.

`make export` runs it on the demo. The files go to the deployment's exports folder.

Writes every table of schema `marts` to `<exports>/marts/<table>.csv` and `.parquet`, and the FinOps FOCUS
cost and usage dataset to `<exports>/focus/focus_cost_and_usage.csv` and `.parquet` (`files.py`). The
exports folder is `TOKENSPEND_EXPORT_DIR` (default `exports/` beside the warehouse file; the demo's:
`warehouse/demo/exports`).

It reads the warehouse file through one read-only connection, held only while the tables are copied to
Parquet (it prints how long; the CSV files are then written from the Parquet files), and waits a few
seconds for another process's short hold to end; while a build holds the file it fails, saying so, and
leaves the previous files as they were. Exit status: 0 written, 2 when
the settings or the warehouse do not allow it.
"""

from __future__ import annotations

import argparse
import sys

import duckdb

from dagster_project.export.files import ExportError, export_files
from dagster_project.lib.deployment import WrongDeployment, open_warehouse
from dagster_project.lib.warehouse import is_lock_conflict
from dagster_project.settings import SettingsError, command_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tokenspend-export", description=__doc__.splitlines()[0])
    parser.add_argument("--demo", action="store_true", help="the demo deployment (warehouse/demo)")
    args = parser.parse_args(argv)
    config = command_settings(parser, args.demo)
    try:
        if not config.duckdb_path.exists():
            raise ExportError(f"no warehouse at {config.duckdb_path}: build it first (`make run` for the demo, "
                              "`python -m dagster_project.cli run` for live data)")
        result = export_files(lambda: open_warehouse(config, read_only=True), config.export_dir)
    except duckdb.IOException as exc:
        if not is_lock_conflict(exc):
            raise
        print(f"tokenspend export: {config.duckdb_path} is held by another process (a build?); nothing was "
              "written, the previous files stay. Run `make export` again when it has finished.", file=sys.stderr)
        return 2
    except (SettingsError, WrongDeployment, ExportError) as exc:
        print(f"tokenspend export: {exc}", file=sys.stderr)
        return 2
    print(f"Exported {len(result.tables)} table(s) to {config.export_dir} as CSV and Parquet "
          f"(the warehouse was read for {result.held_seconds:.1f} s):")
    for table in result.tables:
        names = ", ".join(str(p.relative_to(config.export_dir)) for p in table.paths)
        print(f"  {table.relation}: {table.rows:,} rows -> {names}")
    for path in result.removed:
        print(f"  removed {path.relative_to(config.export_dir)} (no such mart any more)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
