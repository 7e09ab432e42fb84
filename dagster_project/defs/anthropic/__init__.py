"""Anthropic Admin API usage and cost reports."""
