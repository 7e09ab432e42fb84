"""The tokenspend code location: everything under `defs/`, loaded automatically, plus the mode's wiring.

Live mode (the default) adds the provider resources that fetch with the organisation's admin keys.
Demo mode (`TOKENSPEND_MODE=demo`) adds the demo organisation's asset and provider resources that read
it instead (`dagster_project/demo/`); nothing under `defs/` knows the demo.

Project-wide policy lives here, not asset lists: assets run in one process, one after the other,
because DuckDB allows one writer per warehouse file. Loading reads and validates the settings and
prepares nothing: the dbt manifest is parsed beforehand (`defs/dbt/project.py`).
"""

from pathlib import Path

import dagster as dg

from dagster_project.lib.provider_api import AnthropicAdminApi, OpenAIAdminApi
from dagster_project.settings import current_settings


def mode_definitions(mode: str) -> dg.Definitions:
    """The definitions that differ between live and demo mode."""
    if mode == "demo":
        from dagster_project.demo.definitions import demo_definitions

        return demo_definitions()
    return dg.Definitions(resources={"openai": OpenAIAdminApi(), "anthropic": AnthropicAdminApi()})


@dg.definitions
def defs() -> dg.Definitions:
    config = current_settings()
    loaded = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    return dg.Definitions.merge(loaded, mode_definitions(config.mode), dg.Definitions(executor=dg.in_process_executor))
