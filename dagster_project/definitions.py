"""The tokenspend code location: everything under `defs/`, loaded automatically.

Project-wide policy lives here, not asset lists: assets run in one process, one after the other,
because DuckDB allows one writer per warehouse file.
"""

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    loaded = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    return dg.Definitions.merge(loaded, dg.Definitions(executor=dg.in_process_executor))
