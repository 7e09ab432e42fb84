"""Every dbt seed, model and test as Dagster assets and asset checks, grouped by dbt folder.

dbt sources named `raw.<table>` map onto the ingest assets' keys `raw/<table>`, so the lineage runs
from each provider endpoint and file source through staging and intermediate models to the marts.
"""


from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from dagster_project import settings
from dagster_project.defs.dbt.project import dbt_project, ensure_manifest


class TokenspendDbtTranslator(DagsterDbtTranslator):
    """Groups come from the dbt folder a node lives in (staging, intermediate, marts, seeds)."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "seeds"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else None


@dbt_assets(
    manifest=ensure_manifest(dbt_project),
    project=dbt_project,
    dagster_dbt_translator=TokenspendDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)),
)
def tokenspend_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """`dbt build` of the selected seeds and models, with their tests."""
    settings.export_dbt_env()
    yield from dbt.cli(["build"], context=context).stream()
