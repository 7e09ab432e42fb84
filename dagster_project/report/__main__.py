"""`python -m dagster_project.report [--demo] [--db PATH] [--out PATH]`: write the spend report.

By default it reads the deployment's published copy (what BI tools read; `--demo`: the demo deployment's)
and writes `spend_report.html` into its export folder. It prints the file's path and size.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dagster_project.report import REPORT_FILE, ReportInputError, write_report
from dagster_project.settings import command_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dagster_project.report",
                                     description="Write the spend report: one self-contained HTML file.")
    parser.add_argument("--demo", action="store_true",
                        help="the demo deployment (TOKENSPEND_DEMO_DIR, default warehouse/demo)")
    parser.add_argument("--db", type=Path,
                        help="the DuckDB file to read (default: the deployment's published copy)")
    parser.add_argument("--out", type=Path, help=f"the HTML file to write (default: <export folder>/{REPORT_FILE})")
    args = parser.parse_args(argv)
    config = command_settings(parser, args.demo)
    db = args.db or config.published_path
    out = args.out or config.export_dir / REPORT_FILE
    try:
        written = write_report(db, out)
    except ReportInputError as exc:
        print(f"tokenspend: {exc}", file=sys.stderr)
        return 1
    statuses = [f"{s.key} {s.status}" for s in written.report.sections if s.status != "ok"]
    print(f"Spend report: {written.path} ({written.bytes / 1e6:.1f} MB, {len(written.report.charts)} charts; "
          "open it in a browser, it needs no server or network)")
    print(f"  read {written.report.source}" + (f"; sections without content: {', '.join(statuses)}" if statuses else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
