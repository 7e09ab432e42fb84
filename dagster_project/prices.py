"""`python -m dagster_project.prices [--demo]` (`make prices`, `make demo-prices`): propose price-book rows.

Reads every model id the deployment's warehouse has seen (provider usage, request events, cost lines;
`intermediate.int_models_resolved`, so build once first), asks the price database bundled in the
installed `genai-prices` package for their prices, and writes them in the price book's format to
`price_book_generated.csv` in the deployment's seeds folder (`TOKENSPEND_SEEDS_DIR`; the demo: the
repository's `seeds/`). `price_book.csv` is never written: a model id one of its patterns matches keeps
its hand-written rows (negotiated prices win). The next build prices the rest and re-prices history.

No network: the database ships inside the package; `pip install --upgrade genai-prices` (then `make
lock`) is how prices are updated. The asset `prices/price_book_generated` does the same from Dagster.
Exit status: 0 written, 2 when the settings, the warehouse or `price_book.csv` cannot be read.
"""

from __future__ import annotations

import argparse
import sys

from dagster_project.lib.deployment import WrongDeployment, open_warehouse
from dagster_project.lib.price_database import PriceBookError, ensure_generated_file, refresh, report
from dagster_project.settings import SettingsError, command_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tokenspend-prices", description=__doc__.splitlines()[0])
    parser.add_argument("--demo", action="store_true", help="the demo deployment (its warehouse, the repository's seeds)")
    args = parser.parse_args(argv)
    config = command_settings(parser, args.demo)
    try:
        if ensure_generated_file(config.seeds_dir):
            print(f"Wrote {config.seeds_dir / 'price_book_generated.csv'} with no rows yet (the seed dbt needs).")
        if not config.duckdb_path.exists():
            raise PriceBookError(f"no warehouse at {config.duckdb_path}: build it first (`make run` for the demo, "
                                 "`python -m dagster_project.cli run` for live data), then run `make prices`")
        with open_warehouse(config, read_only=True) as con:
            proposal, diff = refresh(con, config.seeds_dir)
    except (SettingsError, WrongDeployment, PriceBookError) as exc:
        print(f"tokenspend prices: {exc}", file=sys.stderr)
        return 2
    print(report(proposal, diff, config.seeds_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
