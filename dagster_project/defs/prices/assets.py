"""`prices/price_book_generated`: the price database's rows for every model the warehouse has seen.

The asset is `make prices` in Dagster (`lib/price_database.py`): it reads the model ids of
`intermediate/int_models_resolved`, writes `price_book_generated.csv` into the deployment's seeds folder
and records what changed. The next warehouse build loads it (seed `price_book_generated`) and prices
the models `price_book.csv` does not.

It is off by default. Its schedule `price_book_refresh_weekly` starts stopped; turn it on to keep the
book current by itself (each run's diff is in the materialisation's metadata). Builds never run it
(`warehouse_build` and `make run` leave group `prices` out), so a build never rewrites the book it
prices with unasked.
"""

import dagster as dg

from dagster_project.lib.deployment import open_warehouse
from dagster_project.lib.price_database import GENERATED_SEED, refresh, report
from dagster_project.settings import current_settings

PRICES_KEY = dg.AssetKey(["prices", GENERATED_SEED])
MODELS_KEY = dg.AssetKey(["intermediate", "int_models_resolved"])
JOB_NAME = "price_book_refresh"


@dg.asset(
    key=PRICES_KEY,
    group_name="prices",
    deps=[MODELS_KEY],
    kinds={"csv"},
    description="The price database's price-book rows (genai-prices, bundled in the package) for every model "
    "id the warehouse has seen, written to price_book_generated.csv in the seeds folder (`make prices`).",
)
def price_book_generated(context: dg.AssetExecutionContext):
    config = current_settings()
    with open_warehouse(config, read_only=True) as con:
        proposal, diff = refresh(con, config.seeds_dir)
    text = report(proposal, diff, config.seeds_dir)
    context.log.info(text)
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(config.seeds_dir / f"{GENERATED_SEED}.csv")),
        "price_database": proposal.version,
        "rows": dg.MetadataValue.int(len(proposal.rows)),
        "rows_added": dg.MetadataValue.int(len(diff.added)),
        "rows_removed": dg.MetadataValue.int(len(diff.removed)),
        "models_seen": dg.MetadataValue.int(len(proposal.models)),
        "models_priced_from_database": dg.MetadataValue.json(
            [f"{m.provider} {m.model_id}" for m in proposal.newly_priced()]),
        "models_unknown_to_database": dg.MetadataValue.json(
            [f"{m.provider} {m.model_id}" for m in proposal.unknown()]),
        "report": dg.MetadataValue.md("```\n" + text + "\n```"),
    })


price_book_refresh = dg.define_asset_job(JOB_NAME, selection=[PRICES_KEY])

price_book_refresh_weekly = dg.ScheduleDefinition(
    name="price_book_refresh_weekly",
    job=price_book_refresh,
    cron_schedule="0 4 * * 1",  # Mondays 04:00 UTC, after the night's build
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Rewrites price_book_generated.csv from the price database; off until turned on.",
)
