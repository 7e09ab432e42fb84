"""Live and demo are two deployments that never share a file: each warehouse file and landing folder
records the mode that first wrote it, and refuses the other.

- A warehouse file keeps its mode in a one-row table `ops.warehouse_mode` (mode, recorded_at), written
  by the first connection that writes it. Every asset opens the warehouse through `open_warehouse`,
  which checks the mode before anything else happens on the connection (a writer also stamps an
  unstamped file), so a live run never writes into the demo's warehouse and the demo never into a live
  one; read-only openers (checks, the publish) refuse the other mode's file too.
- A landing folder keeps its mode in the file `.tokenspend_mode`. Live mode also refuses any landing
  folder that holds the demo organisation's files (`demo_provider/`, `events/demo/`, `outcomes/demo/`),
  whatever its stamp says: live mode never scans demo files.

A file or folder written before modes were recorded has no stamp; its mode is read from its content:
a warehouse that loaded the demo's event or outcome files is demo, a landing folder that holds the
demo's files is demo, anything else that holds data is live, and an empty one takes the mode of its
first writer.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import duckdb

from dagster_project.lib.warehouse import LOCK_WAIT_SECONDS, connect
from dagster_project.settings import Settings, current_settings

MODE_TABLE = "ops.warehouse_mode"
RECORDED = "recorded in ops.warehouse_mode"
LANDING_STAMP = ".tokenspend_mode"
# Folders the demo organisation writes into its landing folder (dagster_project/demo/generator.py).
DEMO_LANDING_FOLDERS = ("demo_provider", "events/demo", "outcomes/demo")
# Where the demo's event and outcome files sit, as a LIKE pattern on raw tables' _source_file.
_DEMO_SOURCE_FILES = {"request_events": "%/events/demo/%", "outcome_events": "%/outcomes/demo/%"}


class WrongDeployment(RuntimeError):
    """A warehouse file or landing folder belongs to the other mode; the message says why and what to do."""


# --- warehouse file -----------------------------------------------------------------------------------

def _tables(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    return set(con.execute(
        "select table_schema, table_name from information_schema.tables where table_catalog = current_database()"
    ).fetchall())


def warehouse_mode(con: duckdb.DuckDBPyConnection) -> tuple[str | None, str]:
    """The mode the warehouse on `con` belongs to, and how that is known.

    (mode, "recorded") from `ops.warehouse_mode`; for an unstamped file, ("demo", reason) when it loaded the
    demo's files, ("live", reason) when it holds other data, (None, "empty") when it holds none.
    """
    tables = _tables(con)
    if ("ops", "warehouse_mode") in tables:
        row = con.execute(f"select mode from {MODE_TABLE} limit 1").fetchone()
        if row:
            return row[0], RECORDED
    stamped_files = {t for (t,) in con.execute(
        "select table_name from information_schema.columns where table_catalog = current_database() "
        "and table_schema = 'raw' and column_name = '_source_file'").fetchall()}
    for table, pattern in _DEMO_SOURCE_FILES.items():
        if table in stamped_files and con.execute(
                f"select exists (select 1 from raw.{table} where _source_file like ?)", [pattern]).fetchone()[0]:
            return "demo", f"raw.{table} holds rows loaded from the demo organisation's files"
    for schema, table in sorted(tables):
        if schema in ("raw", "marts") and con.execute(f'select exists (select 1 from {schema}."{table}")').fetchone()[0]:
            return "live", f"{schema}.{table} holds data and nothing the demo wrote"
    return None, "empty"


def _remedy(config: Settings, path: Path, recorded: bool) -> str:
    """What to do when `config`'s mode meets a warehouse file of the other mode."""
    if config.mode == "demo":
        return (f"Demo mode writes {path} because TOKENSPEND_DEMO_DIR is {config.demo_dir}: set TOKENSPEND_DEMO_DIR "
                "to a folder of its own (default warehouse/demo)")
    demo = config.deployment("demo").duckdb_path
    if not recorded:
        return (f"It holds the demo organisation from before the demo had a deployment of its own (now {demo}): "
                "delete or move it, or set TOKENSPEND_DUCKDB_PATH to another file")
    if config.is_default_path("TOKENSPEND_DUCKDB_PATH"):
        return ("Live mode writes this file by default: move it away, or set TOKENSPEND_DUCKDB_PATH to a file of "
                f"your own; the demo runs with TOKENSPEND_MODE=demo (`make run`) and writes {demo}")
    return (f"Live mode writes {path} because TOKENSPEND_DUCKDB_PATH says so: unset TOKENSPEND_DUCKDB_PATH "
            "(default warehouse/tokenspend.duckdb) or point it at a file of your own; the demo runs with "
            f"TOKENSPEND_MODE=demo (`make run`) and writes {demo}")


def check_warehouse_mode(con: duckdb.DuckDBPyConnection, config: Settings, path: Path, write: bool) -> None:
    """Refuse the warehouse on `con` when it belongs to the other mode; a writer stamps an unstamped file."""
    mode, how = warehouse_mode(con)
    recorded = how == RECORDED
    if mode is not None and mode != config.mode:
        raise WrongDeployment(f"{path} was built in {mode} mode ({how}); {config.mode} mode refuses it, so demo "
                              f"and real data never mix. {_remedy(config, path, recorded)}")
    if write and not recorded:
        con.execute("create schema if not exists ops")
        con.execute(f"create table if not exists {MODE_TABLE} (mode varchar not null, recorded_at timestamp not null)")
        con.execute(f"insert into {MODE_TABLE} values (?, ?)",
                    [config.mode, dt.datetime.now(dt.UTC).replace(tzinfo=None)])


@contextlib.contextmanager
def open_warehouse(
    config: Settings | None = None, read_only: bool = False, lock_wait_seconds: float = LOCK_WAIT_SECONDS
) -> Iterator[duckdb.DuckDBPyConnection]:
    """`connect` to this mode's warehouse file, refusing it (WrongDeployment) when it belongs to the other
    mode, before anything is written on the connection."""
    config = config or current_settings()
    path = config.duckdb_path
    with connect(path, read_only, lock_wait_seconds,
                 guard=lambda con: check_warehouse_mode(con, config, path, write=not read_only)) as con:
        yield con


# --- landing folder -----------------------------------------------------------------------------------

def demo_files_in(folder: Path) -> list[str]:
    """The demo organisation's folders present in the landing folder `folder`."""
    return [name for name in DEMO_LANDING_FOLDERS if (folder / name).exists()]


def landing_mode(folder: Path) -> tuple[str | None, str]:
    """The mode a landing folder belongs to, and how that is known (see the module docstring)."""
    stamp = folder / LANDING_STAMP
    if stamp.is_file():
        return stamp.read_text(encoding="utf-8").strip(), f"recorded in {LANDING_STAMP}"
    demo = demo_files_in(folder)
    if demo:
        return "demo", f"it holds the demo organisation's {', '.join(f + '/' for f in demo)}"
    if folder.is_dir() and any(p.name != LANDING_STAMP for p in folder.iterdir()):
        return "live", "it holds files and nothing the demo wrote"
    return None, "empty"


def landing_folder(config: Settings | None = None, write: bool = True) -> Path:
    """This mode's landing folder, checked: WrongDeployment when it belongs to the other mode, and, in live
    mode, whenever it holds the demo's files. A writer stamps an unstamped folder with its mode."""
    config = config or current_settings()
    folder = config.landing_dir
    demo = demo_files_in(folder) if config.mode == "live" else []
    if demo:
        raise WrongDeployment(
            f"the landing folder {folder} holds the demo organisation's files ({', '.join(f + '/' for f in demo)}); "
            "live mode never reads demo data. Remove those folders from it (the demo now lands in "
            f"{config.deployment('demo').landing_dir}) or set TOKENSPEND_LANDING_DIR to a folder of its own"
        )
    mode, how = landing_mode(folder)
    if mode is not None and mode != config.mode:
        where = ("set TOKENSPEND_DEMO_DIR to a folder of its own (default warehouse/demo)" if config.mode == "demo"
                 else "set TOKENSPEND_LANDING_DIR to a folder of its own")
        raise WrongDeployment(f"the landing folder {folder} belongs to {mode} mode ({how}); {config.mode} mode "
                              f"refuses it: {where}")
    if write and how != f"recorded in {LANDING_STAMP}":
        folder.mkdir(parents=True, exist_ok=True)
        (folder / LANDING_STAMP).write_text(config.mode + "\n", encoding="utf-8")
    return folder


def verify_deployment(config: Settings | None = None) -> None:
    """Check, writing nothing, that this mode's warehouse file (when it exists) and landing folder are its
    own; raises WrongDeployment. For a command to call before it starts any run."""
    config = config or current_settings()
    landing_folder(config, write=False)
    path = config.duckdb_path
    if path.exists():
        with connect(path, read_only=True) as con:
            check_warehouse_mode(con, config, path, write=False)
