"""The provider admin APIs as Dagster resources: each talks to its provider with the organisation's key.

Each provider resource reads its admin key from the environment variable it names, at the moment it
builds a client, and puts it only into request headers: the key is never a config value, so it never
appears in run metadata, logs or the UI. A client built without its key raises `AdminKeyMissing`
naming the variable; there is no fallback. Another transport (the demo organisation's, in
`dagster_project/demo/`) is plugged in by a subclass that overrides `connection`, so every source of
pages goes through the same paging and parsing code.

Base URLs are read the way the providers' SDKs read them: `ANTHROPIC_BASE_URL` is usually set without
`/v1` (`https://api.anthropic.com`) and `OPENAI_BASE_URL` with it (`https://api.openai.com/v1`). Both
forms are accepted for both providers: a trailing slash is dropped and `/v1` is added when missing.
"""

from __future__ import annotations

import os
import urllib.parse

import dagster as dg
import requests

from dagster_project.lib.http import PagedApi, RetryPolicy, retrying_session

USER_AGENT = "tokenspend/0.1"


class AdminKeyMissing(ValueError):
    """A provider's admin key variable is not set; the message names the variable, never a value."""

    def __init__(self, provider: str, key_env_var: str):
        super().__init__(
            f"{key_env_var} is not set: the {provider} ingest fetches the organisation's usage and cost with its "
            f"admin key and never falls back to the demo. Set {key_env_var}, leave {provider} out of "
            "TOKENSPEND_PROVIDERS, or run the demo (TOKENSPEND_MODE=demo, `make run`)"
        )
        self.provider = provider
        self.key_env_var = key_env_var


def api_base_url(value: str, env_var: str) -> str:
    """The API root that endpoint paths are appended to, from a base URL in either SDK form.

    `https://api.anthropic.com`, `https://api.anthropic.com/` and `https://api.anthropic.com/v1/` all
    give `https://api.anthropic.com/v1`; a proxy prefix is kept (`https://proxy.example/anthropic` gives
    `https://proxy.example/anthropic/v1`). Raises ValueError naming `env_var` (not the value, which may
    carry credentials) when it is not an http(s) URL without a query or fragment.
    """
    parts = urllib.parse.urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(
            f"{env_var} must be an http(s) base URL without a query string, "
            "e.g. https://api.openai.com/v1 or https://api.anthropic.com"
        )
    path = parts.path.rstrip("/")
    if not path.endswith("/v1"):
        path += "/v1"
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


class ProviderAdminApi(dg.ConfigurableResource):
    """An organisation admin API. Subclasses fix the provider, its variables and its auth header."""

    provider: str
    key_env_var: str
    base_url_env_var: str
    default_base_url: str
    # retries (lib/http.py RetryPolicy): tries per request, first backoff, longest wait, per-try timeout
    max_attempts: int = 6
    backoff_seconds: float = 1.0
    max_wait_seconds: float = 60.0
    timeout_seconds: float = 60.0

    def has_key(self) -> bool:
        """True when the admin key's environment variable is set and not empty (the key is not read)."""
        return bool(os.environ.get(self.key_env_var))

    def auth_headers(self, key: str) -> dict[str, str]:
        raise NotImplementedError

    def connection(self, session: requests.Session) -> tuple[str, dict[str, str]]:
        """The API root and request headers of a client; may mount a transport on `session`.

        Reads the admin key now; raises AdminKeyMissing when its variable is not set.
        """
        key = os.environ.get(self.key_env_var)
        if not key:
            raise AdminKeyMissing(self.provider, self.key_env_var)
        base_url = api_base_url(os.environ.get(self.base_url_env_var) or self.default_base_url, self.base_url_env_var)
        return base_url, {"User-Agent": USER_AGENT, **self.auth_headers(key)}

    def client(self) -> PagedApi:
        """A paging client with the retry policy above; raises AdminKeyMissing without the key."""
        policy = RetryPolicy(
            max_attempts=self.max_attempts,
            backoff_seconds=self.backoff_seconds,
            max_wait_seconds=self.max_wait_seconds,
            timeout_seconds=self.timeout_seconds,
        )
        session = retrying_session(policy)
        base_url, headers = self.connection(session)
        return PagedApi(base_url, headers, self.key_env_var, policy, session)


class OpenAIAdminApi(ProviderAdminApi):
    """OpenAI organisation usage and costs (`Authorization: Bearer $OPENAI_ADMIN_KEY`)."""

    provider: str = "openai"
    key_env_var: str = "OPENAI_ADMIN_KEY"
    base_url_env_var: str = "OPENAI_BASE_URL"
    default_base_url: str = "https://api.openai.com/v1"

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}


class AnthropicAdminApi(ProviderAdminApi):
    """Anthropic Admin API usage and cost reports (`x-api-key: $ANTHROPIC_ADMIN_KEY`)."""

    provider: str = "anthropic"
    key_env_var: str = "ANTHROPIC_ADMIN_KEY"
    base_url_env_var: str = "ANTHROPIC_BASE_URL"
    default_base_url: str = "https://api.anthropic.com"

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"x-api-key": key, "anthropic-version": "2023-06-01"}
