"""The provider admin APIs as Dagster resources: live with a key in the environment, else the demo.

Each provider resource reads its admin key from the environment variable it names, at the moment it
builds a client, and puts it only into request headers: the key is never a config value, so it never
appears in run metadata, logs or the UI. With no key set, the same client talks to the built-in demo
organisation through a `requests` transport adapter, so demo data goes through exactly the paging and
parsing code that real data does.

Base URLs are read the way the providers' SDKs read them: `ANTHROPIC_BASE_URL` is usually set without
`/v1` (`https://api.anthropic.com`) and `OPENAI_BASE_URL` with it (`https://api.openai.com/v1`). Both
forms are accepted for both providers: a trailing slash is dropped and `/v1` is added when missing.
"""

from __future__ import annotations

import decimal
import json
import os
import urllib.parse
from pathlib import Path

import dagster as dg
import requests
import requests.adapters

from dagster_project import settings
from dagster_project.lib.http import PagedApi, RetryPolicy, retrying_session


class DemoTransport(requests.adapters.BaseAdapter):
    """Answers GETs for a demo base URL from the demo organisation, in the provider's own shapes."""

    def __init__(self, provider: str, landing_dir: Path):
        super().__init__()
        self.provider = provider
        self.landing_dir = landing_dir

    def send(self, request, **kwargs):  # noqa: ARG002 - the adapter interface
        from dagster_project.defs.demo.provider import demo_response

        url = urllib.parse.urlsplit(request.url)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        status, body = demo_response(self.provider, url.path, query, self.landing_dir)
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body, default=_json_number).encode()
        response.headers["Content-Type"] = "application/json"
        response.encoding = "utf-8"
        response.url = request.url
        response.request = request
        return response

    def close(self):
        pass


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


def _json_number(value):
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


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

    def is_live(self) -> bool:
        """Live when the admin key's environment variable is set and not empty."""
        return bool(os.environ.get(self.key_env_var))

    def mode(self) -> str:
        return "live" if self.is_live() else "demo"

    def auth_headers(self, key: str) -> dict[str, str]:
        raise NotImplementedError

    def client(self, landing_dir: Path | None = None) -> PagedApi:
        policy = RetryPolicy(
            max_attempts=self.max_attempts,
            backoff_seconds=self.backoff_seconds,
            max_wait_seconds=self.max_wait_seconds,
            timeout_seconds=self.timeout_seconds,
        )
        session = retrying_session(policy)
        key = os.environ.get(self.key_env_var)
        if key:
            base_url = api_base_url(
                os.environ.get(self.base_url_env_var) or self.default_base_url, self.base_url_env_var
            )
            headers = {"User-Agent": "tokenspend/0.1", **self.auth_headers(key)}
        else:
            base_url = f"http://demo-{self.provider}.tokenspend.invalid/v1"
            session.mount(base_url, DemoTransport(self.provider, landing_dir or settings.landing_dir()))
            headers = {"User-Agent": "tokenspend/0.1"}
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
