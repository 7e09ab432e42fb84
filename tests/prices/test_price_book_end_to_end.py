"""Issue 14 end to end, on the small pricing warehouse: a model the price book lacks (claude-opus-4-6) is
unpriced and named by the check; `make prices` proposes its rows; the rebuild prices it and the check goes
quiet; the cross-check names the demo's invented gpt-4.1-mini cut; a hand-written (negotiated) row wins
over the database and `make prices` never writes price_book.csv.

Expected figures come from the test's own tokens and from genai-prices' data structures (not from the
generated file), so the build, the generated rows and the checks are each checked against something else.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from decimal import Decimal

import dagster as dg
import duckdb
import pytest
from genai_prices.data_snapshot import _bundled_snapshot

from dagster_project import prices, settings
from dagster_project.defs.prices.checks import price_book_agrees_with_price_database
from dagster_project.defs.quality.checks import UNPRICED_FIX, gx_checks
from tests.pricing.small_warehouse import (
    DAYS,
    PRICED_MODEL,
    PRICED_MODEL_ID,
    REQUEST,
    USAGE_REQUESTS,
    SmallWarehouse,
    copy_small_warehouse,
    list_price,
    read_price_book,
    usd,
    write_raw_rows,
)

pytestmark = pytest.mark.slow

NEW_MODEL = "claude-opus-4-6"  # released after the price book was written
WORKSPACE, KEY = "wrk_opus", "apikey_opus"
OPUS_REQUEST = {"uncached_input": 50_000, "output": 5_000}
OPUS_USAGE, OPUS_LOGGED = 4, 3
# a negotiated discount, written by a person into price_book.csv: 20 % off list
NEGOTIATED = {"uncached_input": "4.00", "cache_read_input": "0.40", "cache_write_5m_input": "5.00",
              "cache_write_1h_input": "8.00", "output": "20.00"}
# cautious: a test that also reads a model outside the selection (e.g. a mart beside the fact) is left out
SELECT = ["build", "--select", "+fct_token_spend +mart_reconciliation +mart_price_crosscheck",
          "--exclude-resource-type", "unit_test", "--indirect-selection", "cautious"]


def opus_list_price(day: dt.date) -> dict[str, Decimal]:
    """The database's standard prices of claude-opus-4-6 on `day`, read from its data structure."""
    model = _bundled_snapshot().find_provider_model(NEW_MODEL, None, "anthropic", None)[1]
    price = model.get_prices(dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC))
    return {"uncached_input": price.input_mtok, "output": price.output_mtok}


def add_opus_traffic(db) -> None:
    """Anthropic usage, bill (at list, in cents) and 3 of 4 requests logged, per day, for claude-opus-4-6."""
    con = duckdb.connect(str(db))
    try:
        for i, day in enumerate(DAYS):
            start, end = f"{day} 00:00:00", f"{day + dt.timedelta(days=1)} 00:00:00"
            tokens = {c: n * OPUS_USAGE for c, n in OPUS_REQUEST.items()}
            con.execute(
                """insert into raw.anthropic_usage_messages (bucket_start, bucket_end, api_key_id, workspace_id,
                   model, service_tier, context_window, uncached_input_tokens, cache_read_input_tokens,
                   cache_creation_5m_input_tokens, cache_creation_1h_input_tokens, output_tokens,
                   web_search_requests, _source_file, _page, _loaded_at)
                   values (?, ?, ?, ?, ?, 'standard', '0-200k', ?, 0, 0, 0, ?, 0, 'test', 1, '2026-10-20')""",
                [start, end, KEY, WORKSPACE, NEW_MODEL, tokens["uncached_input"], tokens["output"]])
            price = opus_list_price(day)
            for token_type, c in (("uncached_input_tokens", "uncached_input"), ("output_tokens", "output")):
                cents = usd(tokens[c], price[c]) * 100
                con.execute(
                    """insert into raw.anthropic_cost_report (bucket_start, bucket_end, workspace_id, description,
                       cost_type, token_type, model, service_tier, context_window, amount, currency, _source_file,
                       _page, _loaded_at) values (?, ?, ?, ?, 'tokens', ?, ?, 'standard', '0-200k', ?, 'USD', 'test',
                       1, '2026-10-20')""",
                    [start, end, WORKSPACE, f"Claude Opus 4.6 Usage - {token_type}", token_type, NEW_MODEL,
                     str(cents)])
            for n in range(OPUS_LOGGED):
                con.execute(
                    """insert into raw.request_events (request_id, occurred_at, provider, model, api_key_id, project_id,
                       uncached_input_tokens, cache_read_input_tokens, cache_write_input_tokens, output_tokens, batch,
                       service_tier, feature, source_system, _source_file, _source_line, _loaded_at)
                       values (?, ?, 'anthropic', ?, ?, ?, ?, 0, 0, ?, false, 'standard', 'opus-feature', 'event_file',
                       'opus.jsonl', ?, '2026-10-20')""",
                    [f"req-opus-{day}-{n}", f"{day} 10:00:00", NEW_MODEL, KEY, WORKSPACE,
                     OPUS_REQUEST["uncached_input"], OPUS_REQUEST["output"], i * 10 + n + 1])
    finally:
        con.close()


def run_gx_check(name: str) -> dg.AssetCheckResult:
    check = next(c for c in gx_checks if c.check_key.name == name)
    instance = dg.DagsterInstance.ephemeral()
    try:
        return check(dg.build_asset_check_context(instance=instance))
    finally:
        instance.dispose()


def point_settings_at(mp: pytest.MonkeyPatch, wh: SmallWarehouse, expectations) -> None:
    mp.setenv("TOKENSPEND_MODE", "live")
    mp.setenv("TOKENSPEND_DUCKDB_PATH", str(wh.db))
    mp.setenv("TOKENSPEND_SEEDS_DIR", str(wh.seeds_dir))
    mp.delenv("TOKENSPEND_PRICE_CROSSCHECK_TOLERANCE_PCT", raising=False)
    mp.setattr(settings, "EXPECTATIONS_DIR", expectations)


def make_prices(capsys) -> str:
    assert prices.main([]) == 0
    return capsys.readouterr().out


@pytest.fixture(scope="module")
def journey(tmp_path_factory):
    """Build with the unknown model, check, `make prices`, rebuild: what each step showed, and the warehouse."""
    root = tmp_path_factory.mktemp("prices")
    expectations = root / "expectations"
    shutil.copytree(settings.EXPECTATIONS_DIR, expectations, ignore=shutil.ignore_patterns("uncommitted"))
    wh = copy_small_warehouse(root / "warehouse")
    write_raw_rows(wh.db, read_price_book(wh.price_book))
    add_opus_traffic(wh.db)
    book_before = wh.price_book.read_bytes()
    wh.dbt("seed", "--full-refresh")
    wh.dbt(*SELECT)
    seen = {"unpriced_before": wh.query(
        f"select count(*) filter (where is_unpriced) from marts.fct_token_spend where model = '{NEW_MODEL}'")[0][0]}
    with pytest.MonkeyPatch.context() as mp:
        point_settings_at(mp, wh, expectations)
        seen["check_before"] = run_gx_check("no_unpriced_spend")
        capsys = _Capture()
        with capsys:
            assert prices.main([]) == 0
        seen["report"] = capsys.out
    seen["generated"] = read_price_book(wh.seeds_dir / "price_book_generated.csv")
    wh.dbt("seed", "--full-refresh")
    wh.dbt(*SELECT)
    with pytest.MonkeyPatch.context() as mp:
        point_settings_at(mp, wh, expectations)
        seen["check_after"] = run_gx_check("no_unpriced_spend")
        seen["crosscheck"] = price_book_agrees_with_price_database()
    assert wh.price_book.read_bytes() == book_before  # `make prices` never writes the people's file
    return wh, expectations, seen


class _Capture:
    """stdout of `prices.main` inside a module-scoped fixture (capsys is function-scoped)."""

    def __enter__(self):
        import contextlib
        import io

        self._buffer = io.StringIO()
        self._redirect = contextlib.redirect_stdout(self._buffer)
        self._redirect.__enter__()
        return self

    def __exit__(self, *exc):
        self._redirect.__exit__(*exc)
        self.out = self._buffer.getvalue()


def test_the_unpriced_check_names_the_model_its_volume_dollars_and_the_fix(journey):
    _, _, seen = journey
    assert seen["unpriced_before"] > 0
    result = seen["check_before"]
    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
    failing = next(f for f in result.metadata["failures"].value if f["column"] == "unpriced_rows")
    rows = {r["model"]: r for r in failing["partial_unexpected_index_list"]}
    opus = rows[NEW_MODEL]
    billed = sum(usd(n * OPUS_USAGE, opus_list_price(day)[c]) for day in DAYS for c, n in OPUS_REQUEST.items())
    assert opus["unpriced_tokens"] == sum(OPUS_REQUEST.values()) * OPUS_USAGE * len(DAYS)
    # the logged requests: Anthropic's usage report counts no requests, so the unlogged residual adds none
    assert opus["unpriced_requests"] == OPUS_LOGGED * len(DAYS)
    assert Decimal(str(opus["unpriced_cost_usd"])).quantize(Decimal("0.01")) == billed.quantize(Decimal("0.01"))
    assert opus["fix"] == UNPRICED_FIX and "make prices" in opus["fix"]


def test_make_prices_proposes_the_new_models_rows_and_keeps_the_hand_written_ones(journey):
    _, _, seen = journey
    report = seen["report"]
    assert f"anthropic {NEW_MODEL} -> {NEW_MODEL}: 10 rows" in report
    assert f"openai {PRICED_MODEL_ID} (database: {PRICED_MODEL})" in report  # priced by hand, kept
    opus = [r for r in seen["generated"] if r["match_pattern"] == NEW_MODEL]
    assert {r["token_class"] for r in opus} == {"uncached_input", "cache_read_input", "cache_write_5m_input",
                                               "cache_write_1h_input", "output"}
    assert all(r["source"].startswith("genai-prices ") and r["provider"] == "anthropic" for r in opus)


def test_the_rebuild_prices_the_new_model_and_the_check_goes_quiet(journey):
    wh, _, seen = journey
    assert seen["check_after"].passed, seen["check_after"].metadata.get("failures")
    rows = wh.query(f"""
        select usage_date, sum(estimated_cost_usd), bool_or(is_unpriced) from marts.fct_token_spend
        where model = '{NEW_MODEL}' and record_type in ('request', 'unlogged_residual') group by 1 order by 1""")
    assert [r[0] for r in rows] == DAYS
    for day, estimate, unpriced in rows:
        price = opus_list_price(day)
        assert not unpriced
        assert estimate == sum(usd(n * OPUS_USAGE, price[c]) for c, n in OPUS_REQUEST.items())
    assert wh.query(f"select price_origin from intermediate.int_models_resolved where model = '{NEW_MODEL}'") == \
        [("price_database",)]


def test_the_crosscheck_names_the_days_the_hand_written_price_differs_from_the_database(journey, monkeypatch):
    wh, expectations, seen = journey
    book = read_price_book(wh.price_book)
    model = _bundled_snapshot().find_provider_model(PRICED_MODEL_ID, None, "openai", None)[1]
    database = model.get_prices(dt.datetime(2026, 10, 15, tzinfo=dt.UTC))
    database_price = {"uncached_input": database.input_mtok, "cache_read_input": database.cache_read_mtok,
                      "output": database.output_mtok}
    rows = {r[0]: r[1:] for r in wh.query(f"""
        select usage_date, book_estimate_usd, database_estimate_usd, difference_usd, difference_pct
        from marts.mart_price_crosscheck where model = '{PRICED_MODEL_ID}' order by usage_date""")}
    for day in DAYS:
        book_usd = sum(usd(n * USAGE_REQUESTS, list_price(book, PRICED_MODEL, c, day)) for c, n in REQUEST.items())
        database_usd = sum(usd(n * USAGE_REQUESTS, database_price[c]) for c, n in REQUEST.items())
        assert rows[day][:3] == (book_usd, database_usd, book_usd - database_usd), day
    # the demo's invented cut of 2026-10-15 is 20 % under the database's price; before it they agree
    assert [day for day in DAYS if rows[day][3] != 0] == [d for d in DAYS if d >= dt.date(2026, 10, 15)]
    result = seen["crosscheck"]
    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["models_beyond_tolerance"].value == [f"openai {PRICED_MODEL_ID}"]
    assert result.metadata["rows_beyond_tolerance"].value == 2
    assert "-20.0%" in result.description and "make prices" in result.description
    point_settings_at(monkeypatch, wh, expectations)
    monkeypatch.setenv("TOKENSPEND_PRICE_CROSSCHECK_TOLERANCE_PCT", "20")
    assert price_book_agrees_with_price_database().passed  # exactly 20 % is within a 20 % tolerance


def test_a_negotiated_hand_written_row_wins_over_the_database(journey, tmp_path, monkeypatch, capsys):
    source, expectations, _ = journey
    shutil.copytree(source.root, tmp_path / "w", symlinks=True, ignore=shutil.ignore_patterns("target", "logs"))
    wh = SmallWarehouse(root=tmp_path / "w", db=tmp_path / "w" / "tokenspend.duckdb",
                        project_dir=tmp_path / "w" / "dbt_models", seeds_dir=tmp_path / "w" / "seeds",
                        target=tmp_path / "w" / "target")
    with open(wh.price_book, "a", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        for c, price in NEGOTIATED.items():
            writer.writerow(["anthropic", NEW_MODEL, f"{NEW_MODEL}%", c, price, "standard", "all", "0.5",
                             "2026-01-01", "", "negotiated: 20% off list (contract 2026-01)"])
    wh.dbt("seed", "--full-refresh")
    wh.dbt(*SELECT)
    assert wh.query(f"select priced_model, price_origin from intermediate.int_models_resolved "
                    f"where model = '{NEW_MODEL}'") == [(NEW_MODEL, "price_book")]
    estimates = wh.query(f"""select usage_date, sum(estimated_cost_usd) from marts.fct_token_spend
        where model = '{NEW_MODEL}' and record_type in ('request', 'unlogged_residual') group by 1 order by 1""")
    assert estimates == [(day, sum(usd(n * OPUS_USAGE, Decimal(NEGOTIATED[c])) for c, n in OPUS_REQUEST.items()))
                         for day in DAYS]
    point_settings_at(monkeypatch, wh, expectations)
    result = price_book_agrees_with_price_database()
    assert f"anthropic {NEW_MODEL}" in result.metadata["models_beyond_tolerance"].value
    book = wh.price_book.read_bytes()
    report = make_prices(capsys)
    assert wh.price_book.read_bytes() == book  # the person's rows are never rewritten
    assert f"anthropic {NEW_MODEL} (database: {NEW_MODEL})" in report  # listed as priced by hand
    assert "+0 -0" in report  # the database's rows stay for the cross-check
