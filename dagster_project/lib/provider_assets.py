"""The Dagster asset every provider endpoint gets: daily partitions, single-run backfills, one loader.

A run covers its partitions' time window plus a trailing re-fetch (`TOKENSPEND_REFETCH_DAYS`, default
3), because providers revise recent buckets; the loader replaces the whole fetched window, so the
overlap is rewritten, not duplicated.

The client is built first: in live mode a provider whose admin key is not set fails the run there,
naming the variable, before the landing folder or the warehouse file is touched.
"""


import datetime as dt

import dagster as dg

from dagster_project.lib.deployment import landing_folder, open_warehouse
from dagster_project.lib.provider_api import AdminKeyMissing
from dagster_project.lib.provider_ingest import Endpoint, land_window
from dagster_project.settings import current_settings

DAILY = dg.DailyPartitionsDefinition(start_date=current_settings().start_date.isoformat(), timezone="UTC")


def fetch_window(partition_start: dt.datetime, partition_end: dt.datetime, refetch_days: int) -> tuple[dt.date, dt.date]:
    """The dates a run fetches: its partitions, plus `refetch_days` before them."""
    return partition_start.date() - dt.timedelta(days=refetch_days), partition_end.date()


def provider_endpoint_asset(endpoint: Endpoint, resource_key: str, description: str) -> dg.AssetsDefinition:
    """Build the ingest asset `raw/<table>` for one provider endpoint."""

    @dg.asset(
        key=["raw", endpoint.table],
        group_name=f"ingest_{endpoint.provider}",
        partitions_def=DAILY,
        backfill_policy=dg.BackfillPolicy.single_run(),
        required_resource_keys={resource_key},
        kinds={endpoint.provider, "duckdb"},
        description=description,
        metadata={"endpoint": f"GET {endpoint.path}", "raw_table": f"raw.{endpoint.table}"},
    )
    def _ingest(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        config = current_settings()
        api = getattr(context.resources, resource_key)
        try:
            client = api.client()
        except AdminKeyMissing as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from None
        window = context.partition_time_window
        start, end = fetch_window(window.start, window.end, config.refetch_days)
        landing = landing_folder(config)
        with open_warehouse(config) as con:
            result = land_window(client, endpoint, start, end, landing, con)
        context.log.info(
            f"{endpoint.provider} {endpoint.path} ({config.mode}): {start}..{end} landed "
            f"{result.pages} page(s) (HTTP requests) from {result.queries} paged query(ies), {result.rows} row(s)"
        )
        return dg.MaterializeResult(
            metadata={
                "mode": config.mode,
                "window_start": str(start),
                "window_end": str(end),
                "pages": result.pages,
                "http_requests": result.pages,
                "rows": result.rows,
                "landed_folder": str(result.folder),
            }
        )

    return _ingest
