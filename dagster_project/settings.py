"""Every tokenspend setting, read from the environment into one typed object and validated once.

`current_settings()` returns the `Settings` of the present environment. The first call for a given
environment validates every variable and raises `SettingsError` naming each one that is wrong; later
calls with the same environment return the same object. The code location calls it when it loads, so a
bad value stops the load with that message instead of failing a run halfway. `.env.example` and the
README list every variable; an empty value means the default.

**Mode.** tokenspend runs as one of two deployments, never both on the same files:

- `live` (the default): the organisation's own data. Warehouse `TOKENSPEND_DUCKDB_PATH` (default
  `warehouse/tokenspend.duckdb`), landing folder `TOKENSPEND_LANDING_DIR` (default `warehouse/landing`),
  published copy, exports and seeds as configured.
- `demo` (`TOKENSPEND_MODE=demo`, or `python -m dagster_project.cli run --demo`, which `make run` uses):
  the built-in demo organisation, in a folder of its own, `TOKENSPEND_DEMO_DIR` (default
  `warehouse/demo`): `tokenspend.duckdb`, `landing/`, `published/tokenspend.duckdb`, `exports/`, with the
  repository's `seeds/` (the demo organisation's lookups). The live path variables do not apply to it.

Each warehouse file and landing folder records the mode that first wrote it and refuses the other
(`lib/deployment.py`).

**Secrets.** The provider admin keys are not settings: each provider resource reads its key from the
environment when it sends a request and puts it only into request headers, so a key never passes
through an object that could be logged or shown in the UI. Settings only record which keys are present.
The webhook and LiteLLM database URLs may carry credentials: they are `SecretStr`, never printed.

The vocabulary of reconciliation cause names is checked by the module that owns it
(`defs/checks/reconciliation.py`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_models"
SEEDS_DIR = REPO_ROOT / "seeds"  # the demo organisation's lookups, shipped with the project
EXPECTATIONS_DIR = REPO_ROOT / "expectations"
WAREHOUSE_DIR = REPO_ROOT / "warehouse"
DEFAULT_DEMO_DIR = WAREHOUSE_DIR / "demo"

Mode = Literal["live", "demo"]
# The providers tokenspend ingests, and the variable that holds each one's organisation admin key.
PROVIDER_KEY_VARS = {"openai": "OPENAI_ADMIN_KEY", "anthropic": "ANTHROPIC_ADMIN_KEY"}
# Settings whose values are never echoed in an error message.
_SECRET_VARS = {"TOKENSPEND_LITELLM_DATABASE_URL", "TOKENSPEND_ALERT_WEBHOOK_URL"}


# The request tags (and placement) an OpenTelemetry attribute can feed (TOKENSPEND_OTEL_TAG_MAP); dbt reads
# the map itself (macros/request_sources.sql, otel_tag_map()), with the default named there.
OTEL_TAG_DIMENSIONS = ("feature", "workflow", "task_id", "team", "employee_id", "customer_id", "project_id",
                       "api_key_id")
_ATTRIBUTE_KEY = re.compile(r"[A-Za-z0-9_.\-/:]+")


def parse_tag_map(text: str) -> tuple[tuple[str, str], ...]:
    """`attr=dimension,...` as (attribute, dimension) pairs; raises ValueError naming the bad entry."""
    pairs = []
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        attribute, sep, dimension = (p.strip() for p in entry.partition("="))
        if not sep or not _ATTRIBUTE_KEY.fullmatch(attribute) or dimension not in OTEL_TAG_DIMENSIONS:
            raise ValueError(f"{entry!r} is not attribute=dimension with a dimension in {', '.join(OTEL_TAG_DIMENSIONS)}")
        pairs.append((attribute, dimension))
    return tuple(pairs)


class SettingsError(ValueError):
    """The environment does not make a valid configuration; the message names every wrong variable."""


def _resolved(path: Path | None) -> Path | None:
    return path.expanduser().resolve() if path is not None else None


def _comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return value


class Settings(BaseSettings):
    """tokenspend's configuration, one field per environment variable (the field's alias)."""

    model_config = SettingsConfigDict(case_sensitive=True, env_ignore_empty=True, frozen=True, extra="ignore")

    mode: Mode = Field("live", alias="TOKENSPEND_MODE")
    demo_dir: Path = Field(DEFAULT_DEMO_DIR, alias="TOKENSPEND_DEMO_DIR")

    # live deployment paths as given (None: the default); see the properties below for the ones in force
    duckdb_path_setting: Path | None = Field(None, alias="TOKENSPEND_DUCKDB_PATH")
    published_path_setting: Path | None = Field(None, alias="TOKENSPEND_PUBLISHED_PATH")
    landing_dir_setting: Path | None = Field(None, alias="TOKENSPEND_LANDING_DIR")
    export_dir_setting: Path | None = Field(None, alias="TOKENSPEND_EXPORT_DIR")
    seeds_dir_setting: Path | None = Field(None, alias="TOKENSPEND_SEEDS_DIR")

    providers_setting: Annotated[tuple[str, ...], NoDecode] = Field((), alias="TOKENSPEND_PROVIDERS")
    start_date: dt.date = Field(dt.date(2026, 1, 1), alias="TOKENSPEND_START_DATE")
    refetch_days: int = Field(3, ge=0, alias="TOKENSPEND_REFETCH_DAYS")
    lookback_days: int = Field(3, ge=0, alias="TOKENSPEND_LOOKBACK_DAYS")  # read by dbt (macros/incremental.sql)
    demo_scale: float = Field(1.0, gt=0, alias="TOKENSPEND_DEMO_SCALE")
    untagged_share_warn: float = Field(0.05, ge=0, le=1, alias="TOKENSPEND_UNTAGGED_SHARE_WARN")
    reconciliation_tolerance_pct: float = Field(10.0, ge=0, alias="TOKENSPEND_RECONCILIATION_TOLERANCE_PCT")
    # the cross-check of the price book against the price database (defs/prices/checks.py)
    price_crosscheck_tolerance_pct: float = Field(1.0, ge=0, alias="TOKENSPEND_PRICE_CROSSCHECK_TOLERANCE_PCT")
    reconciliation_accepted_causes: Annotated[tuple[str, ...], NoDecode] = Field(
        (), alias="TOKENSPEND_RECONCILIATION_ACCEPTED_CAUSES")
    litellm_database_url: SecretStr | None = Field(None, alias="TOKENSPEND_LITELLM_DATABASE_URL")
    litellm_lookback_minutes: float = Field(60.0, ge=0, alias="TOKENSPEND_LITELLM_LOOKBACK_MINUTES")
    otel_tag_map: str | None = Field(None, alias="TOKENSPEND_OTEL_TAG_MAP")
    alert_webhook_url: SecretStr | None = Field(None, alias="TOKENSPEND_ALERT_WEBHOOK_URL")
    anomaly_alert_days: int = Field(7, ge=1, alias="TOKENSPEND_ANOMALY_ALERT_DAYS")
    # the severity of a file source's rejects check while one of its files is quarantined (defs/events/checks.py)
    quarantine_severity: Literal["warn", "error"] = Field("warn", alias="TOKENSPEND_QUARANTINE_SEVERITY")

    @field_validator("providers_setting", "reconciliation_accepted_causes", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return _comma_list(value)

    @field_validator("otel_tag_map")
    @classmethod
    def _tag_map(cls, value: str | None) -> str | None:
        if value is not None:
            parse_tag_map(value)
        return value

    @field_validator("providers_setting")
    @classmethod
    def _known_providers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(PROVIDER_KEY_VARS))
        if unknown:
            raise ValueError(f"unknown provider(s) {', '.join(unknown)}; known: {', '.join(PROVIDER_KEY_VARS)}")
        return tuple(p for p in PROVIDER_KEY_VARS if p in value)

    @field_validator("demo_dir", "duckdb_path_setting", "published_path_setting", "landing_dir_setting",
                     "export_dir_setting", "seeds_dir_setting")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        return _resolved(value)

    @model_validator(mode="after")
    def _deployments_apart(self) -> Settings:
        live, demo = self.deployment("live"), self.deployment("demo")
        if live.published_path == live.duckdb_path:
            raise ValueError(
                f"TOKENSPEND_PUBLISHED_PATH must differ from TOKENSPEND_DUCKDB_PATH ({live.duckdb_path}): builds "
                "write the warehouse file, BI tools read the published copy"
            )
        clashes = [
            (what, var, getattr(live, attr))
            for what, var, attr in (
                ("warehouse file", "TOKENSPEND_DUCKDB_PATH", "duckdb_path"),
                ("landing folder", "TOKENSPEND_LANDING_DIR", "landing_dir"),
                ("published copy", "TOKENSPEND_PUBLISHED_PATH", "published_path"),
            )
            if getattr(live, attr) == getattr(demo, attr) or _inside(getattr(live, attr), self.demo_dir)
        ]
        if clashes:
            what, var, path = clashes[0]
            raise ValueError(
                f"the live {what} {path} ({var}) is inside the demo deployment's folder {self.demo_dir} "
                "(TOKENSPEND_DEMO_DIR): live and demo never share files. Unset "
                f"{var if getattr(self, _SETTING_OF[var]) is not None else 'TOKENSPEND_DEMO_DIR'} "
                "or point it elsewhere"
            )
        if _inside(live.landing_dir, demo.landing_dir) or _inside(demo.landing_dir, live.landing_dir):
            raise ValueError(
                f"the demo's landing folder {demo.landing_dir} and the live landing folder {live.landing_dir} "
                "overlap: set TOKENSPEND_DEMO_DIR or TOKENSPEND_LANDING_DIR so that neither holds the other"
            )
        return self

    # --- the deployment in force -----------------------------------------------------------------

    def deployment(self, mode: Mode | None = None) -> Deployment:
        """The files of the live or the demo deployment (default: this mode's)."""
        mode = mode or self.mode
        if mode == "demo":
            folder = self.demo_dir
            return Deployment(
                mode="demo",
                duckdb_path=folder / "tokenspend.duckdb",
                landing_dir=folder / "landing",
                published_path=folder / "published" / "tokenspend.duckdb",
                export_dir=folder / "exports",
                seeds_dir=SEEDS_DIR,
            )
        working = self.duckdb_path_setting or WAREHOUSE_DIR / "tokenspend.duckdb"
        return Deployment(
            mode="live",
            duckdb_path=working,
            landing_dir=self.landing_dir_setting or WAREHOUSE_DIR / "landing",
            published_path=self.published_path_setting or working.parent / "published" / working.name,
            export_dir=self.export_dir_setting or working.parent / "exports",
            seeds_dir=self.seeds_dir_setting or SEEDS_DIR,
        )

    @property
    def duckdb_path(self) -> Path:
        """The warehouse file builds write (Dagster and dbt); never for BI tools."""
        return self.deployment().duckdb_path

    @property
    def published_path(self) -> Path:
        """The copy of the marts BI tools open read-only, replaced after each build whose checks passed."""
        return self.deployment().published_path

    @property
    def landing_dir(self) -> Path:
        """Raw provider pages as received, and the request-level and outcome files."""
        return self.deployment().landing_dir

    @property
    def export_dir(self) -> Path:
        """Files for other systems (the hard-cap export)."""
        return self.deployment().export_dir

    @property
    def seeds_dir(self) -> Path:
        """The organisation's lookups: price book, owners, roster, catalogues, budgets."""
        return self.deployment().seeds_dir

    def is_default_path(self, var: str) -> bool:
        """True when the path variable `var` is not set (its default is in force)."""
        return getattr(self, _SETTING_OF[var]) is None

    # --- providers ---------------------------------------------------------------------------------

    @property
    def enabled_providers(self) -> tuple[str, ...]:
        """The providers this deployment ingests. Demo: both (the demo organisation serves both). Live:
        `TOKENSPEND_PROVIDERS` when set, else the providers whose admin key is set (read now: a key is
        looked at for presence only)."""
        if self.mode == "demo":
            return tuple(PROVIDER_KEY_VARS)
        if self.providers_setting:
            return self.providers_setting
        return tuple(p for p, var in PROVIDER_KEY_VARS.items() if os.environ.get(var))

    def missing_keys(self, providers: tuple[str, ...] | None = None) -> list[str]:
        """The admin key variables, unset, of `providers` (default: the enabled ones); none in demo mode."""
        if self.mode == "demo":
            return []
        wanted = self.enabled_providers if providers is None else providers
        return [PROVIDER_KEY_VARS[p] for p in wanted if not os.environ.get(PROVIDER_KEY_VARS[p])]

    def require_provider_keys(self, providers: tuple[str, ...] | None = None) -> None:
        """Raise SettingsError naming every enabled provider's key variable that is not set (live mode)."""
        missing = self.missing_keys(providers)
        if missing:
            raise SettingsError(
                f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set, and TOKENSPEND_PROVIDERS "
                f"enables {', '.join(p for p, v in PROVIDER_KEY_VARS.items() if v in missing)}: live mode fetches "
                "only with the organisation's admin key and never falls back to the demo. Set the key, leave the "
                "provider out of TOKENSPEND_PROVIDERS, or run the demo (TOKENSPEND_MODE=demo, `make run`)"
            )


@dataclass(frozen=True)
class Deployment:
    """The files one mode reads and writes."""

    mode: Mode
    duckdb_path: Path
    landing_dir: Path
    published_path: Path
    export_dir: Path
    seeds_dir: Path


_SETTING_OF = {
    "TOKENSPEND_DUCKDB_PATH": "duckdb_path_setting",
    "TOKENSPEND_PUBLISHED_PATH": "published_path_setting",
    "TOKENSPEND_LANDING_DIR": "landing_dir_setting",
    "TOKENSPEND_EXPORT_DIR": "export_dir_setting",
    "TOKENSPEND_SEEDS_DIR": "seeds_dir_setting",
}
_VARIABLES = tuple(sorted(f.alias for f in Settings.model_fields.values() if f.alias))


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or path.is_relative_to(folder)


def _message(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors(include_url=False):
        var = str(error["loc"][0]) if error.get("loc") else "settings"
        text = error["msg"].removeprefix("Value error, ")
        if var in _VARIABLES and var not in _SECRET_VARS and "input" in error and isinstance(error["input"], str):
            text += f" (got {error['input']!r})"
        lines.append(f"{var}: {text}" if var in _VARIABLES else text)
    return "invalid tokenspend settings:\n  " + "\n  ".join(lines)


@functools.lru_cache(maxsize=16)
def _load(fingerprint: str) -> Settings:  # noqa: ARG001 - the cache key: one validation per environment
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(_message(exc)) from None


def current_settings() -> Settings:
    """The settings of the present environment, validated once per distinct environment.

    Raises SettingsError naming every variable that is wrong. The cache key is a digest of the
    variables' values, so no value is kept outside the Settings object.
    """
    digest = hashlib.sha256()
    for name in _VARIABLES:
        value = os.environ.get(name)
        digest.update(f"{name}\0{'' if value is None else value}\0{value is None}\1".encode())
    return _load(digest.hexdigest())


def enter_demo_mode() -> None:
    """A command's `--demo` flag: this process, and the dbt commands it starts, are the demo deployment
    (TOKENSPEND_MODE=demo). Raises SettingsError when the environment already chose another mode."""
    mode = os.environ.get("TOKENSPEND_MODE", "demo")
    if mode not in ("", "demo"):
        raise SettingsError(f"--demo contradicts TOKENSPEND_MODE={mode}")
    os.environ["TOKENSPEND_MODE"] = "demo"


def command_settings(parser: argparse.ArgumentParser, demo: bool) -> Settings:
    """The settings of a command-line entry point: the demo deployment's with `--demo`, else the
    environment's. A setting that cannot be used ends the command with status 2 and says which."""
    try:
        if demo:
            enter_demo_mode()
        return current_settings()
    except SettingsError as exc:
        parser.exit(2, f"{parser.prog}: {exc}\n")
