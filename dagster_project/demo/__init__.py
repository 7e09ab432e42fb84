"""The built-in demo organisation: a deterministic company whose LLM traffic, provider usage and
provider bills tokenspend ingests when no provider key is configured.

`generator` builds the organisation's files under the landing directory; `provider` answers the
OpenAI and Anthropic admin API requests from them, so the demo travels through the same HTTP paging
and parsing code as real data. Neither defines Dagster objects, and both import DuckDB only when
called, so autoloading this package stays cheap.
"""
