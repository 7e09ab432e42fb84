"""A `requests` transport adapter that answers provider API requests from the demo organisation."""

from __future__ import annotations

import decimal
import json
import urllib.parse
from pathlib import Path

import requests
import requests.adapters

from dagster_project.demo.provider import demo_response


def _json_number(value):
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class DemoTransport(requests.adapters.BaseAdapter):
    """Answers GETs for a demo base URL from the demo organisation, in the provider's own shapes."""

    def __init__(self, provider: str, landing_dir: Path):
        super().__init__()
        self.provider = provider
        self.landing_dir = landing_dir

    def send(self, request, **kwargs):  # noqa: ARG002 - the adapter interface
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
