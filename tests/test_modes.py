"""Live and demo are separate deployments: live never reads demo data, a provider enabled without its key
fails before the warehouse is touched, and a warehouse file or landing folder refuses the other mode."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil

import dagster as dg
import duckdb
import pytest

from dagster_project import cli
from dagster_project.defs.events.assets import outcome_events, request_events
from dagster_project.defs.openai.assets import openai_costs
from dagster_project.lib.deployment import (
    LANDING_STAMP,
    WrongDeployment,
    landing_folder,
    open_warehouse,
    verify_deployment,
    warehouse_mode,
)
from dagster_project.lib.provider_api import AnthropicAdminApi, OpenAIAdminApi
from dagster_project.settings import SettingsError, current_settings
from tests.conftest import PROVIDER_VARS, demo_deployment

EVENT = {
    "request_id": "live-1", "occurred_at": "2026-09-01T08:00:00Z", "provider": "openai", "model": "gpt-4.1-mini",
    "api_key_id": "key_a", "project_id": "proj_a", "uncached_input_tokens": 100, "cache_read_input_tokens": 0,
    "cache_write_input_tokens": 0, "output_tokens": 7, "batch": False, "service_tier": "default",
}


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_events(path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture
def live_warehouse(warehouse_env):
    """A live warehouse with one loaded event, stamped live, and its landing folder."""
    db, landing = warehouse_env
    write_events(landing / "events" / "app" / "2026-09-01.jsonl", [EVENT])
    result = dg.materialize([request_events], instance=dg.DagsterInstance.ephemeral())
    assert result.success
    return db, landing


def failure_text(result) -> str:
    """The messages of the failed step's error and its causes, and a Failure's description."""
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    data, texts = failure.step_failure_data, []
    error = data.error
    while error is not None:
        texts.append(error.message)
        error = error.cause
    if data.user_failure_data:
        texts.append(data.user_failure_data.description or "")
    return "\n".join(texts)


def live_resources() -> dict:
    return {"openai": OpenAIAdminApi(), "anthropic": AnthropicAdminApi()}


# --- a missing key ------------------------------------------------------------------------------------

def test_a_provider_asset_without_its_key_fails_before_the_warehouse_is_touched(live_warehouse):
    db, landing = live_warehouse
    before = digest(db)
    landed = sorted(p for p in landing.rglob("*"))
    result = dg.materialize([openai_costs], partition_key="2026-09-02", resources=live_resources(),
                            instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert not result.success
    message = failure_text(result)
    assert "OPENAI_ADMIN_KEY is not set" in message and "never falls back to the demo" in message
    assert digest(db) == before, "the warehouse file is byte-for-byte as it was"
    assert not db.with_name(db.name + ".wal").exists()
    assert sorted(p for p in landing.rglob("*")) == landed, "nothing landed"


def test_a_live_run_with_an_enabled_provider_missing_its_key_runs_nothing(live_warehouse, monkeypatch, capsys):
    db, _ = live_warehouse
    before = digest(db)
    monkeypatch.setenv("TOKENSPEND_PROVIDERS", "openai,anthropic")
    monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", "fake-anthropic-admin-key")
    monkeypatch.setattr(cli, "load_definitions", lambda: pytest.fail("definitions were loaded"))
    with pytest.raises(SettingsError, match="OPENAI_ADMIN_KEY is not set, and TOKENSPEND_PROVIDERS enables openai"):
        cli.materialize_all(dt.date(2026, 9, 1), dt.date(2026, 9, 3), instance=dg.DagsterInstance.ephemeral())
    assert cli.main(["run", "--start", "2026-09-01", "--end", "2026-09-03"]) == 2
    err = capsys.readouterr().err
    assert "OPENAI_ADMIN_KEY is not set" in err and "fake-anthropic-admin-key" not in err
    assert digest(db) == before


def test_providers_default_to_those_with_a_key(monkeypatch):
    for var in ("OPENAI_ADMIN_KEY", "ANTHROPIC_ADMIN_KEY", "TOKENSPEND_PROVIDERS"):
        monkeypatch.delenv(var, raising=False)
    assert current_settings().enabled_providers == ()
    monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", "fake")
    assert current_settings().enabled_providers == ("anthropic",)
    assert current_settings().missing_keys() == []
    monkeypatch.setenv("TOKENSPEND_PROVIDERS", "openai")
    assert current_settings().missing_keys() == ["OPENAI_ADMIN_KEY"]
    monkeypatch.setenv("TOKENSPEND_MODE", "demo")
    assert current_settings().enabled_providers == ("openai", "anthropic") and current_settings().missing_keys() == []


def test_the_daily_schedule_fetches_enabled_providers_and_fails_on_a_missing_key(monkeypatch):
    from dagster_project.defs.schedules import PROVIDER_ASSETS, provider_ingest_daily

    for var in ("OPENAI_ADMIN_KEY", "ANTHROPIC_ADMIN_KEY", "TOKENSPEND_PROVIDERS"):
        monkeypatch.delenv(var, raising=False)
    tick = dt.datetime(2026, 10, 5, 2, 0, tzinfo=dt.UTC)
    repository = cli.load_definitions().get_repository_def()

    def evaluate():
        with dg.build_schedule_context(scheduled_execution_time=tick, repository_def=repository) as context:
            return provider_ingest_daily.evaluate_tick(context)

    assert "no provider enabled" in evaluate().skip_message
    monkeypatch.setenv("OPENAI_ADMIN_KEY", "fake-openai-admin-key")
    (request,) = evaluate().run_requests
    assert request.partition_key == "2026-10-04"
    assert set(request.asset_selection) == set(PROVIDER_ASSETS["openai"])
    monkeypatch.setenv("TOKENSPEND_PROVIDERS", "openai,anthropic")
    with pytest.raises(Exception) as info:  # noqa: B017 - Dagster wraps the error of a schedule function
        evaluate()
    assert "ANTHROPIC_ADMIN_KEY is not set" in f"{info.value} {info.value.__cause__}"


# --- a warehouse refuses the other mode ----------------------------------------------------------------

def test_a_warehouse_built_in_demo_mode_refuses_a_live_run_and_says_why(built_warehouse, tmp_path, monkeypatch, capsys):
    demo_db = tmp_path / "copied" / "tokenspend.duckdb"
    demo_db.parent.mkdir()
    shutil.copy(built_warehouse["db"], demo_db)
    with duckdb.connect(str(demo_db), read_only=True) as con:
        assert con.execute("select mode from ops.warehouse_mode").fetchall() == [("demo",)]
    before = digest(demo_db)
    for var in PROVIDER_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TOKENSPEND_DUCKDB_PATH", str(demo_db))
    monkeypatch.setenv("TOKENSPEND_LANDING_DIR", str(tmp_path / "landing"))
    with pytest.raises(WrongDeployment) as info:
        cli.materialize_all(instance=dg.DagsterInstance.ephemeral())
    message = str(info.value)
    assert f"{demo_db} was built in demo mode" in message
    assert "unset TOKENSPEND_DUCKDB_PATH" in message and "TOKENSPEND_MODE=demo" in message
    assert cli.main(["run"]) == 2
    assert "was built in demo mode" in capsys.readouterr().err
    # an asset run on its own refuses it too, and so does a read-only check
    result = dg.materialize([request_events], instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert not result.success
    with pytest.raises(WrongDeployment):
        with open_warehouse(read_only=True):
            pass
    assert digest(demo_db) == before


def test_a_live_warehouse_refuses_demo_mode(live_warehouse, monkeypatch, tmp_path):
    db, _ = live_warehouse
    before = digest(db)
    monkeypatch.setenv("TOKENSPEND_MODE", "demo")
    monkeypatch.setenv("TOKENSPEND_DEMO_DIR", str(db.parent))
    monkeypatch.delenv("TOKENSPEND_DUCKDB_PATH")
    monkeypatch.setenv("TOKENSPEND_LANDING_DIR", str(tmp_path / "elsewhere"))
    with pytest.raises(WrongDeployment, match="was built in live mode.*set TOKENSPEND_DEMO_DIR to a folder of its own"):
        with open_warehouse():
            pass
    assert digest(db) == before


def test_the_mode_is_recorded_at_the_first_write(warehouse_env):
    db, _ = warehouse_env
    with open_warehouse() as con:
        assert con.execute("select mode from ops.warehouse_mode").fetchall() == [("live",)]
    with open_warehouse() as con:  # recorded once
        assert con.execute("select count(*) from ops.warehouse_mode").fetchone() == (1,)


def test_a_warehouse_from_before_modes_with_the_demo_in_it_is_demo(warehouse_env):
    """A warehouse the demo filled before modes were recorded (demo first, then keys) is refused by live mode."""
    db, _ = warehouse_env
    db.parent.mkdir(parents=True)
    with duckdb.connect(str(db)) as con:
        con.execute("create schema raw")
        con.execute("create table raw.request_events (request_id varchar, _source_file varchar)")
        con.execute("insert into raw.request_events values ('r1', '/old/warehouse/landing/events/demo/2026-09-01.jsonl')")
        assert warehouse_mode(con) == ("demo", "raw.request_events holds rows loaded from the demo organisation's files")
    before = digest(db)
    with pytest.raises(WrongDeployment, match="was built in demo mode .raw.request_events holds rows loaded from the "
                       "demo organisation's files.*It holds the demo organisation from before the demo had"):
        verify_deployment()
    assert digest(db) == before


# --- landing folders --------------------------------------------------------------------------------------

def test_a_live_run_never_scans_demo_files(warehouse_env, monkeypatch, tmp_path):
    """The demo lands in its own folder, which live mode does not read; its files in the live landing
    folder make live mode refuse the folder before anything is scanned."""
    from dagster_project.demo.generator import generate_demo_org

    db, landing = warehouse_env
    demo_dir = tmp_path / "demo"
    monkeypatch.setenv("TOKENSPEND_DEMO_DIR", str(demo_dir))
    generate_demo_org(demo_dir / "landing", scale=0.05)
    write_events(landing / "events" / "app" / "2026-09-01.jsonl", [EVENT])
    result = dg.materialize([request_events, outcome_events], instance=dg.DagsterInstance.ephemeral())
    assert result.success
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select request_id from raw.request_events").fetchall() == [("live-1",)]
        assert con.execute("select count(*) from raw.outcome_events").fetchone() == (0,)

    # the demo's files in the live landing folder (a demo run before demo and live had folders of their own)
    shutil.copytree(demo_dir / "landing" / "events" / "demo", landing / "events" / "demo")
    before = digest(db)
    result = dg.materialize([request_events], instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert not result.success
    assert "holds the demo organisation's files (events/demo/); live mode never reads demo data" in failure_text(result)
    assert digest(db) == before
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from raw.request_events where _source_file like '%/demo/%'").fetchone() == (0,)


def test_the_demo_never_writes_into_a_live_landing_folder(live_warehouse, monkeypatch):
    _, landing = live_warehouse
    assert (landing / LANDING_STAMP).read_text().strip() == "live"
    monkeypatch.setenv("TOKENSPEND_MODE", "demo")
    monkeypatch.setenv("TOKENSPEND_DEMO_DIR", str(landing.parent))  # its landing/ is the live one
    monkeypatch.delenv("TOKENSPEND_LANDING_DIR")
    monkeypatch.delenv("TOKENSPEND_DUCKDB_PATH")
    with pytest.raises(WrongDeployment, match="belongs to live mode"):
        landing_folder()
    assert not (landing / "demo_provider").exists()


# --- the demo deployment -------------------------------------------------------------------------------

def test_demo_mode_uses_its_own_folder_whatever_the_live_paths_say(monkeypatch, tmp_path):
    monkeypatch.setenv("TOKENSPEND_DUCKDB_PATH", str(tmp_path / "live" / "tokenspend.duckdb"))
    monkeypatch.setenv("TOKENSPEND_LANDING_DIR", str(tmp_path / "live" / "landing"))
    monkeypatch.setenv("TOKENSPEND_SEEDS_DIR", str(tmp_path / "org_seeds"))
    demo_deployment(monkeypatch, tmp_path / "demo")
    config = current_settings()
    assert config.duckdb_path == tmp_path / "demo" / "tokenspend.duckdb"
    assert config.landing_dir == tmp_path / "demo" / "landing"
    assert config.published_path == tmp_path / "demo" / "published" / "tokenspend.duckdb"
    assert config.export_dir == tmp_path / "demo" / "exports"
    assert config.seeds_dir.name == "seeds" and config.seeds_dir != tmp_path / "org_seeds"


def test_live_paths_inside_the_demo_folder_are_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("TOKENSPEND_DEMO_DIR", str(tmp_path / "demo"))
    monkeypatch.setenv("TOKENSPEND_DUCKDB_PATH", str(tmp_path / "demo" / "tokenspend.duckdb"))
    with pytest.raises(SettingsError, match="TOKENSPEND_DUCKDB_PATH.*inside the demo deployment's folder"):
        current_settings()
