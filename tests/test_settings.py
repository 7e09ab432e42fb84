"""One typed settings object: defaults, validation with messages that name the variables, secrets kept
out of messages, and a code location whose import changes no environment variable and runs no dbt."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import subprocess
import sys

import pytest

from dagster_project.settings import REPO_ROOT, SEEDS_DIR, WAREHOUSE_DIR, SettingsError, current_settings

TOKENSPEND_VARS = (
    "TOKENSPEND_MODE", "TOKENSPEND_DUCKDB_PATH", "TOKENSPEND_PUBLISHED_PATH", "TOKENSPEND_LANDING_DIR",
    "TOKENSPEND_EXPORT_DIR", "TOKENSPEND_SEEDS_DIR", "TOKENSPEND_PROVIDERS", "TOKENSPEND_START_DATE",
    "TOKENSPEND_REFETCH_DAYS", "TOKENSPEND_LOOKBACK_DAYS", "TOKENSPEND_DEMO_SCALE", "TOKENSPEND_UNTAGGED_SHARE_WARN",
    "TOKENSPEND_RECONCILIATION_TOLERANCE_PCT", "TOKENSPEND_RECONCILIATION_ACCEPTED_CAUSES",
    "TOKENSPEND_LITELLM_DATABASE_URL", "TOKENSPEND_LITELLM_LOOKBACK_MINUTES", "TOKENSPEND_OTEL_TAG_MAP",
    "TOKENSPEND_ALERT_WEBHOOK_URL", "TOKENSPEND_ANOMALY_ALERT_DAYS", "TOKENSPEND_QUARANTINE_SEVERITY",
    "TOKENSPEND_PRICE_CROSSCHECK_TOLERANCE_PCT",
)


@pytest.fixture
def clean_env(monkeypatch):
    for var in TOKENSPEND_VARS:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_defaults_are_the_readme_table(clean_env):
    config = current_settings()
    assert config.mode == "live"
    assert config.duckdb_path == WAREHOUSE_DIR / "tokenspend.duckdb"
    assert config.landing_dir == WAREHOUSE_DIR / "landing"
    assert config.published_path == WAREHOUSE_DIR / "published" / "tokenspend.duckdb"
    assert config.export_dir == WAREHOUSE_DIR / "exports"
    assert config.seeds_dir == SEEDS_DIR
    assert (config.start_date, config.refetch_days, config.lookback_days) == (dt.date(2026, 1, 1), 3, 3)
    assert (config.demo_scale, config.untagged_share_warn, config.reconciliation_tolerance_pct) == (1.0, 0.05, 10.0)
    assert config.reconciliation_accepted_causes == () and config.litellm_database_url is None
    assert (config.litellm_lookback_minutes, config.anomaly_alert_days) == (60.0, 7)


def test_an_empty_value_means_the_default(clean_env):
    for var in TOKENSPEND_VARS:
        clean_env.setenv(var, "")
    config = current_settings()
    assert config.mode == "live" and config.duckdb_path == WAREHOUSE_DIR / "tokenspend.duckdb"
    assert config.refetch_days == 3


def test_relative_paths_are_made_absolute_and_lists_split(clean_env, tmp_path):
    clean_env.chdir(tmp_path)
    clean_env.setenv("TOKENSPEND_DUCKDB_PATH", "wh/spend.duckdb")
    clean_env.setenv("TOKENSPEND_RECONCILIATION_ACCEPTED_CAUSES", " unlogged_traffic , web_search,")
    clean_env.setenv("TOKENSPEND_PROVIDERS", "anthropic, openai")
    config = current_settings()
    assert config.duckdb_path == tmp_path / "wh" / "spend.duckdb"
    assert config.published_path == tmp_path / "wh" / "published" / "spend.duckdb"
    assert config.reconciliation_accepted_causes == ("unlogged_traffic", "web_search")
    assert config.providers_setting == ("openai", "anthropic")


def test_every_wrong_variable_is_named_at_once(clean_env):
    clean_env.setenv("TOKENSPEND_MODE", "staging")
    clean_env.setenv("TOKENSPEND_DEMO_SCALE", "-2")
    clean_env.setenv("TOKENSPEND_START_DATE", "2026-13-01")
    clean_env.setenv("TOKENSPEND_REFETCH_DAYS", "two")
    clean_env.setenv("TOKENSPEND_ANOMALY_ALERT_DAYS", "0")
    clean_env.setenv("TOKENSPEND_PROVIDERS", "openai,mistral")
    with pytest.raises(SettingsError) as info:
        current_settings()
    message = str(info.value)
    for expected in ("TOKENSPEND_MODE: Input should be 'live' or 'demo' (got 'staging')",
                     "TOKENSPEND_DEMO_SCALE: Input should be greater than 0 (got '-2')",
                     "TOKENSPEND_START_DATE:", "TOKENSPEND_REFETCH_DAYS:", "TOKENSPEND_ANOMALY_ALERT_DAYS:",
                     "TOKENSPEND_PROVIDERS: unknown provider(s) mistral"):
        assert expected in message, message


def test_a_secret_never_appears_in_an_error_or_the_object(clean_env):
    secret = "postgresql://user:hunter2@db.example/litellm"
    clean_env.setenv("TOKENSPEND_LITELLM_DATABASE_URL", secret)
    clean_env.setenv("TOKENSPEND_ALERT_WEBHOOK_URL", "https://hooks.example/T0KEN")
    config = current_settings()
    assert "hunter2" not in repr(config) and "T0KEN" not in repr(config)
    assert config.litellm_database_url.get_secret_value() == secret
    clean_env.setenv("TOKENSPEND_DEMO_SCALE", "0")
    with pytest.raises(SettingsError) as info:
        current_settings()
    assert "hunter2" not in str(info.value) and "T0KEN" not in str(info.value)


def test_settings_are_validated_once_per_environment(clean_env):
    assert current_settings() is current_settings()
    clean_env.setenv("TOKENSPEND_REFETCH_DAYS", "5")
    assert current_settings().refetch_days == 5


IMPORT_CHECK = """
import json, os, subprocess, sys
calls = []
real_popen = subprocess.Popen
class Recording(real_popen):
    def __init__(self, args, *a, **k):
        calls.append([str(x) for x in args] if isinstance(args, (list, tuple)) else [str(args)])
        super().__init__(args, *a, **k)
subprocess.Popen = Recording
before = dict(os.environ)
from dagster_project.definitions import defs
loaded = defs()
assert loaded.resolve_asset_graph().get_all_asset_keys()
print(json.dumps({"changed": sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k)),
                  "calls": calls}))
"""


@pytest.mark.parametrize("mode", ["live", "demo"])
def test_loading_the_code_location_changes_no_variable_and_runs_no_dbt(mode, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_IS_DEV_CLI"}
    env.update({"TOKENSPEND_MODE": mode, "TOKENSPEND_DEMO_DIR": str(tmp_path / "demo")})
    result = subprocess.run([sys.executable, "-c", IMPORT_CHECK], cwd=REPO_ROOT, env=env, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["changed"] == []
    assert not [call for call in report["calls"] if any("dbt" in part for part in call)], report["calls"]
    assert not (tmp_path / "demo").exists(), "loading creates no folder"


@pytest.mark.parametrize(("module", "args"), [
    ("dagster_project.cli", ["summary"]),
    ("dagster_project.report.__main__", []),
    ("dagster_project.export.__main__", []),
    ("dagster_project.export.docs", []),
    ("dagster_project.prices", []),
])
def test_every_command_ends_with_status_2_naming_the_setting(clean_env, capsys, module, args):
    """Each entry point takes its settings the same way: `--demo` against another mode, or a bad value,
    stops it before it touches anything, with status 2 and the variable named."""
    main = importlib.import_module(module).main
    clean_env.setenv("TOKENSPEND_MODE", "live")
    with pytest.raises(SystemExit) as info:
        main([*args, "--demo"])
    assert info.value.code == 2
    assert "--demo contradicts TOKENSPEND_MODE=live" in capsys.readouterr().err
    clean_env.setenv("TOKENSPEND_REFETCH_DAYS", "two")
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    assert "TOKENSPEND_REFETCH_DAYS" in capsys.readouterr().err
