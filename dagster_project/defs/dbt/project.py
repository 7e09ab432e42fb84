"""The dbt project handle, its manifest and the dbt CLI resource.

dbt reads the deployment's warehouse file and seeds folder from `--vars` that the resource adds to every
dbt command it runs (`dbt_vars`): nothing is exported into the environment. Run on its own, dbt reads
the warehouse file from TOKENSPEND_DUCKDB_PATH (`dbt_models/profiles.yml`) and the repository's seeds.

The manifest the dbt assets are built from is prepared before the code location loads, never by
loading it: `prepare_manifest` runs `dbt parse` when the manifest is missing or older than any file of
the dbt project or the seeds, or was parsed for another seeds folder. The CLI (`make run`) and the tests
call it; under `dagster dev` (`make dev`) loading calls it (`prepare_if_dev`); `python -m
dagster_project.cli prepare` runs it for any other way of loading the code location.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from dagster_dbt.dbt_project import using_dagster_dev

from dagster_project.settings import DBT_PROJECT_DIR, SEEDS_DIR, Settings, current_settings

SEEDS_STAMP = "tokenspend_seeds_dir.txt"  # in target/: the seeds folder the manifest was parsed with


def dbt_seed_path(config: Settings | None = None) -> str:
    """The seeds folder as dbt's `seed-paths` entry: always RELATIVE to the dbt project.

    dbt writes each seed's load statement to `target/run/<project>/<seed path>`; given an absolute
    seed path it would write over the CSV file itself. The repository's seeds are `../seeds`; another
    folder is reached through a symbolic link inside the dbt project, named after the folder, so two
    warehouses built from different folders never share one.
    """
    folder = (config or current_settings()).seeds_dir
    if folder == SEEDS_DIR:
        return "../seeds"
    link = DBT_PROJECT_DIR / f"org_seeds_{hashlib.sha256(str(folder).encode()).hexdigest()[:12]}"
    if not link.is_symlink() or link.resolve() != folder:
        if link.is_symlink():
            link.unlink()
        link.symlink_to(folder, target_is_directory=True)
    return link.name


def dbt_vars(config: Settings | None = None) -> dict[str, str]:
    """What dbt needs to know of the deployment: its warehouse file (absolute) and seeds path (relative)."""
    config = config or current_settings()
    config.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    return {"tokenspend_duckdb_path": str(config.duckdb_path), "tokenspend_seed_path": dbt_seed_path(config)}


def dbt_executable() -> str:
    """The dbt installed beside this Python (the project's virtualenv), whether or not it is on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else "dbt"


class TokenspendDbtCli(DbtCliResource):
    """`DbtCliResource` whose commands carry the deployment's paths as `--vars` (read when a command runs)."""

    def cli(self, args: Sequence[str], **kwargs):
        return super().cli([*args, "--vars", json.dumps(dbt_vars())], **kwargs)


def _newest_mtime(folders: list[Path]) -> float:
    return max(
        (p.stat().st_mtime for folder in folders if folder.exists() for p in folder.rglob("*")
         if p.is_file() and "target" not in p.parts and "logs" not in p.parts),
        default=0.0,
    )


def prepare_manifest(config: Settings | None = None) -> Path:
    """Parse the dbt project when its manifest is missing or stale; return the manifest path."""
    config = config or current_settings()
    manifest = dbt_project.manifest_path
    seeds = config.seeds_dir
    if not (seeds / "price_book_generated.csv").exists():  # a seeds folder from before `make prices`
        raise FileNotFoundError(
            f"{seeds} has no price_book_generated.csv (the price database's rows, written by `make prices`): "
            "run `make prices` once, or copy the header-only file from the repository's seeds/")
    stamp = manifest.parent / SEEDS_STAMP
    stale = (not manifest.exists() or manifest.stat().st_mtime < _newest_mtime([DBT_PROJECT_DIR, seeds])
             or not stamp.exists() or stamp.read_text() != str(seeds))
    if stale:
        dbt_resource().cli(["--quiet", "parse"], target_path=dbt_project.target_path).wait()
        stamp.write_text(str(seeds))
    return manifest


def manifest_path() -> Path:
    """The prepared manifest; a clear error when it was never prepared."""
    manifest = dbt_project.manifest_path
    if not manifest.exists():
        raise FileNotFoundError(
            f"no dbt manifest at {manifest}: run `python -m dagster_project.cli prepare` first "
            "(`make run`, `make dev` and the tests prepare it themselves)"
        )
    return manifest


def prepare_if_dev() -> None:
    """Under `dagster dev` (`make dev`), prepare the manifest as the code location loads and reloads, so an
    edited model shows up; anywhere else loading never runs dbt."""
    if using_dagster_dev():
        prepare_manifest()


dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def dbt_resource() -> TokenspendDbtCli:
    return TokenspendDbtCli(project_dir=dbt_project, profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=dbt_executable())
