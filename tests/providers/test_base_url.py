"""Base URLs in either SDK form: with or without `/v1`, with or without a trailing slash, both providers."""

from __future__ import annotations

import datetime as dt

import pytest

from dagster_project.defs.anthropic.endpoints import COST_REPORT
from dagster_project.defs.openai.endpoints import COSTS
from dagster_project.lib.provider_api import AnthropicAdminApi, OpenAIAdminApi, api_base_url
from dagster_project.lib.provider_ingest import land_window
from dagster_project.lib.warehouse import connect
from tests.providers.fake_provider import FakeBucketedEndpoint

START, END = dt.date(2026, 9, 1), dt.date(2026, 9, 3)
FORMS = ["{root}", "{root}/", "{root}/v1", "{root}/v1/"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://api.anthropic.com", "https://api.anthropic.com/v1"),
        ("https://api.anthropic.com/", "https://api.anthropic.com/v1"),
        ("https://api.anthropic.com/v1", "https://api.anthropic.com/v1"),
        ("https://api.openai.com/v1/", "https://api.openai.com/v1"),
        ("https://api.openai.com//", "https://api.openai.com/v1"),
        ("  https://api.openai.com/v1  ", "https://api.openai.com/v1"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/v1"),
        ("https://proxy.example/anthropic", "https://proxy.example/anthropic/v1"),
        ("https://proxy.example/openai/v1", "https://proxy.example/openai/v1"),
    ],
)
def test_base_url_is_normalised_like_the_sdks(value, expected):
    assert api_base_url(value, "OPENAI_BASE_URL") == expected


@pytest.mark.parametrize(
    "value", ["api.openai.com/v1", "ftp://api.openai.com", "https://", "https://proxy.example/v1?token=abc", "https://x/#v1"]
)
def test_a_base_url_that_is_not_one_names_the_variable_not_the_value(value):
    with pytest.raises(ValueError, match="ANTHROPIC_BASE_URL must be an http") as info:
        api_base_url(value, "ANTHROPIC_BASE_URL")
    assert "token=abc" not in str(info.value)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(
    ("resource", "endpoint", "style", "key_var", "url_var"),
    [
        (OpenAIAdminApi, COSTS, "openai", "OPENAI_ADMIN_KEY", "OPENAI_BASE_URL"),
        (AnthropicAdminApi, COST_REPORT, "anthropic", "ANTHROPIC_ADMIN_KEY", "ANTHROPIC_BASE_URL"),
    ],
)
def test_both_forms_reach_the_provider_api(tmp_path, httpserver, monkeypatch, form, resource, endpoint, style, key_var, url_var):
    fake = FakeBucketedEndpoint(style, {START: [{"amount": "1"}]})
    httpserver.expect_request(f"/v1{endpoint.path}").respond_with_handler(fake)
    root = httpserver.url_for("/").rstrip("/")
    monkeypatch.setenv(key_var, "fake-admin-key-for-the-local-server")
    monkeypatch.setenv(url_var, form.format(root=root))
    api = resource()
    assert api.has_key()
    with connect(tmp_path / "w.duckdb") as con:
        result = land_window(api.client(), endpoint, START, END, tmp_path / "landing", con)
    assert fake.calls == 1 and result.pages == 1
    assert [request.path for request, _ in httpserver.log] == [f"/v1{endpoint.path}"]


@pytest.mark.parametrize("resource", [OpenAIAdminApi, AnthropicAdminApi])
def test_the_default_base_urls_are_the_providers_apis(monkeypatch, resource):
    api = resource()
    monkeypatch.setenv(api.key_env_var, "fake-admin-key")
    monkeypatch.delenv(api.base_url_env_var, raising=False)
    expected = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com/v1"}[api.provider]
    assert api.client().base_url == expected
