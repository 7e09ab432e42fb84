"""The settings shared by the whole code location, all from the environment.

A setting that belongs to one source or check is read by that module, through one documented function
(`defs/events/litellm.py`, `defs/events/otel.py`, `defs/checks/*.py`); `.env.example` and the README
list every variable.

Paths default to folders under the repository so that `make run` works on a fresh clone; the DuckDB
path is the one setting shared by Dagster and dbt (`dbt_models/profiles.yml` reads the same variable).
Secrets (the admin keys) are not read here: each provider resource reads its own key from the
environment when it builds a client and puts it only into request headers, so a key never passes
through a settings object or config value that could be logged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_models"
SEEDS_DIR = REPO_ROOT / "seeds"  # the demo organisation's lookups, shipped with the project
EXPECTATIONS_DIR = REPO_ROOT / "expectations"


def _path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


def duckdb_path() -> Path:
    """The warehouse file (`TOKENSPEND_DUCKDB_PATH`, default `warehouse/tokenspend.duckdb`)."""
    return _path("TOKENSPEND_DUCKDB_PATH", REPO_ROOT / "warehouse" / "tokenspend.duckdb")


def published_path() -> Path:
    """The copy of the marts that BI tools open (`TOKENSPEND_PUBLISHED_PATH`, default
    `published/<warehouse file name>` beside the warehouse file, i.e. `warehouse/published/tokenspend.duckdb`).

    Builds write the warehouse file (`duckdb_path`); after a build's checks pass, the publish step writes a
    new file next to this one and renames it over it, so a reader never blocks a build and never sees half
    a build. It must not be the warehouse file itself.
    """
    working = duckdb_path()
    path = _path("TOKENSPEND_PUBLISHED_PATH", working.parent / "published" / working.name)
    if path == working:
        raise ValueError(
            f"TOKENSPEND_PUBLISHED_PATH must differ from TOKENSPEND_DUCKDB_PATH ({working}): builds write the "
            "warehouse file, BI tools read the published copy"
        )
    return path


def landing_dir() -> Path:
    """Where raw responses and event files land (`TOKENSPEND_LANDING_DIR`, default `warehouse/landing`)."""
    return _path("TOKENSPEND_LANDING_DIR", REPO_ROOT / "warehouse" / "landing")


def seeds_dir() -> Path:
    """The organisation's lookups: price book, key and project owners, roster, catalogues
    (`TOKENSPEND_SEEDS_DIR`, default the repository's `seeds/`). dbt reads the same variable."""
    return _path("TOKENSPEND_SEEDS_DIR", SEEDS_DIR)


def dbt_seed_path() -> str:
    """The seeds folder as dbt's `seed-paths` entry: always RELATIVE to the dbt project.

    dbt writes each seed's load statement to `target/run/<project>/<seed path>`; given an absolute
    seed path it would write over the CSV file itself. The repository's seeds are `../seeds`; another
    folder is reached through a symbolic link inside the dbt project, named after the folder, so two
    warehouses built from different folders never share one.
    """
    folder = seeds_dir()
    if folder == SEEDS_DIR:
        return "../seeds"
    link = DBT_PROJECT_DIR / f"org_seeds_{hashlib.sha256(str(folder).encode()).hexdigest()[:12]}"
    if not link.is_symlink() or link.resolve() != folder:
        if link.is_symlink():
            link.unlink()
        link.symlink_to(folder, target_is_directory=True)
    return link.name


def demo_scale() -> float:
    """Multiplies the demo organisation's request volume (`TOKENSPEND_DEMO_SCALE`, default 1)."""
    value = float(os.environ.get("TOKENSPEND_DEMO_SCALE", "1"))
    if value <= 0:
        raise ValueError(f"TOKENSPEND_DEMO_SCALE must be positive, got {value}")
    return value


def partitions_start_date() -> str:
    """First daily partition of the provider ingest assets (`TOKENSPEND_START_DATE`)."""
    value = os.environ.get("TOKENSPEND_START_DATE", "2026-01-01")
    dt.date.fromisoformat(value)
    return value


def refetch_days() -> int:
    """Trailing days every scheduled provider load re-fetches, since providers revise recent buckets."""
    return int(os.environ.get("TOKENSPEND_REFETCH_DAYS", "3"))


def export_dbt_env() -> None:
    """Make dbt, run as a subprocess, see the same warehouse file and seeds as Dagster."""
    os.environ["TOKENSPEND_DUCKDB_PATH"] = str(duckdb_path())
    os.environ["TOKENSPEND_DBT_SEED_PATH"] = dbt_seed_path()
    duckdb_path().parent.mkdir(parents=True, exist_ok=True)


def alert_webhook_url() -> str | None:
    """Where new alerts are POSTed as JSON (`TOKENSPEND_ALERT_WEBHOOK_URL`; unset = run log only).

    Read at call time, so the sensor follows a changed environment. The URL may carry a token: it is
    only ever put into the request, and logs name its host alone.
    """
    return os.environ.get("TOKENSPEND_ALERT_WEBHOOK_URL") or None


def export_dir() -> Path:
    """Where files for other systems are written (`TOKENSPEND_EXPORT_DIR`; default `exports/` beside the
    warehouse file, i.e. `warehouse/exports`, so a warehouse under a temporary folder exports there too)."""
    return _path("TOKENSPEND_EXPORT_DIR", duckdb_path().parent / "exports")


def anomaly_alert_days() -> int:
    """How many days up to the as-of date a spend anomaly opens or keeps an alert
    (`TOKENSPEND_ANOMALY_ALERT_DAYS`, default 7); older anomalies resolve and stay as history in the mart."""
    value = int(os.environ.get("TOKENSPEND_ANOMALY_ALERT_DAYS", "7"))
    if value < 1:
        raise ValueError(f"TOKENSPEND_ANOMALY_ALERT_DAYS must be at least 1, got {value}")
    return value
