"""Anthropic ingest assets: one daily-partitioned asset per endpoint, all built by the same factory."""

from dagster_project.defs.anthropic.endpoints import CLAUDE_CODE_USAGE, COST_REPORT, MESSAGES_USAGE
from dagster_project.lib.provider_assets import provider_endpoint_asset

anthropic_usage_messages = provider_endpoint_asset(
    MESSAGES_USAGE,
    "anthropic",
    "Anthropic Messages usage per UTC day x API key x workspace x model x service tier x context window "
    "(GET /v1/organizations/usage_report/messages). Token classes are disjoint.",
)
anthropic_cost_report = provider_endpoint_asset(
    COST_REPORT,
    "anthropic",
    "Anthropic billed cost per UTC day x workspace x description, amount in cents as sent "
    "(GET /v1/organizations/cost_report).",
)
anthropic_claude_code_usage = provider_endpoint_asset(
    CLAUDE_CODE_USAGE,
    "anthropic",
    "Claude Code per-user usage and estimated cost per UTC day x actor x model "
    "(GET /v1/organizations/usage_report/claude_code), for per-seat employee tooling.",
)
