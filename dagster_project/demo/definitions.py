"""What demo mode adds to the code location: the demo organisation's asset and the provider resources
that read it. `dagster_project/definitions.py` merges these in when TOKENSPEND_MODE=demo."""

import dagster as dg

from dagster_project.demo.assets import demo_organisation
from dagster_project.demo.resources import DemoAnthropicAdminApi, DemoOpenAIAdminApi


def demo_definitions() -> dg.Definitions:
    return dg.Definitions(
        assets=[demo_organisation],
        resources={"openai": DemoOpenAIAdminApi(), "anthropic": DemoAnthropicAdminApi()},
    )
