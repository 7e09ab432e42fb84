"""Resources shared by both modes. The provider resources depend on the mode: `definitions.py`."""

import dagster as dg

from dagster_project.defs.dbt.project import dbt_resource

defs = dg.Definitions(resources={"dbt": dbt_resource()})
