"""Files for other tools, written from the warehouse by DuckDB `COPY`: the marts for spreadsheets and the
FinOps FOCUS export, each as CSV and Parquet, in the deployment's exports folder.

- `python -m dagster_project.export [--demo]` (`make export`: the demo's): every table of schema
  `marts` into `<exports>/marts/`, and the FOCUS cost and usage dataset into `<exports>/focus/`.
- the asset `exports/focus_files` (defs/export/) writes the FOCUS files after each build that published.
- `python -m dagster_project.export.docs [--demo]` (`make docs`: the demo's): the dbt docs site of
  the project, with the catalog of the deployment's warehouse and the exposures that say who reads what.

The exports folder is `TOKENSPEND_EXPORT_DIR` (default `exports/` beside the warehouse file; the demo's
`warehouse/demo/exports`). See `files.py` for how files are written.
"""
