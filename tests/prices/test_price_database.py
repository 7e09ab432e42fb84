"""The price database's rows (`lib/price_database.py`): checked against the hand-written price book (copied
from the providers' pages) and against genai-prices' own data structures, never against themselves."""

from __future__ import annotations

import csv
import datetime as dt
import socket
from decimal import Decimal

import pytest
from genai_prices.data_snapshot import _bundled_snapshot

from dagster_project import settings
from dagster_project.lib import price_database as pdb

# The demo's model ids, one per hand-written price-book model (patterns are `<model>%`).
IDS = {
    ("openai", "gpt-4.1"): "gpt-4.1-2025-04-14",
    ("openai", "gpt-4.1-mini"): "gpt-4.1-mini-2025-04-14",
    ("openai", "gpt-4o"): "gpt-4o-2024-08-06",
    ("openai", "gpt-4o-mini"): "gpt-4o-mini-2024-07-18",
    ("anthropic", "claude-sonnet-4"): "claude-sonnet-4-20250514",
    ("anthropic", "claude-sonnet-4-5"): "claude-sonnet-4-5-20250929",
    ("anthropic", "claude-haiku-4-5"): "claude-haiku-4-5-20251001",
    ("anthropic", "claude-opus-4-5"): "claude-opus-4-5-20251101",
}


def hand_written() -> list[dict[str, str]]:
    with open(settings.SEEDS_DIR / "price_book.csv", newline="") as f:
        return list(csv.DictReader(f))


def in_force(rows, day: dt.date, **key) -> list[dict[str, str]]:
    return [r for r in rows if all(r[k] == v for k, v in key.items())
            and dt.date.fromisoformat(r["valid_from"]) <= day
            and (not r["valid_to"] or day < dt.date.fromisoformat(r["valid_to"]))]


def database_model(provider: str, model_id: str):
    return _bundled_snapshot().find_provider_model(model_id, None, provider, None)[1]


def test_every_hand_written_price_is_the_databases_except_the_demos_invented_cut():
    """price_book.csv was copied from the providers' pages; the database's rows must say the same, class by
    class, tier by tier, window by window, on each row's first day. The one invented price (the demo's
    gpt-4.1-mini cut, 'demo scenario') must differ: the comparison can fail."""
    compared, differing = 0, []
    for (provider, model), model_id in IDS.items():
        ours = pdb.model_rows(provider, model_id).rows
        assert ours, model_id
        for row in (r for r in hand_written() if (r["provider"], r["model"]) == (provider, model)):
            day = dt.date.fromisoformat(row["valid_from"])
            theirs = in_force(ours, day, token_class=row["token_class"], service_tier=row["service_tier"],
                              context_window=row["context_window"])
            assert len(theirs) == 1, (model_id, row)
            compared += 1
            if Decimal(theirs[0]["usd_per_million_tokens"]) != Decimal(row["usd_per_million_tokens"]):
                differing.append((model, row["token_class"], row["valid_from"], row["source"]))
    assert compared == len(hand_written())
    assert differing and all("demo scenario" in source for *_, source in differing), differing
    assert {(m, c) for m, c, *_ in differing} == {("gpt-4.1-mini", c) for c in pdb.TOKEN_CLASSES}


def test_a_dated_price_change_closes_one_row_and_opens_the_next():
    """claude-opus-4-6's long-context premium ends on the start date of its second price in the database."""
    model = database_model("anthropic", "claude-opus-4-6")
    tiered, flat = model.prices[0].prices, model.prices[1].prices
    change = model.prices[1].constraint.start_date
    rows = pdb.model_rows("anthropic", "claude-opus-4-6").rows
    long_rows = [r for r in rows if r["context_window"] == pdb.LONG_CONTEXT_WINDOW]
    assert long_rows and all(r["valid_to"] == change.isoformat() for r in long_rows)
    before, after = change - dt.timedelta(days=1), change
    for token_class, field in (("uncached_input", "input_mtok"), ("output", "output_mtok"),
                               ("cache_read_input", "cache_read_mtok")):
        (long_row,) = in_force(rows, before, token_class=token_class, context_window=pdb.LONG_CONTEXT_WINDOW)
        assert Decimal(long_row["usd_per_million_tokens"]) == getattr(tiered, field).tiers[0].price
        (base,) = in_force(rows, before, token_class=token_class, context_window="all")
        assert Decimal(base["usd_per_million_tokens"]) == getattr(tiered, field).base
        assert not in_force(rows, after, token_class=token_class, context_window=pdb.LONG_CONTEXT_WINDOW)
        (now,) = in_force(rows, after, token_class=token_class, context_window="all")
        assert Decimal(now["usd_per_million_tokens"]) == getattr(flat, field)


def test_batch_multiplier_and_tiers_follow_the_databases_variants():
    model = database_model("openai", "gpt-4.1")
    variant = {v.when.get("service_tier") or v.when.get("processing"): v.prices for v in model.price_variants}
    rows = pdb.model_rows("openai", "gpt-4.1-2025-04-14").rows
    day = dt.date(2026, 11, 1)
    (standard,) = in_force(rows, day, token_class="uncached_input", service_tier="standard")
    assert Decimal(standard["usd_per_million_tokens"]) * Decimal(standard["batch_multiplier"]) == \
        variant["batch"].input_mtok
    (priority,) = in_force(rows, day, token_class="output", service_tier="priority")
    assert Decimal(priority["usd_per_million_tokens"]) == variant["priority"].output_mtok
    # OpenAI has no cache-write fee: written tokens bill as uncached input (the price book's rule)
    (write,) = in_force(rows, day, token_class="cache_write_1h_input", service_tier="standard")
    assert write["usd_per_million_tokens"] == standard["usd_per_million_tokens"]
    assert all(r["match_pattern"] == "gpt-4.1-2025-04-14" and r["source"].startswith(pdb.database_version())
               for r in rows)


def test_hand_written_patterns_win_and_unknown_models_are_named(tmp_path):
    book = hand_written()
    models = [("openai", "gpt-4.1-mini-2025-04-14"), ("anthropic", "claude-opus-4-6"), ("openai", "gpt-42-imaginary")]
    proposal = pdb.propose(models, book)
    by_id = {m.model_id: m for m in proposal.models}
    assert by_id["gpt-4.1-mini-2025-04-14"].priced_by_hand and by_id["gpt-4.1-mini-2025-04-14"].rows
    assert [m.model_id for m in proposal.newly_priced()] == ["claude-opus-4-6"]
    assert [m.model_id for m in proposal.unknown()] == ["gpt-42-imaginary"]
    diff = pdb.write_generated(tmp_path, proposal)
    text = pdb.report(proposal, diff, tmp_path)
    assert "claude-opus-4-6 -> claude-opus-4-6: 10 rows" in text
    assert "not in the database, still unpriced (add rows to price_book.csv): 1\n    openai gpt-42-imaginary" in text
    assert len(diff.added) == len(proposal.rows) and not diff.removed
    # the same proposal again changes nothing; a smaller one removes only the rows that went
    assert pdb.diff_rows(proposal.rows, proposal.rows).added == []
    smaller = pdb.propose(models[:1], book)
    again = pdb.write_generated(tmp_path, smaller)
    assert not again.added and {r["match_pattern"] for r in again.removed} == {"claude-opus-4-6"}


@pytest.mark.parametrize("line, field, value, says", [
    (3, "provider", "azure", "'azure' is not one of openai, anthropic"),
    (2, "match_pattern", "", "empty"),
    (4, "usd_per_million_tokens", "-1", "is not a price >= 0"),
    (2, "token_class", "reasoning", "'reasoning' is not one of"),
])
def test_a_bad_price_book_row_is_named_by_file_row_and_field(tmp_path, line, field, value, says):
    rows = hand_written()[:5]
    rows[line - 2][field] = value
    path = tmp_path / "price_book.csv"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=pdb.COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(pdb.PriceBookError) as err:
        pdb.read_price_book(path)
    assert f"{path}, row {line}, field {field}: " in str(err.value) and says in str(err.value)


def test_the_database_is_read_offline(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert pdb.model_rows("anthropic", "claude-opus-4-6").rows
