"""`demo/demo_organisation`: generates the demo organisation into the demo's landing folder.

It exists in demo mode only and no other asset depends on it: `make run` (`cli run --demo`) runs it
first, and in the UI its high step priority starts it before the event loads of the same run. The
provider ingest assets, being partitioned, run after it in a run of their own.
"""

import dagster as dg

from dagster_project.lib.deployment import landing_folder
from dagster_project.settings import PROVIDER_KEY_VARS, current_settings

DEMO_ORG_KEY = dg.AssetKey(["demo", "demo_organisation"])
FIRST = "100"  # step priority: before every other step that is ready at the same time


@dg.asset(key=DEMO_ORG_KEY, group_name="demo", kinds={"duckdb"}, op_tags={"dagster/priority": FIRST})
def demo_organisation() -> dg.MaterializeResult:
    """A deterministic demo organisation (60 days, both providers): provider usage and cost behind the
    demo API, and tagged event and outcome files in the demo's landing folder. Size: TOKENSPEND_DEMO_SCALE."""
    from dagster_project.demo.generator import generate_demo_org

    config = current_settings()
    if config.mode != "demo":
        raise dg.Failure(description="the demo organisation is generated in demo mode only (TOKENSPEND_MODE=demo)")
    org = generate_demo_org(landing_folder(config), scale=config.demo_scale, providers=tuple(PROVIDER_KEY_VARS))
    return dg.MaterializeResult(metadata={"mode": "demo", "providers": ", ".join(PROVIDER_KEY_VARS),
                                          "summary": str(org)})
