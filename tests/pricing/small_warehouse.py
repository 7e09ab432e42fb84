"""A small warehouse for pricing tests: a copy of the dbt project and the seeds, a tmp DuckDB, raw rows
written by the test, and dbt run as a subprocess into a tmp target.

The copy is what lets a test edit `price_book.csv` and rebuild, as a user would, without touching the
repository's seeds.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from dagster_project import settings
from dagster_project.lib.raw_tables import create_raw_tables

PROJECT = "proj_pricing"
KEY = "key_pricing"
PRICED_MODEL_ID = "gpt-4.1-mini-2025-04-14"
PRICED_MODEL = "gpt-4.1-mini"
UNPRICED_MODEL_ID = "gpt-5-mini-2025-08-07"
# The provider's own gpt-5-mini price (the price book deliberately has none).
UNPRICED_BILLED_PER_MILLION = {"uncached_input": Decimal("0.25"), "output": Decimal("2.00")}
DAYS = [dt.date(2026, 10, 13) + dt.timedelta(days=i) for i in range(4)]  # the 10-15 price cut inside

# Per day: provider usage of the priced model, and the logged part (10 requests of 11; 1 is unlogged).
REQUEST = {"uncached_input": 100_000, "cache_read_input": 10_000, "output": 50_000}
LOGGED_REQUESTS = 10
USAGE_REQUESTS = 11
UNPRICED_REQUEST = {"uncached_input": 100_000, "cache_read_input": 0, "output": 10_000}
UNPRICED_LOGGED, UNPRICED_USAGE = 2, 3
# Two logged Anthropic requests (no usage or bill for them: the reconciliation reads them as not_billed):
# input just above and exactly at Anthropic's 200k long-context threshold.
LONG_CONTEXT_MODEL_ID = "claude-sonnet-4-5-20250929"
LONG_CONTEXT_REQUESTS = {
    "req-long": {"uncached_input": 150_001, "cache_read_input": 40_000, "cache_write_input": 10_000, "output": 1_000},
    "req-at-threshold": {"uncached_input": 150_000, "cache_read_input": 40_000, "cache_write_input": 10_000,
                         "output": 1_000},
}


def dbt_executable() -> str:
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else "dbt"


def read_price_book(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def list_price(rows: list[dict[str, str]], model: str, token_class: str, day: dt.date,
               context_window: str = "all") -> Decimal:
    """The standard, non-batch list price in force on `day` for the window, per million tokens."""
    matches = [
        Decimal(r["usd_per_million_tokens"]) for r in rows
        if r["model"] == model and r["token_class"] == token_class
        and r["service_tier"] == "standard" and r["context_window"] == context_window
        and dt.date.fromisoformat(r["valid_from"]) <= day
        and (not r["valid_to"] or day < dt.date.fromisoformat(r["valid_to"]))
    ]
    assert len(matches) == 1, (model, token_class, day, matches)
    return matches[0]


def usd(tokens: int, per_million: Decimal) -> Decimal:
    return (Decimal(tokens) * per_million / Decimal(1_000_000)).quantize(Decimal("0.000000001"))


@dataclass
class SmallWarehouse:
    root: Path
    db: Path
    project_dir: Path
    seeds_dir: Path
    target: Path

    @property
    def price_book(self) -> Path:
        return self.seeds_dir / "price_book.csv"

    def dbt(self, *args: str) -> None:
        env = {**os.environ, "TOKENSPEND_DUCKDB_PATH": str(self.db), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        result = subprocess.run(
            [dbt_executable(), *args, "--project-dir", str(self.project_dir), "--profiles-dir",
             str(self.project_dir), "--target-path", str(self.target), "--log-path", str(self.root / "logs")],
            env=env, capture_output=True, text=True, check=False,
        )
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]

    def build(self) -> None:
        """Load the seeds as they are in the copy, then (re)build the fact and the reconciliation."""
        self.dbt("seed", "--full-refresh")
        self.dbt("run", "--select", "+mart_reconciliation", "+fct_token_spend")

    def query(self, sql: str) -> list[tuple]:
        con = duckdb.connect(str(self.db), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()


def write_raw_rows(db: Path, price_book: list[dict[str, str]]) -> None:
    """OpenAI usage, bill and request events for four days: the bill is the list price in force."""
    loaded = "2026-10-20 00:00:00"
    con = duckdb.connect(str(db))
    try:
        con.execute("set TimeZone = 'UTC'")
        create_raw_tables(con)
        line = 0
        for day in DAYS:
            start, end = f"{day} 00:00:00", f"{day + dt.timedelta(days=1)} 00:00:00"
            for model_id, request, usage_n, logged_n in (
                (PRICED_MODEL_ID, REQUEST, USAGE_REQUESTS, LOGGED_REQUESTS),
                (UNPRICED_MODEL_ID, UNPRICED_REQUEST, UNPRICED_USAGE, UNPRICED_LOGGED),
            ):
                uncached, cached, output = (request[c] * usage_n for c in ("uncached_input", "cache_read_input",
                                                                              "output"))
                con.execute(
                    """insert into raw.openai_usage_completions (bucket_start, bucket_end, project_id, api_key_id,
                       model, batch, service_tier, input_tokens, output_tokens, input_cached_tokens,
                       input_uncached_tokens, input_cache_write_tokens, num_model_requests, _source_file, _page,
                       _loaded_at) values (?, ?, ?, ?, ?, false, 'default', ?, ?, ?, ?, 0, ?, 'test', 1, ?)""",
                    [start, end, PROJECT, KEY, model_id, uncached + cached, output, cached, uncached, usage_n, loaded],
                )
                if model_id == PRICED_MODEL_ID:
                    price = {c: list_price(price_book, PRICED_MODEL, c, day) for c in request}
                else:
                    price = {"uncached_input": UNPRICED_BILLED_PER_MILLION["uncached_input"],
                             "cache_read_input": Decimal(0), "output": UNPRICED_BILLED_PER_MILLION["output"]}
                for kind, tokens, per_million in (("input", uncached, price["uncached_input"]),
                                                  ("cached input", cached, price["cache_read_input"]),
                                                  ("output", output, price["output"])):
                    if tokens:
                        con.execute(
                            """insert into raw.openai_costs (bucket_start, bucket_end, project_id, api_key_id,
                               line_item, amount_value, amount_currency, quantity, _source_file, _page, _loaded_at)
                               values (?, ?, ?, null, ?, ?, 'usd', ?, 'test', 1, ?)""",
                            [start, end, PROJECT, f"{model_id}, {kind}", str(usd(tokens, per_million)), tokens,
                             loaded],
                        )
                for i in range(logged_n):
                    line += 1
                    con.execute(
                        """insert into raw.request_events (request_id, occurred_at, provider, model, api_key_id,
                           project_id, uncached_input_tokens, cache_read_input_tokens, cache_write_input_tokens,
                           output_tokens, batch, service_tier, feature, source_system, _source_file, _source_line,
                           _loaded_at) values (?, ?, 'openai', ?, ?, ?, ?, ?, 0, ?, false, 'default', 'pricing-test',
                           'event_file', 'test.jsonl', ?, ?)""",
                        [f"req-{model_id}-{day}-{i}", f"{day} 12:00:00", model_id, KEY, PROJECT,
                         request["uncached_input"], request["cache_read_input"], request["output"], line, loaded],
                    )
        for request_id, tokens in LONG_CONTEXT_REQUESTS.items():
            line += 1
            con.execute(
                """insert into raw.request_events (request_id, occurred_at, provider, model, api_key_id, project_id,
                   uncached_input_tokens, cache_read_input_tokens, cache_write_input_tokens, output_tokens, batch,
                   service_tier, source_system, _source_file, _source_line, _loaded_at)
                   values (?, ?, 'anthropic', ?, 'apikey_pricing', 'wrk_pricing', ?, ?, ?, ?, false, 'standard',
                   'event_file', 'test.jsonl', ?, ?)""",
                [request_id, f"{DAYS[0]} 09:00:00", LONG_CONTEXT_MODEL_ID, tokens["uncached_input"],
                 tokens["cache_read_input"], tokens["cache_write_input"], tokens["output"], line, loaded],
            )
    finally:
        con.close()


def copy_small_warehouse(root: Path) -> SmallWarehouse:
    """A copy of the dbt project and seeds under `root` and an empty warehouse file: no rows, not built."""
    project_dir = root / "dbt_models"
    shutil.copytree(settings.DBT_PROJECT_DIR, project_dir,
                    ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", ".user.yml"))
    shutil.copytree(settings.SEEDS_DIR, root / "seeds")  # dbt_project.yml: seed-paths ["../seeds"]
    return SmallWarehouse(root=root, db=root / "tokenspend.duckdb", project_dir=project_dir,
                          seeds_dir=root / "seeds", target=root / "target")


def build_small_warehouse(root: Path) -> SmallWarehouse:
    """A copy of the dbt project and seeds under `root`, with four days of raw rows, built."""
    wh = copy_small_warehouse(root)
    write_raw_rows(wh.db, read_price_book(wh.price_book))
    wh.build()
    return wh


@pytest.fixture(scope="session")
def small_warehouse(tmp_path_factory) -> SmallWarehouse:
    """The small warehouse, built once per session; tests only read it."""
    return build_small_warehouse(tmp_path_factory.mktemp("pricing"))


@pytest.fixture
def own_small_warehouse(tmp_path) -> SmallWarehouse:
    """A small warehouse of the test's own, for a test that edits the seeds and rebuilds."""
    return build_small_warehouse(tmp_path)
