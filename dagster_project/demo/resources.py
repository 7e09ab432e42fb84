"""The provider resources of demo mode: the live resources with the demo organisation as transport.

Each overrides `connection` only: the client gets a base URL on a reserved `.invalid` host, served by
`DemoTransport` from the demo's landing folder; no key is read and nothing leaves the machine.
"""

from __future__ import annotations

import requests

from dagster_project.demo.transport import DemoTransport
from dagster_project.lib.provider_api import USER_AGENT, AnthropicAdminApi, OpenAIAdminApi
from dagster_project.settings import current_settings


def _demo_connection(provider: str, session: requests.Session) -> tuple[str, dict[str, str]]:
    base_url = f"http://demo-{provider}.tokenspend.invalid/v1"
    session.mount(base_url, DemoTransport(provider, current_settings().deployment("demo").landing_dir))
    return base_url, {"User-Agent": USER_AGENT}


class DemoOpenAIAdminApi(OpenAIAdminApi):
    """OpenAI's admin API as the demo organisation answers it."""

    def connection(self, session: requests.Session) -> tuple[str, dict[str, str]]:
        return _demo_connection(self.provider, session)


class DemoAnthropicAdminApi(AnthropicAdminApi):
    """Anthropic's Admin API as the demo organisation answers it."""

    def connection(self, session: requests.Session) -> tuple[str, dict[str, str]]:
        return _demo_connection(self.provider, session)
