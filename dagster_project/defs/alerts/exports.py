"""`exports/hard_caps`: the hard caps in force, as files a gateway can enforce (CSV and JSON).

tokenspend is not in the request path and blocks nothing. A gateway (LiteLLM, Portkey, an internal
proxy) reads `hard_caps.json` or `hard_caps.csv` from `$TOKENSPEND_EXPORT_DIR` (default
`warehouse/exports`) and applies the caps itself, e.g. as a LiteLLM tag budget (`max_budget`,
`budget_duration`) on the tag `feature:<scope>`, or by refusing the scope's requests while `enforce`
is true (the month's spend has passed the cap).

Only hard caps are exported, and only for the current month (the month of the as-of date). A hard cap
on a production scope cannot get here: the seed test `assert_no_hard_cap_on_production` refuses it,
and this asset re-checks and fails (leaving the previous files in place) rather than export one.
Files are written to a temporary name and renamed, so a reader never sees half a file.
"""

import csv
import io
import json
import os
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb

from dagster_project.lib.deployment import open_warehouse
from dagster_project.settings import current_settings

BUDGET_STATUS = dg.AssetKey(["marts", "mart_budget_status"])

COLUMNS = [
    "scope_type", "scope", "gateway_tag", "period_start", "as_of_date", "monthly_cap_usd", "spend_to_date_usd",
    "remaining_usd", "forecast_month_end_usd", "status", "enforce", "owner",
]

HARD_CAPS_SQL = """
select scope_type, scope, period_start, as_of_date, monthly_budget_usd, spend_to_date_usd,
       forecast_month_end_usd, status, action, owner, is_production
from marts.mart_budget_status
where is_current_period and policy = 'hard_cap'
order by scope_type, scope
"""


class ProductionHardCapError(RuntimeError):
    """A hard cap names a production scope; the export refuses to write it."""


def _cents(value: Decimal) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"))


def hard_caps(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """One dict per hard cap in force this month; raises if any names a scope not known to be non-production."""
    rows = con.execute(HARD_CAPS_SQL).fetchall()
    production = [f"{r[0]}:{r[1]}" for r in rows if r[10] is not False]
    if production:
        raise ProductionHardCapError(
            f"refusing to export hard caps on scopes that are production or not known to be non-production: "
            f"{', '.join(production)} (fix seeds/budgets.csv; assert_no_hard_cap_on_production says why)"
        )
    caps = []
    for scope_type, scope, period, as_of, cap, spend, forecast, status, action, owner, _ in rows:
        caps.append({
            "scope_type": scope_type,
            "scope": scope,
            "gateway_tag": f"{scope_type}:{scope}",
            "period_start": period.isoformat(),
            "as_of_date": as_of.isoformat(),
            "monthly_cap_usd": _cents(cap),
            "spend_to_date_usd": _cents(spend),
            "remaining_usd": max(_cents(cap) - _cents(spend), Decimal("0.00")),
            "forecast_month_end_usd": _cents(forecast),
            "status": status,
            "enforce": action == "enforce_cap",
            "owner": owner,
        })
    return caps


def _json_value(value):
    # money to the cent as a JSON number: the shortest repr of a 2-decimal float is its exact text
    return float(value) if isinstance(value, Decimal) else value


def render_json(caps: list[dict]) -> str:
    body = {
        "source": "tokenspend",
        "description": (
            "Monthly hard caps on discretionary (non-production) LLM usage. Enforce at the gateway: "
            "refuse requests of a scope while enforce is true, or set its budget to monthly_cap_usd "
            "(LiteLLM: max_budget with budget_duration 1mo on gateway_tag)."
        ),
        "as_of_date": caps[0]["as_of_date"] if caps else None,
        "caps": [
            {**{k: _json_value(v) for k, v in cap.items()}, "max_budget": _json_value(cap["monthly_cap_usd"]),
             "budget_duration": "1mo"}
            for cap in caps
        ],
    }
    return json.dumps(body, indent=2) + "\n"


def render_csv(caps: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for cap in caps:
        writer.writerow({**cap, "enforce": "true" if cap["enforce"] else "false", "owner": cap["owner"] or ""})
    return out.getvalue()


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_hard_caps(con: duckdb.DuckDBPyConnection, export_dir: Path) -> tuple[list[dict], list[Path]]:
    """Write hard_caps.csv and hard_caps.json into `export_dir`; returns the caps and the paths."""
    caps = hard_caps(con)
    export_dir.mkdir(parents=True, exist_ok=True)
    paths = [export_dir / "hard_caps.csv", export_dir / "hard_caps.json"]
    _write_atomically(paths[0], render_csv(caps))
    _write_atomically(paths[1], render_json(caps))
    return caps, paths


@dg.asset(
    key=["exports", "hard_caps"],
    group_name="alerts",
    deps=[BUDGET_STATUS],
    kinds={"csv", "json"},
    description=(
        "The hard caps in force this month (non-production employee tooling only), as hard_caps.csv and "
        "hard_caps.json in $TOKENSPEND_EXPORT_DIR for a gateway to enforce: cap, spend to date, remaining, "
        "status and whether to enforce now. Production scopes never appear."
    ),
)
def hard_caps_export(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    with open_warehouse(read_only=True) as con:
        caps, paths = write_hard_caps(con, current_settings().export_dir)
    enforced = [c["gateway_tag"] for c in caps if c["enforce"]]
    context.log.info(f"hard caps: {len(caps)} exported, {len(enforced)} to enforce now {enforced}")
    return dg.MaterializeResult(
        metadata={
            "caps": len(caps),
            "enforce_now": dg.MetadataValue.json(enforced),
            "files": dg.MetadataValue.json([str(p) for p in paths]),
        }
    )
