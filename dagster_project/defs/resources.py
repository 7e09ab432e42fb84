"""Resources shared by the whole code location."""

import dagster as dg

from dagster_project.defs.dbt.project import dbt_resource
from dagster_project.lib.provider_api import AnthropicAdminApi, OpenAIAdminApi

defs = dg.Definitions(
    resources={
        "openai": OpenAIAdminApi(),
        "anthropic": AnthropicAdminApi(),
        "dbt": dbt_resource(),
    }
)
