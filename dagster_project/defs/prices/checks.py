"""`price_book_agrees_with_price_database`: is the price book current? (WARN)

Reads `marts.mart_price_crosscheck` (the provider's tokens per day x provider x model priced with the
price book in force and with the price database alone, both in dbt) and warns on every day x provider x
model whose estimates differ by more than `TOKENSPEND_PRICE_CROSSCHECK_TOLERANCE_PCT` (default 1) percent
of the database's estimate: either `price_book.csv` is stale, or the database is (upgrade genai-prices,
`make prices`), or the row is a negotiated price (then the difference is expected). The metadata
names each model, its days, both estimates and the difference.

It works over the mart's rows (day x provider x model, a few hundred), aggregated here per model.
"""

from __future__ import annotations

from decimal import Decimal

import dagster as dg

from dagster_project.lib.deployment import open_warehouse
from dagster_project.settings import current_settings

CROSSCHECK = dg.AssetKey(["marts", "mart_price_crosscheck"])
TOP_N = 20


def measure_crosscheck(con, tolerance_pct: float) -> dict:
    """Rows beyond tolerance (per day x provider x model), the same per model, and how many were compared."""
    limit = Decimal(str(tolerance_pct))
    rows = con.execute("""
        select usage_date, provider, model, price_origin, database_model, total_tokens,
               book_estimate_usd, database_estimate_usd, difference_usd, difference_pct
        from marts.mart_price_crosscheck
        where is_compared
        order by usage_date, provider, model
    """).fetchall()
    # difference_pct is null when the database's estimate is 0: then any difference counts
    beyond = [r for r in rows if (abs(r[9]) > limit if r[9] is not None else r[8] != 0)]
    models: dict[tuple, dict] = {}
    for day, provider, model, origin, database_model, tokens, book, database, _diff, _pct in beyond:
        m = models.setdefault((provider, model), {
            "provider": provider, "model": model, "price_origin": origin, "database_model": database_model,
            "days": 0, "first": day, "last": day, "tokens": 0, "book": Decimal(0), "database": Decimal(0)})
        m["days"] += 1
        m["first"], m["last"] = min(m["first"], day), max(m["last"], day)
        m["tokens"] += tokens
        m["book"] += book
        m["database"] += database
    by_model = sorted(models.values(), key=lambda m: (-abs(m["book"] - m["database"]), m["provider"], m["model"]))
    not_compared = con.execute(
        "select count(*) from marts.mart_price_crosscheck where not is_compared").fetchone()[0]
    return {"compared": len(rows), "beyond": beyond, "models": by_model, "not_compared": not_compared,
            "tolerance": tolerance_pct}


def describe(m: dict) -> str:
    if not m["compared"]:
        return ("nothing compared: no provider usage priced by both the price book and the price database "
                "(run `make prices` to write the database's rows)")
    if not m["models"]:
        return f"all {m['compared']} day x provider x model within {m['tolerance']:g}% of the price database"
    worst = m["models"][0]
    pct = (worst["book"] - worst["database"]) / worst["database"] * 100 if worst["database"] else None
    return (
        f"{len(m['models'])} model(s) on {len(m['beyond'])} of {m['compared']} day x provider x model differ "
        f"from the price database by more than {m['tolerance']:g}%; largest {worst['provider']} {worst['model']} "
        f"({worst['price_origin']}): book ${worst['book']:,.2f} vs database ${worst['database']:,.2f}"
        + (f" ({pct:+.1f}%)" if pct is not None else "")
        + f" on {worst['days']} day(s) {worst['first']}..{worst['last']}: one of them is stale (or the book "
        "holds a negotiated price); check seeds/price_book.csv, or upgrade genai-prices and run `make prices`"
    )


def metadata(m: dict) -> dict:
    table = ["| provider | model | priced by | database model | days | first | last | tokens | book USD | "
             "database USD | difference % |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in m["models"][:TOP_N]:
        pct = f"{(r['book'] - r['database']) / r['database'] * 100:+.2f}" if r["database"] else "n/a"
        table.append(f"| {r['provider']} | {r['model']} | {r['price_origin']} | {r['database_model']} | {r['days']} | "
                     f"{r['first']} | {r['last']} | {r['tokens']:,} | {r['book']:,.6f} | {r['database']:,.6f} | {pct} |")
    return {
        "tolerance_pct": dg.MetadataValue.float(m["tolerance"]),
        "compared_rows": dg.MetadataValue.int(m["compared"]),
        "rows_beyond_tolerance": dg.MetadataValue.int(len(m["beyond"])),
        "rows_not_compared": dg.MetadataValue.int(m["not_compared"]),
        "models_beyond_tolerance": dg.MetadataValue.json(
            [f"{r['provider']} {r['model']}" for r in m["models"]]),
        "models": dg.MetadataValue.md("\n".join(table)),
    }


@dg.asset_check(asset=CROSSCHECK, name="price_book_agrees_with_price_database", blocking=False)
def price_book_agrees_with_price_database() -> dg.AssetCheckResult:
    """Warns when the price book and the price database price a day's traffic differently (beyond tolerance)."""
    tolerance = current_settings().price_crosscheck_tolerance_pct
    with open_warehouse(read_only=True) as con:
        m = measure_crosscheck(con, tolerance)
    return dg.AssetCheckResult(passed=not m["models"], severity=dg.AssetCheckSeverity.WARN,
                               description=describe(m), metadata=metadata(m))
