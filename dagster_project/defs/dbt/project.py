"""The dbt project handle, its manifest and the dbt CLI resource.

The manifest is (re)built with `dbt parse` when it is missing or older than any file of the dbt
project or the seeds, so `make run`, `make dev` and the tests always load the current models.
"""

from __future__ import annotations

import sys
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject

from dagster_project import settings


def _newest_mtime(folders: list[Path]) -> float:
    return max(
        (p.stat().st_mtime for folder in folders if folder.exists() for p in folder.rglob("*")
         if p.is_file() and "target" not in p.parts and "logs" not in p.parts),
        default=0.0,
    )


def ensure_manifest(project: DbtProject) -> Path:
    """Parse the dbt project when its manifest is missing or stale; return the manifest path."""
    settings.export_dbt_env()
    manifest = project.manifest_path
    seeds = settings.seeds_dir()
    stamp = manifest.parent / "tokenspend_seeds_dir.txt"  # the seeds folder the manifest was parsed with
    stale = (not manifest.exists() or manifest.stat().st_mtime < _newest_mtime([settings.DBT_PROJECT_DIR, seeds])
             or not stamp.exists() or stamp.read_text() != str(seeds))
    if stale:
        DbtCliResource(project_dir=project, dbt_executable=dbt_executable()).cli(["--quiet", "parse"], target_path=project.target_path).wait()
        stamp.write_text(str(seeds))
    return manifest


dbt_project = DbtProject(project_dir=settings.DBT_PROJECT_DIR, profiles_dir=settings.DBT_PROJECT_DIR)


def dbt_executable() -> str:
    """The dbt installed beside this Python (the project's virtualenv), whether or not it is on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else "dbt"


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project, profiles_dir=str(settings.DBT_PROJECT_DIR), dbt_executable=dbt_executable())
