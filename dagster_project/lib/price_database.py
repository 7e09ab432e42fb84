"""Price-book rows from a maintained price database (genai-prices), for every model the warehouse has seen.

`make prices` (and the asset `prices/price_book_generated`) writes `price_book_generated.csv` into the
deployment's seeds folder, beside the hand-written `price_book.csv`:

- **What:** for every (provider, model id) the warehouse has seen (provider usage, request events, cost
  lines: `intermediate.int_models_resolved`), the database's prices in the price book's own format,
  effective-dated, one `match_pattern` per model id (the id itself, so a generated row never prices
  another id), `model` = the database's model (so a dated and an undated id share one `model_key`),
  `source` = the database and its version.
- **Who wins:** dbt prices a model id from `price_book.csv` whenever one of its patterns matches the
  id, and from the generated file only otherwise (`int_models_resolved`). The hand-written file is
  never written here; negotiated prices live there and win. The generated file holds the database's
  prices for the hand-written models too: the cross-check (`mart_price_crosscheck`) compares them.
- **Offline:** the database is the one bundled in the installed package (`_bundled_snapshot`), never
  the auto-update that downloads; updating prices is upgrading the package, then `make prices`.

How the database's representation becomes rows (each read through genai-prices' own calculator,
`ModelInfo.calc_price`, on one token class at a time, so its fallbacks hold: OpenAI has no cache-write
price, so written tokens bill as input; a model without a 1-hour write price bills them as writes):

- **Dates:** every start date of a conditional price or a price variant opens a period; consecutive
  periods with the same price merge. The first period has no start date in the database; it starts
  on `OPEN_START`.
- **Long context:** a price tier at 200,000 input tokens (Anthropic's rule) becomes the
  `200k-1M` rows; a tier elsewhere (OpenAI's 272k, a 100k tier) has no context window in tokenspend's
  data, so only the base price is written and the model is reported (`notes`).
- **Service tiers:** a `service_tier` variant (`priority`, `flex`, ...) becomes rows of that tier.
  **Batch:** the `processing: batch` variant becomes each class's `batch_multiplier` (batch price /
  standard price). Variants are recorded in the database from a date (its own comment: earlier history
  is not modelled); before that date the first recorded variant is carried back, since batch and tier
  discounts predate the record. A model with no batch variant gets no multiplier (batch at full price).
- Other variants (Anthropic `speed: fast`) and time-of-day prices are not represented; reported.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import duckdb

PROVIDERS = ("openai", "anthropic")
GENERATED_SEED = "price_book_generated"
HAND_WRITTEN_SEED = "price_book"
COLUMNS = ["provider", "model", "match_pattern", "token_class", "usd_per_million_tokens", "service_tier",
           "context_window", "batch_multiplier", "valid_from", "valid_to", "source"]
TOKEN_CLASSES = ("uncached_input", "cache_read_input", "cache_write_5m_input", "cache_write_1h_input", "output")
OUTPUT = TOKEN_CLASSES[-1]
OPEN_START = dt.date(2000, 1, 1)  # the first period's start: the database gives none
LONG_CONTEXT_START = 200_000  # Anthropic's long-context threshold: the price book's '200k-1M' window
LONG_CONTEXT_WINDOW = "200k-1M"
_PROBE = 1_000  # tokens per probe: below every tier threshold
_LONG_PROBE = 300_000  # input tokens per long-context probe: above the 200k threshold
_SCALE = Decimal(1_000_000)
_NINE = Decimal("0.000000001")


class PriceBookError(ValueError):
    """A price-book file or the warehouse cannot be read as expected; the message names file, row, field."""


def database_version() -> str:
    """The price database and its version, as written in `source`: e.g. `genai-prices 0.2.3`."""
    from importlib.metadata import version

    return f"genai-prices {version('genai-prices')}"


def _snapshot():
    """The database bundled in the installed package (never the auto-updating, downloading one)."""
    from genai_prices.data_snapshot import _bundled_snapshot

    return _bundled_snapshot()


@dataclass
class ModelProposal:
    """What the database says about one (provider, model id) the warehouse has seen."""

    provider: str
    model_id: str
    database_model: str | None  # None: the database does not know the id
    rows: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    priced_by_hand: bool = False  # a price_book.csv pattern matches the id: its rows win


# --- one model's rows -------------------------------------------------------------------------------

def _utc(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)


def _start_dates(model) -> tuple[set[dt.date], dict[tuple, list[dt.date]], list[str]]:
    """(start dates of standard prices, start dates per variant context, what cannot be represented)."""
    from genai_prices import types

    notes, standard, variants = [], set(), {}
    prices = model.prices if isinstance(model.prices, list) else []
    for conditional in prices:
        constraint = conditional.constraint
        if isinstance(constraint, types.StartDateConstraint):
            standard.add(constraint.start_date)
        elif constraint is not None:
            notes.append(f"{type(constraint).__name__} prices are not represented (standard price kept)")
    for variant in model.price_variants or ():
        when = tuple(sorted(variant.when.items()))
        constraint = variant.constraint
        if constraint is not None and not isinstance(constraint, types.StartDateConstraint):
            notes.append(f"variant {dict(when)} with {type(constraint).__name__} is not represented")
            continue
        variants.setdefault(when, []).append(constraint.start_date if constraint else None)
    return standard, variants, notes


def _tier_starts(model) -> set[int]:
    """Every input-token threshold at which one of the model's prices changes (TieredPrices)."""
    from genai_prices import types

    prices = model.prices if isinstance(model.prices, list) else [types.ConditionalPrice(prices=model.prices)]
    price_sets = [c.prices for c in prices] + [v.prices for v in model.price_variants or ()]
    return {tier.start for p in price_sets for value in vars(p).values()
            if isinstance(value, types.TieredPrices) for tier in value.tiers}


def _class_usage(price_class: str, tokens: int, long_context: bool):
    """A usage of `tokens` tokens of one class (plus, for a long-context probe of output, enough input
    to cross the threshold), as genai-prices counts them (its input includes cache reads and writes)."""
    from genai_prices import Usage

    if price_class == OUTPUT:
        return Usage(output_tokens=tokens, input_tokens=_LONG_PROBE if long_context else 0)
    extra = {
        "uncached_input": {},
        "cache_read_input": {"cache_read_tokens": tokens},
        "cache_write_5m_input": {"cache_write_tokens": tokens},
        "cache_write_1h_input": {"cache_write_tokens": tokens, "cache_write_1h_tokens": tokens},
    }[price_class]
    return Usage(input_tokens=tokens, **extra)


def class_prices(model, provider, day: dt.date, context: dict[str, str] | None,
                 long_context: bool) -> dict[str, Decimal]:
    """USD per million tokens of each class the model prices, as genai-prices computes it on `day`.

    A class is left out when the model has no price of its direction (no output price: an embedding
    model; no input price: a model priced otherwise)."""
    listed = model.get_prices(_utc(day), context or None)
    out = {}
    for price_class in TOKEN_CLASSES:
        is_output = price_class == OUTPUT
        if (listed.output_mtok if is_output else listed.input_mtok) is None:
            continue
        tokens = _LONG_PROBE if long_context and not is_output else _PROBE
        calc = model.calc_price(_class_usage(price_class, tokens, long_context), provider,
                                genai_request_timestamp=_utc(day), price_context=context or None)
        amount = calc.output_price if is_output else calc.input_price
        out[price_class] = (amount * _SCALE / tokens).quantize(_NINE).normalize()
    return out


def _variant_day(dates: list[dt.date | None], day: dt.date) -> dt.date:
    """The day whose variant prices apply on `day`: `day` once a variant of the context is recorded,
    else the first recorded date (carried back)."""
    if any(d is None or d <= day for d in dates):
        return day
    return min(d for d in dates if d is not None)


def _periods(starts: Iterable[dt.date]) -> list[tuple[dt.date, dt.date | None]]:
    bounds = sorted({OPEN_START, *(d for d in starts if d > OPEN_START)})
    return [(start, bounds[i + 1] if i + 1 < len(bounds) else None) for i, start in enumerate(bounds)]


def _fmt(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")


def model_rows(provider_id: str, model_id: str) -> ModelProposal:
    """The database's price-book rows for one model id of `provider_id` (none when it does not know it)."""
    snapshot = _snapshot()
    proposal = ModelProposal(provider=provider_id, model_id=model_id, database_model=None)
    try:
        provider, model = snapshot.find_provider_model(model_id, None, provider_id, None)
    except LookupError:
        return proposal
    proposal.database_model = model.id
    standard_starts, variants, notes = _start_dates(model)
    proposal.notes += notes
    tiers = _tier_starts(model)
    windows = [("all", False)]
    if LONG_CONTEXT_START in tiers:
        windows.append((LONG_CONTEXT_WINDOW, True))
    other_tiers = sorted(t for t in tiers if t != LONG_CONTEXT_START)
    if other_tiers:
        proposal.notes.append(
            f"price tier(s) at {', '.join(f'{t:,}' for t in other_tiers)} input tokens not represented "
            "(tokenspend knows only the 200k window): base price written")
    service_tiers, batch = {}, None
    for when, dates in variants.items():
        keys = dict(when)
        if set(keys) == {"service_tier"} and keys["service_tier"] not in ("default", "standard"):
            service_tiers[keys["service_tier"]] = dates
        elif keys == {"processing": "batch"}:
            batch = dates
        elif set(keys) != {"service_tier"}:
            proposal.notes.append(f"variant {keys} not represented")
    all_starts = set(standard_starts) | {d for ds in variants.values() for d in ds if d is not None}
    version = database_version()

    # per (service tier, window, class): the runs of (start, price, multiplier, source)
    runs: dict[tuple[str, str, str], list[list]] = {}
    for start, _ in _periods(all_starts):
        cells: dict[tuple[str, str, str], tuple[Decimal, Decimal | None, str]] = {}
        for window, long_context in windows:
            std = class_prices(model, provider, start, None, long_context)
            multipliers: dict[str, Decimal | None] = {}
            source = version
            if batch is not None:
                batch_day = _variant_day(batch, start)
                if batch_day != start:
                    source = f"{version} (batch multiplier from its {batch_day} batch prices, carried back)"
                std_then = class_prices(model, provider, batch_day, None, long_context)
                batched = class_prices(model, provider, batch_day, {"processing": "batch"}, long_context)
                for c, price in std_then.items():
                    if price and c in batched:
                        multipliers[c] = (batched[c] / price).quantize(_NINE).normalize()
            for c, price in std.items():
                if long_context and cells.get(("standard", "all", c), (None,))[0] == price:
                    continue  # no long-context price in this period: the 'all' row applies
                cells[("standard", window, c)] = (price, multipliers.get(c), source)
            for tier, dates in service_tiers.items():
                tier_day = _variant_day(dates, start)
                tier_source = version if tier_day == start else f"{version} ({tier} prices of {tier_day}, carried back)"
                for c, price in class_prices(model, provider, tier_day, {"service_tier": tier}, long_context).items():
                    if long_context and cells.get((tier, "all", c), (None,))[0] == price:
                        continue
                    cells[(tier, window, c)] = (price, None, tier_source)
        for key in set(runs) | set(cells):
            history = runs.setdefault(key, [])
            value = cells.get(key)
            if history and history[-1][3] is None:  # the previous run is still open
                if value is not None and history[-1][1:3] == [value[0], value[1]]:
                    continue
                history[-1][3] = start
            if value is not None:
                history.append([start, value[0], value[1], None, value[2]])

    pattern = model_id.lower()
    for (tier, window, token_class), history in runs.items():
        for start, price, multiplier, end, source in history:
            proposal.rows.append({
                "provider": provider_id, "model": model.id.lower(), "match_pattern": pattern,
                "token_class": token_class, "usd_per_million_tokens": _fmt(price), "service_tier": tier,
                "context_window": window, "batch_multiplier": _fmt(multiplier),
                "valid_from": start.isoformat(), "valid_to": end.isoformat() if end else "", "source": source,
            })
    proposal.rows.sort(key=row_sort_key)
    if batch is None:
        proposal.notes.append("no batch price in the database: batch traffic is priced at the full rate")
    return proposal


def row_sort_key(row: dict[str, str]) -> tuple:
    return (row["provider"], row["match_pattern"], row["service_tier"] != "standard", row["service_tier"],
            row["context_window"] != "all", row["context_window"], TOKEN_CLASSES.index(row["token_class"])
            if row["token_class"] in TOKEN_CLASSES else 99, row["valid_from"])


# --- the warehouse and the seeds folder -------------------------------------------------------------

def models_seen(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """Every (provider, model id) the warehouse has seen: provider usage, request events and cost lines,
    as `int_models_resolved` lists them after a build."""
    try:
        rows = con.execute(
            "select distinct provider, model from intermediate.int_models_resolved "
            "where model is not null order by provider, model"
        ).fetchall()
    except duckdb.CatalogException as exc:
        raise PriceBookError(
            "the warehouse has no intermediate.int_models_resolved: build it first (`make run` for the demo, "
            "or the warehouse_build job), then run `make prices`"
        ) from exc
    return [(p, m) for p, m in rows if p in PROVIDERS]


def read_price_book(path: Path) -> list[dict[str, str]]:
    """The rows of a price-book CSV, checked for what `make prices` relies on; errors name file, row, field."""
    if not path.exists():
        raise PriceBookError(f"{path}: no such file (the hand-written price book of this seeds folder)")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise PriceBookError(f"{path}: header lacks column(s) {', '.join(missing)}; expected {','.join(COLUMNS)}")
        rows = list(reader)
    for line, row in enumerate(rows, start=2):
        provider = (row["provider"] or "").strip().lower()
        if provider not in PROVIDERS:
            raise PriceBookError(f"{path}, row {line}, field provider: {row['provider']!r} is not one of "
                                 f"{', '.join(PROVIDERS)}")
        if not (row["match_pattern"] or "").strip():
            raise PriceBookError(f"{path}, row {line}, field match_pattern: empty (every row needs the LIKE "
                                 "pattern of the model ids it prices)")
        if (row["token_class"] or "").strip() not in TOKEN_CLASSES:
            raise PriceBookError(f"{path}, row {line}, field token_class: {row['token_class']!r} is not one of "
                                 f"{', '.join(TOKEN_CLASSES)}")
        try:
            price = Decimal((row["usd_per_million_tokens"] or "").strip())
        except ArithmeticError:
            price = None
        if price is None or not price.is_finite() or price < 0:
            raise PriceBookError(f"{path}, row {line}, field usd_per_million_tokens: "
                                 f"{row['usd_per_million_tokens']!r} is not a price >= 0")
    return rows


def hand_priced(models: list[tuple[str, str]], book: list[dict[str, str]]) -> set[tuple[str, str]]:
    """The model ids a hand-written pattern matches (SQL LIKE on the lower-cased id, as dbt matches)."""
    if not models or not book:
        return set()
    con = duckdb.connect()
    try:
        con.execute("create table models (provider varchar, model varchar)")
        con.executemany("insert into models values (?, ?)", models)
        con.execute("create table patterns (provider varchar, match_pattern varchar)")
        con.executemany("insert into patterns values (?, ?)",
                        sorted({(r["provider"].strip().lower(), r["match_pattern"].strip().lower()) for r in book}))
        rows = con.execute("""
            select distinct m.provider, m.model from models m join patterns p
              on m.provider = p.provider and lower(m.model) like p.match_pattern
        """).fetchall()
    finally:
        con.close()
    return {(p, m) for p, m in rows}


@dataclass
class Proposal:
    """The generated file's rows and what `make prices` reports."""

    version: str
    models: list[ModelProposal]

    @property
    def rows(self) -> list[dict[str, str]]:
        return sorted((r for m in self.models for r in m.rows), key=row_sort_key)

    def newly_priced(self) -> list[ModelProposal]:
        return [m for m in self.models if m.rows and not m.priced_by_hand]

    def unknown(self) -> list[ModelProposal]:
        return [m for m in self.models if m.database_model is None and not m.priced_by_hand]


def propose(models: list[tuple[str, str]], book: list[dict[str, str]]) -> Proposal:
    """The database's rows for every model id seen (hand-priced ones included, for the cross-check)."""
    by_hand = hand_priced(models, book)
    proposals = []
    for provider, model_id in models:
        proposal = model_rows(provider, model_id)
        proposal.priced_by_hand = (provider, model_id) in by_hand
        proposals.append(proposal)
    return Proposal(version=database_version(), models=proposals)


def csv_text(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


@dataclass
class Diff:
    added: list[dict[str, str]]
    removed: list[dict[str, str]]

    def by_model(self) -> dict[tuple[str, str], tuple[int, int]]:
        counts: dict[tuple[str, str], list[int]] = {}
        for i, rows in enumerate((self.added, self.removed)):
            for r in rows:
                counts.setdefault((r["provider"], r["match_pattern"]), [0, 0])[i] += 1
        return {k: (v[0], v[1]) for k, v in sorted(counts.items())}


def diff_rows(old: list[dict[str, str]], new: list[dict[str, str]]) -> Diff:
    """Rows only in `new` (added) and only in `old` (removed); a changed row is one of each."""
    def key(r):
        return tuple((r.get(c) or "") for c in COLUMNS)
    old_keys, new_keys = {key(r) for r in old}, {key(r) for r in new}
    return Diff(added=[r for r in new if key(r) not in old_keys], removed=[r for r in old if key(r) not in new_keys])


def write_generated(seeds_dir: Path, proposal: Proposal) -> Diff:
    """Write `price_book_generated.csv` (atomically) and return what changed against the previous file."""
    path = seeds_dir / f"{GENERATED_SEED}.csv"
    old: list[dict[str, str]] = []
    if path.exists():
        with open(path, newline="", encoding="utf-8") as f:
            old = list(csv.DictReader(f))
    rows = proposal.rows
    partial = path.with_suffix(".csv.partial")
    partial.write_text(csv_text(rows), encoding="utf-8")
    partial.replace(path)
    return diff_rows(old, rows)


def ensure_generated_file(seeds_dir: Path) -> bool:
    """Write a header-only generated seed when the folder has none (dbt needs the seed to exist before
    the first build, and the first build is what tells `make prices` the models). True when written."""
    path = seeds_dir / f"{GENERATED_SEED}.csv"
    if path.exists():
        return False
    path.write_text(csv_text([]), encoding="utf-8")
    return True


def refresh(con: duckdb.DuckDBPyConnection, seeds_dir: Path) -> tuple[Proposal, Diff]:
    """Read the models seen from the warehouse, propose their rows, write the generated seed."""
    book = read_price_book(seeds_dir / f"{HAND_WRITTEN_SEED}.csv")
    proposal = propose(models_seen(con), book)
    return proposal, write_generated(seeds_dir, proposal)


def report(proposal: Proposal, diff: Diff, seeds_dir: Path) -> str:
    """What `make prices` prints: which models the database prices, which the hand-written book keeps,
    which nobody prices, and the diff of the generated file."""
    path = seeds_dir / f"{GENERATED_SEED}.csv"
    lines = [f"Price database: {proposal.version} (bundled in the installed package; upgrade it to update prices)",
             f"Models seen in the warehouse: {len(proposal.models)}"]
    hand = [m for m in proposal.models if m.priced_by_hand]
    lines.append(f"  priced by {HAND_WRITTEN_SEED}.csv (its rows win; database rows kept for the cross-check): "
                 f"{len(hand)}")
    for m in hand:
        lines.append(f"    {m.provider} {m.model_id}" + (f" (database: {m.database_model})" if m.database_model
                                                        else " (not in the database)"))
    new = proposal.newly_priced()
    lines.append(f"  priced from the database (no hand-written row matches): {len(new)}")
    for m in new:
        lines.append(f"    {m.provider} {m.model_id} -> {m.database_model}: {len(m.rows)} rows")
    unknown = proposal.unknown()
    lines.append(f"  not in the database, still unpriced (add rows to {HAND_WRITTEN_SEED}.csv): {len(unknown)}")
    for m in unknown:
        lines.append(f"    {m.provider} {m.model_id}")
    notes = [(m, n) for m in proposal.models if m.rows for n in m.notes]
    if notes:
        lines.append("  notes:")
        lines += [f"    {m.provider} {m.model_id}: {n}" for m, n in notes]
    lines.append(f"Wrote {path}: {len(proposal.rows)} rows; against the previous file "
                 f"+{len(diff.added)} -{len(diff.removed)}")
    for (provider, pattern), (added, removed) in diff.by_model().items():
        lines.append(f"  {provider} {pattern}: +{added} -{removed}")
    if diff.added or diff.removed:
        lines.append("Rebuild to use them (`make run` for the demo; the warehouse_build job): a changed price book "
                     "re-prices every day.")
    return "\n".join(lines)
