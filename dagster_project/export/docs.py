"""`python -m dagster_project.export.docs [--demo] [--serve]`: the dbt docs site (`make docs`: the demo's).

Runs `dbt docs generate --static` on the deployment's warehouse with the paths Dagster gives dbt
(`dbt_vars`: the warehouse file and the seeds folder), so nothing has to be exported by hand. The site
goes to `docs/` beside the warehouse file (the demo's: `warehouse/demo/docs/`), away from the manifest the
code location loads:

- `static_index.html`: the whole site in one file; open it in a browser, no server needed;
- `index.html` with `manifest.json` and `catalog.json`: what `dbt docs serve` serves (`--serve` runs it).

The lineage shows every model and the exposures that read them (`dbt_models/models/_exposures.yml`: the
spend report, the FOCUS export, the spreadsheet export, BI dashboards on the published copy). The catalog
(column types, row counts) is the warehouse's; before a first build there is no warehouse, and the site is
generated without a catalog against an empty scratch database in the docs folder. dbt opens the warehouse
to read its catalog, so it fails while a build holds the file. Exit status: dbt's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from dagster_project.settings import DBT_PROJECT_DIR, Settings, command_settings

SCRATCH = "empty_catalog.duckdb"  # the database dbt compiles against when the warehouse does not exist yet


def docs_dir(config: Settings) -> Path:
    """Where the deployment's docs site is written: `docs/` beside its warehouse file."""
    return config.duckdb_path.parent / "docs"


def docs_command(config: Settings, action: str = "generate") -> list[str]:
    """The dbt command that generates (or serves) the deployment's docs site."""
    from dagster_project.defs.dbt.project import dbt_executable, dbt_vars

    target = docs_dir(config)
    variables = dbt_vars(config)
    command = [dbt_executable(), "docs", action, "--project-dir", str(DBT_PROJECT_DIR),
               "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(target)]
    if action == "generate":
        command.append("--static")
        if not config.duckdb_path.exists():
            variables["tokenspend_duckdb_path"] = str(target / SCRATCH)
            command.append("--empty-catalog")
    return [*command, "--vars", json.dumps(variables)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tokenspend-docs", description=__doc__.splitlines()[0])
    parser.add_argument("--demo", action="store_true", help="the demo deployment (warehouse/demo)")
    parser.add_argument("--serve", action="store_true", help="then serve the site (dbt docs serve) until stopped")
    args = parser.parse_args(argv)
    config = command_settings(parser, args.demo)
    target = docs_dir(config)
    target.mkdir(parents=True, exist_ok=True)
    has_warehouse = config.duckdb_path.exists()
    if not has_warehouse:
        print(f"No warehouse at {config.duckdb_path} yet: the site is generated without a catalog "
              "(column types and row counts appear once the warehouse is built).", flush=True)
    status = subprocess.run(docs_command(config)).returncode
    if status != 0:
        print(f"tokenspend docs: dbt docs generate failed (exit {status}); if a build holds {config.duckdb_path}, "
              "run it again when the build has finished.", file=sys.stderr)
        return status
    print(f"Docs site: {target / 'static_index.html'} (open it in a browser; one file, no server needed)")
    print(f"Served:    python -m dagster_project.export.docs --serve{' --demo' if args.demo else ''} "
          f"(dbt docs serve on {target})")
    if args.serve:
        return subprocess.run(docs_command(config, "serve")).returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
