"""Every dbt seed, model and test as Dagster assets and asset checks, grouped by dbt folder.

dbt sources named `raw.<table>` map onto the ingest assets' keys `raw/<table>`, so the lineage runs
from each provider endpoint and file source through staging and intermediate models to the marts.
Loading this module reads the prepared manifest (`project.py`); it runs dbt only under `dagster dev`.
"""


from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from dagster_project.defs.dbt.project import dbt_project, manifest_path, prepare_if_dev
from dagster_project.lib.deployment import open_warehouse


class TokenspendDbtTranslator(DagsterDbtTranslator):
    """Groups come from the dbt folder a node lives in (staging, intermediate, marts, seeds)."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "seeds"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else None


prepare_if_dev()  # under `dagster dev` only; otherwise the manifest was prepared beforehand


@dbt_assets(
    manifest=manifest_path(),
    project=dbt_project,
    dagster_dbt_translator=TokenspendDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)),
)
def tokenspend_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """`dbt build` of the selected seeds and models, with their tests, on this mode's warehouse file."""
    with open_warehouse():  # refuses the other mode's file (and records the mode) before dbt opens it
        pass
    # unit tests check the models' logic on fixed rows, not the data: the test suite runs them
    yield from dbt.cli(["build", "--exclude-resource-type", "unit_test"], context=context).stream()
