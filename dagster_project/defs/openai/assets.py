"""OpenAI ingest assets: one daily-partitioned asset per endpoint, all built by the same factory."""

from dagster_project.defs.openai.endpoints import COMPLETIONS, COSTS, EMBEDDINGS
from dagster_project.lib.provider_assets import provider_endpoint_asset

openai_usage_completions = provider_endpoint_asset(
    COMPLETIONS,
    "openai",
    "OpenAI completions usage per UTC day x project x API key x model x batch x service tier "
    "(GET /v1/organization/usage/completions). One row per bucket result; input_tokens includes cached.",
)
openai_costs = provider_endpoint_asset(
    COSTS,
    "openai",
    "OpenAI billed cost per UTC day x project x line item, in dollars (GET /v1/organization/costs).",
)
openai_usage_embeddings = provider_endpoint_asset(
    EMBEDDINGS,
    "openai",
    "OpenAI embeddings usage per UTC day x project x API key x model (GET /v1/organization/usage/embeddings).",
)
