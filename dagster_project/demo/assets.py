"""The demo organisation as an asset, upstream of every ingest asset.

With no admin key for a provider, that provider's ingest assets read this organisation through the
same HTTP paging and parsing code as real data. With keys for both providers it has nothing to do.
"""

import dagster as dg

from dagster_project import settings
from dagster_project.lib.provider_api import AnthropicAdminApi, OpenAIAdminApi
from dagster_project.lib.provider_assets import DEMO_ORG_KEY


@dg.asset(key=DEMO_ORG_KEY, group_name="demo", kinds={"duckdb"})
def demo_organisation(openai: OpenAIAdminApi, anthropic: AnthropicAdminApi) -> dg.MaterializeResult:
    """A deterministic demo organisation (60 days, both providers): provider usage and cost behind the
    demo API, and tagged event and outcome files in the landing folder. Size: TOKENSPEND_DEMO_SCALE."""
    from dagster_project.defs.demo.generator import generate_demo_org

    providers = [api.provider for api in (openai, anthropic) if not api.is_live()]
    if not providers:
        return dg.MaterializeResult(metadata={"mode": "live", "providers": "none (all live)"})
    org = generate_demo_org(settings.landing_dir(), scale=settings.demo_scale(), providers=providers)
    return dg.MaterializeResult(metadata={"mode": "demo", "providers": ", ".join(providers), "summary": str(org)})
