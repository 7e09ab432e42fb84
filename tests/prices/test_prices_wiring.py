"""How `make prices` is wired: the command, the asset that builds never run, its schedule (off), and a
seeds folder from before the generated price book."""

from __future__ import annotations

import shutil

import dagster as dg
import pytest

from dagster_project import prices, settings
from dagster_project.defs.prices import assets


@pytest.fixture
def live_env(tmp_path, monkeypatch):
    seeds = tmp_path / "seeds"
    shutil.copytree(settings.SEEDS_DIR, seeds)
    (seeds / "price_book_generated.csv").unlink()
    monkeypatch.setenv("TOKENSPEND_MODE", "live")
    monkeypatch.setenv("TOKENSPEND_SEEDS_DIR", str(seeds))
    monkeypatch.setenv("TOKENSPEND_DUCKDB_PATH", str(tmp_path / "none" / "tokenspend.duckdb"))
    return seeds


def test_without_a_warehouse_make_prices_writes_the_empty_seed_and_says_to_build_first(live_env, capsys):
    assert prices.main([]) == 2
    out, err = capsys.readouterr()
    assert "with no rows yet" in out
    assert "no warehouse at" in err and "build it first" in err
    assert (live_env / "price_book_generated.csv").read_text().startswith("provider,model,match_pattern,")


def test_a_seeds_folder_without_the_generated_book_is_refused_by_name(live_env):
    from dagster_project.defs.dbt.project import prepare_manifest
    from dagster_project.settings import current_settings

    with pytest.raises(FileNotFoundError, match="has no price_book_generated.csv .* run `make prices` once"):
        prepare_manifest(current_settings())


def test_builds_never_run_the_refresh_and_its_schedule_starts_stopped():
    from dagster_project.defs.schedules import warehouse_build

    graph = dg.Definitions(assets=[assets.price_book_generated]).resolve_asset_graph()
    assert assets.PRICES_KEY not in warehouse_build.selection.resolve(graph)
    assert assets.price_book_refresh_weekly.default_status == dg.DefaultScheduleStatus.STOPPED
    assert assets.price_book_refresh_weekly.job_name == assets.JOB_NAME
