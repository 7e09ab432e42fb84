"""Generate the demo organisation: its true request stream, its event log and its provider bills.

The demo must exercise every hard case the warehouse claims to handle (untagged and unowned spend,
an unpriced model, a mid-period price change, a rotated key, an employee who changes team, cache
reads and writes, batch traffic, unlogged traffic, a bill line with no usage, web searches billed per
workspace and made by several keys), carry the changes a month-over-month explanation must separate (a
price cut, a model migration, a prompt-cache rollout, a feature launch, a runaway day, each in a scope
of its own), serve customers of three plan segments, and do all of it identically on every machine so
that figures in docs and tests are reproducible. Randomness is
therefore derived from DuckDB `hash()` of stable identifiers, never from `random()`.

All row data is produced by DuckDB SQL; Python only holds the organisation's shape (the traffic
streams below) and writes files. Money is DECIMAL from the price book to the bill.

Layout under `landing_dir`:
    events/demo/<date>.(jsonl|csv|parquet|jsonl.gz)   logged requests, one file per UTC day
    outcomes/demo/<date>.jsonl                       workflow task outcomes, by completion day
    demo_provider/*.parquet                          provider-side truth that `provider.py` serves
    demo_provider/manifest.json                      what was generated, for the fast no-op
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import shutil
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from dagster_project import settings

DEMO_START = dt.date(2026, 9, 1)
DEMO_END = dt.date(2026, 10, 31)  # exclusive: the period is 2026-09-01 .. 2026-10-30, 60 UTC days
PROVIDERS = ("openai", "anthropic")

# Bump when the generated data changes shape or content, so an existing landing dir is regenerated.
GENERATOR_VERSION = 5

# The model the demo traffic uses that the price book deliberately does not list. The provider still
# bills it, at the price below, which lives here and not in seeds/price_book.csv.
UNPRICED_MODEL = "gpt-5-mini-2025-08-07"
_PROVIDER_ONLY_PRICES = (
    # provider, model, match_pattern, token_class, usd_per_million_tokens, batch_multiplier
    ("openai", "gpt-5-mini", "gpt-5-mini%", "uncached_input", "0.25", "0.5"),
    ("openai", "gpt-5-mini", "gpt-5-mini%", "cache_read_input", "0.025", "0.5"),
    ("openai", "gpt-5-mini", "gpt-5-mini%", "cache_write_5m_input", "0.25", "0.5"),
    ("openai", "gpt-5-mini", "gpt-5-mini%", "cache_write_1h_input", "0.25", "0.5"),
    ("openai", "gpt-5-mini", "gpt-5-mini%", "output", "2.00", "0.5"),
)

# Incidents: a stream's volume multiplied on one day. The code-review agent got stuck in a retry loop
# on 2026-10-28 and ran at three times its usual volume: the runaway day an anomaly detector should flag.
SURGES = (("code-review", dt.date(2026, 10, 28), 3.0),)

# How often a customer of each plan segment (seeds/customers.csv) calls, relative to a free customer: a
# stream that serves customers draws each unit's customer with these weights among the customers of its
# segments on that day.
SEGMENT_WEIGHTS = (("enterprise", 10), ("growth", 3), ("free", 1))

# Seat holders who use no AI at all during the period: the idle seats a seat report should surface.
IDLE_SEAT_EMPLOYEES = ("emp-015", "emp-022", "emp-031", "emp-035", "emp-039", "emp-042")

# Share of requests from normally-logging callers whose event never reaches the log (dropped by the
# logging pipeline). Together with the never-logging callers below, this is spend only the provider sees.
RANDOM_UNLOGGED_SHARE = 0.03

# Code execution, billed by Anthropic per container-hour with no row in the usage report.
CODE_EXECUTION_WORKSPACE = "wrkspc_01kd8m2tq6vwp9xbc4hr7ynz"
CODE_EXECUTION_CENTS_PER_HOUR = "5"

# Web search, billed by Anthropic at $10 per 1,000 searches as one cost line per workspace and day (no
# key, no model); the usage report counts each key's searches (server_tool_use.web_search_requests).
WEB_SEARCH_CENTS_PER_SEARCH = "1"

# Event-log files that are not JSONL, by day index in the period: the loader must read every format.
_DAY_FORMATS = {9: "csv", 23: "csv", 41: "csv", 15: "parquet", 48: "parquet", 33: "jsonl.gz"}


_SINCE_EVER = "2026-01-01"  # before the period: in use on every day of it


class _Model(NamedTuple):
    """A model a stream calls: its share of the stream's units while in use, from `since` (inclusive)
    until `until` (exclusive, None = still in use), both ISO dates. A stream runs on the days one of
    its models is in use."""

    model: str
    weight: float = 1.0
    since: str = _SINCE_EVER
    until: str | None = None


@dataclass(frozen=True)
class _Cache:
    """How a stream uses prompt caching from `since` (ISO date) until the stream's next `_Cache`.

    Without one in force, the stream caches nothing. A share `prefix_share` of each prompt is a stable
    prefix; a request finds it cached with probability `hit_prob`. OpenAI caches prompts of 1024+
    tokens by itself (reads only). Anthropic-style `writes` make the first request of a unit (or a
    miss) write the prefix and later requests read it; with `shared`, the prefix is the same for every
    unit of the stream (fixed instructions, e.g. a batch job), so only the day's first request or a
    miss writes it.
    """

    prefix_share: float
    hit_prob: float
    writes: bool = False
    ttl: str = "5m"
    shared: bool = False
    since: str = _SINCE_EVER


@dataclass(frozen=True)
class _Stream:
    """One caller in the demo organisation: a service, a batch job, a tool or a person's notebook.

    Volumes are per day at scale 1; token sizes are means of log-normal-ish draws. A unit is a task
    for workflow streams (with a task_id and an outcome), a session for tools, one request otherwise.
    """

    stream: str
    provider: str
    project_id: str  # OpenAI project or Anthropic workspace ('default' = the default workspace)
    api_key_id: str | None  # None: Anthropic Console usage
    rotated_to: str | None  # the key that replaces api_key_id from its valid_from in api_key_owners
    models: tuple[_Model, ...]
    units_per_day: float
    min_req: int
    max_req: int
    input_mean: float
    output_mean: float
    workflow: str | None = None
    feature: str | None = None
    team: str | None = None
    customer_segments: tuple[str, ...] = ()  # the plan segments whose customers it serves
    employee_tagged: bool = False
    tag_share: float = 1.0  # share of logged requests that carry their tags
    logged: bool = True
    weekend_factor: float = 0.3
    growth: float = 0.15  # relative volume growth from first to last day
    batch: bool = False
    hour_center: float = 14.0  # UTC
    hour_spread: float = 8.0
    input_sigma: float = 0.5
    output_sigma: float = 0.45
    cache: tuple[_Cache, ...] = ()
    long_context_prob: float = 0.0
    completion_rate: float = 0.0  # share of tasks that get an outcome event
    success_rate: float = 0.0
    parent_share: float = 0.0  # share of tasks that follow up the previous task of the day
    web_search_share: float = 0.0  # share of requests that run server-side web searches (Anthropic)
    web_search_max: int = 0  # a searching request runs 1..web_search_max searches


_SONNET = "claude-sonnet-4-5-20250929"
_HAIKU = "claude-haiku-4-5-20251001"
_OPUS = "claude-opus-4-5-20251101"
_GPT41 = "gpt-4.1-2025-04-14"
_GPT41_MINI = "gpt-4.1-mini-2025-04-14"
_GPT4O_MINI = "gpt-4o-mini-2024-07-18"

# The changes planted in October, each in one stream whose scope (provider x feature x workflow x team)
# no other stream shares: invoice extraction moves most of its work from gpt-4o-mini to gpt-4.1 (model
# mix), the ticket-digest batch turns prompt caching on (cache), and the in-app copilot launches for
# paid plans (a new scope). The gpt-4.1-mini price cut on 2026-10-15 lives in seeds/price_book.csv.
MODEL_MIGRATION_DAY = "2026-10-01"
CACHE_ROLLOUT_DAY = "2026-10-01"
FEATURE_LAUNCH_DAY = "2026-10-12"

STREAMS: tuple[_Stream, ...] = (
    # ---- OpenAI -------------------------------------------------------------------------------
    _Stream("support-bot", "openai", "proj_q7vt2mk9plx4rcw8", "key_7hq2lmn9xpc4rtvw", "key_m4zt8wq1kd6vnh3c",
            (_Model(_GPT41_MINI),), 260, 1, 4, 3200, 350,
            workflow="support-triage", feature="ticket-summary", team="support",
            customer_segments=("enterprise", "growth", "free"), tag_share=0.98, weekend_factor=0.5,
            cache=(_Cache(0.55, 0.7),), completion_rate=0.93, success_rate=0.88),
    _Stream("search-answers", "openai", "proj_n3hd8bz1wy6kfe5r", "key_b9rx3fj5ty2lwp8s", None,
            (_Model(_GPT41, 0.8), _Model(UNPRICED_MODEL, 0.2, since="2026-09-14")),
            520, 1, 1, 5500, 450, feature="search-answers", customer_segments=("enterprise", "growth", "free"),
            tag_share=0.75, weekend_factor=0.7, cache=(_Cache(0.4, 0.5),)),
    _Stream("search-dev", "openai", "proj_n3hd8bz1wy6kfe5r", "key_e6kc1ud7vm4qza9h", None,
            (_Model(_GPT41_MINI),), 60, 1, 1, 2500, 300, tag_share=0.0, weekend_factor=0.1),
    _Stream("notebooks", "openai", "proj_n3hd8bz1wy6kfe5r", "key_p2ny5gs8lb3xcw6t", None,
            (_Model(_GPT41),), 10, 1, 5, 8000, 900, tag_share=0.0,
            weekend_factor=0.05, hour_center=15.0, hour_spread=5.0),
    # Finance moves 60% of its invoice tasks to gpt-4.1 on the migration day, for extraction accuracy.
    _Stream("invoice-batch", "openai", "proj_t5gm1ca7xu9jzs2p", "key_h8vd4tk2rn7fmq1z", None,
            (_Model(_GPT4O_MINI, until=MODEL_MIGRATION_DAY), _Model(_GPT4O_MINI, 0.4, since=MODEL_MIGRATION_DAY),
             _Model(_GPT41, 0.6, since=MODEL_MIGRATION_DAY)), 90, 2, 6, 7000, 900,
            workflow="invoice-processing", feature="doc-extraction", team="finance-ops", batch=True,
            weekend_factor=0.2, hour_center=2.5, hour_spread=2.0, cache=(_Cache(0.3, 0.4),),
            completion_rate=0.96, success_rate=0.95),
    _Stream("legacy-cron", "openai", "proj_w8lr4ne6vq3bdy0k", "key_s3wj9pa6ce1ugx4l", None,
            (_Model("gpt-4o-2024-08-06"),), 220, 1, 1, 4000, 600, tag_share=0.0,
            weekend_factor=1.0, growth=0.0, hour_center=12.0, hour_spread=11.0),
    # The in-app copilot launches on a Monday for the paid plans, in a project and with a key of its
    # own, every request tagged; adoption grows quickly after the launch.
    _Stream("in-app-copilot", "openai", "proj_k2wf7nx4bd9rcm5t", "key_d8qn3tw6hv1rxz5k", None,
            (_Model(_GPT41, since=FEATURE_LAUNCH_DAY),), 150, 1, 6, 4500, 550, feature="in-app-copilot",
            team="growth", customer_segments=("enterprise", "growth"), weekend_factor=0.35, growth=0.6,
            hour_center=15.0, hour_spread=6.0, cache=(_Cache(0.5, 0.6),)),
    # ---- Anthropic ----------------------------------------------------------------------------
    _Stream("contract-review", "anthropic", "wrkspc_01jwqvzr7rxla5agx3hkffuj",
            "apikey_01rj2n8svvo6bepzj99nhmit", None, (_Model(_SONNET),), 30, 3, 8, 60000, 2500,
            workflow="contract-review", feature="doc-extraction", team="legal", weekend_factor=0.1,
            input_sigma=0.6, cache=(_Cache(0.8, 0.9, writes=True),),
            long_context_prob=0.05, completion_rate=0.9, success_rate=0.8),
    _Stream("code-review", "anthropic", "wrkspc_01kd8m2tq6vwp9xbc4hr7ynz", "apikey_01ac5wq8ne3tky7dmh2vzl4p",
            None, (_Model(_SONNET),), 70, 2, 8, 25000, 1500, workflow="code-review",
            team="platform", weekend_factor=0.15, cache=(_Cache(0.7, 0.85, writes=True, ttl="1h"),),
            completion_rate=0.92, success_rate=0.85, parent_share=0.12),
    # The nightly ticket digest caches nothing until the rollout day; from then on its fixed instructions
    # (most of each prompt) are written once a night and read by the rest of the batch.
    _Stream("ticket-digest", "anthropic", "wrkspc_01h4sn9fx2lqt7cv8wjd3mkb", "apikey_01fx9kd3mq7wzt2cnb6hpr8j",
            None, (_Model(_HAIKU),), 120, 1, 1, 12000, 800, feature="ticket-summary",
            team="support", batch=True, weekend_factor=1.0, hour_center=3.0, hour_spread=1.5,
            cache=(_Cache(0.85, 0.95, writes=True, shared=True, since=CACHE_ROLLOUT_DAY),)),
    _Stream("internal-assistant", "anthropic", "default", "apikey_01gt4vn8xk2pcq6rzm9wdh3b", None,
            (_Model(_HAIKU, 0.6), _Model(_SONNET, 0.4)), 90, 1, 5, 4000, 700,
            feature="internal-assistant", employee_tagged=True, weekend_factor=0.1, hour_center=13.0,
            hour_spread=6.0, cache=(_Cache(0.5, 0.6, writes=True),),
            web_search_share=0.15, web_search_max=3),
    # A key someone made in the default workspace and never registered: an early-morning digest job
    # that searches the web on most requests, logged without tags.
    _Stream("news-digest", "anthropic", "default", "apikey_01qm6hv3ws9ket2xdr8nbc5j", None,
            (_Model(_HAIKU),), 14, 1, 2, 5000, 900, tag_share=0.0, weekend_factor=0.2,
            hour_center=6.0, hour_spread=1.5, web_search_share=0.9, web_search_max=6),
    _Stream("console", "anthropic", "default", None, None,
            (_Model(_SONNET, 0.7), _Model(_OPUS, 0.3)), 25, 1, 1, 6000, 1200, logged=False,
            weekend_factor=0.1, web_search_share=0.3, web_search_max=4),
    _Stream("labs", "anthropic", "wrkspc_01p9tx4wd6hjn3kmc8vrb2lq", "apikey_01ud3pk6wj8rmz1fhx4ncq7t", None,
            (_Model(_OPUS),), 55, 1, 3, 9000, 1800, tag_share=0.0, weekend_factor=0.3,
            cache=(_Cache(0.5, 0.5, writes=True),)),
    _Stream("search-eval", "anthropic", "wrkspc_01m7cz3pb8vkr2gnq6xtf1wd", "apikey_01lw7cz2hr9tnb4kxq6mfv8d",
            None, (_Model(_SONNET),), 20, 4, 12, 15000, 1000, logged=False, weekend_factor=1.0,
            hour_center=1.5, hour_spread=1.5, cache=(_Cache(0.6, 0.8, writes=True),)),
)

# The caller that never writes to the event log although its key is owned: provider-only spend.
UNLOGGED_API_KEY = "apikey_01lw7cz2hr9tnb4kxq6mfv8d"

_SEED_FILES = ("price_book", "employees", "api_key_owners", "project_owners", "customers")
_EVENT_COLUMNS = (
    "request_id", "occurred_at", "provider", "model", "api_key_id", "project_id",
    "uncached_input_tokens", "cache_read_input_tokens", "cache_write_input_tokens", "output_tokens",
    "batch", "service_tier", "feature", "workflow", "task_id", "team", "employee_id", "customer_id",
)
_BACKEND_TABLES = (
    "requests", "openai_usage", "openai_costs", "anthropic_usage", "anthropic_costs",
    "claude_code_users", "claude_code_models",
)


@dataclass(frozen=True)
class DemoOrg:
    """What `generate_demo_org` produced: where the files are and how much is in them."""

    landing_dir: Path
    events_dir: Path
    outcomes_dir: Path
    backend_dir: Path
    start: dt.date
    end: dt.date  # exclusive
    scale: float
    providers: tuple[str, ...]
    requests: int
    logged_requests: int
    tasks: int
    outcomes: int
    event_files: tuple[str, ...]
    outcome_files: tuple[str, ...]
    billed_usd: Decimal
    untagged_unowned_usd: Decimal

    def __str__(self) -> str:
        last = self.end - dt.timedelta(days=1)
        return (
            f"{(self.end - self.start).days} days {self.start}..{last}, scale {self.scale:g}, "
            f"{'+'.join(self.providers)}: {self.requests:,} requests ({self.logged_requests:,} logged), "
            f"{self.tasks:,} tasks, {self.outcomes:,} outcomes, billed ${self.billed_usd:,.2f}, "
            f"untagged and unowned {self.untagged_unowned_share:.1%}"
        )

    @property
    def untagged_unowned_share(self) -> Decimal:
        """Share of billed spend that neither a tag, an owned key nor an owned project explains."""
        return self.untagged_unowned_usd / self.billed_usd if self.billed_usd else Decimal(0)


def backend_dir(landing_dir: Path) -> Path:
    """Where the provider-side truth lives; `provider.py` reads it from here."""
    return Path(landing_dir) / "demo_provider"


def generate_demo_org(
    landing_dir: Path, scale: float = 1.0, providers: Iterable[str] = PROVIDERS
) -> DemoOrg:
    """Build (or reuse) the demo organisation under `landing_dir`.

    Idempotent: the same arguments always produce the same bytes, and a second call with the same
    scale, providers and seeds returns at once from the manifest. Another scale or provider set
    replaces the previous demo files (only the demo's own folders are touched). A file lock keeps
    two processes (e.g. the OpenAI and Anthropic ingest assets) from generating at the same time.
    """
    landing_dir = Path(landing_dir)
    requested = set(providers)
    providers = tuple(p for p in PROVIDERS if p in requested)
    if not providers or requested - set(PROVIDERS):
        raise ValueError(f"providers must be a non-empty subset of {PROVIDERS}")
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    backend = backend_dir(landing_dir)
    backend.mkdir(parents=True, exist_ok=True)
    fingerprint = _fingerprint(scale, providers)
    with open(backend / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        existing = _read_manifest(landing_dir, fingerprint)
        if existing is not None:
            return existing
        return _generate(landing_dir, scale, providers, fingerprint)


def _fingerprint(scale: float, providers: tuple[str, ...]) -> str:
    """Identify one generation: version, arguments and the seeds it reads."""
    digest = hashlib.sha256(f"{GENERATOR_VERSION}|{scale!r}|{','.join(providers)}".encode())
    for name in _SEED_FILES:
        digest.update((settings.SEEDS_DIR / f"{name}.csv").read_bytes())
    return digest.hexdigest()


def _read_manifest(landing_dir: Path, fingerprint: str) -> DemoOrg | None:
    path = backend_dir(landing_dir) / "manifest.json"
    if not path.exists():
        return None
    manifest = json.loads(path.read_text())
    if manifest.get("fingerprint") != fingerprint:
        return None
    org = _org_from_manifest(landing_dir, manifest)
    expected = [org.events_dir / f for f in org.event_files] + [org.outcomes_dir / f for f in org.outcome_files]
    expected += [org.backend_dir / f"{t}.parquet" for t in _BACKEND_TABLES]
    return org if all(p.exists() for p in expected) else None


def _org_from_manifest(landing_dir: Path, manifest: dict) -> DemoOrg:
    values = dict(manifest["org"])
    values.update(
        landing_dir=landing_dir,
        events_dir=landing_dir / "events" / "demo",
        outcomes_dir=landing_dir / "outcomes" / "demo",
        backend_dir=backend_dir(landing_dir),
        start=dt.date.fromisoformat(values["start"]),
        end=dt.date.fromisoformat(values["end"]),
        providers=tuple(values["providers"]),
        event_files=tuple(values["event_files"]),
        outcome_files=tuple(values["outcome_files"]),
        billed_usd=Decimal(values["billed_usd"]),
        untagged_unowned_usd=Decimal(values["untagged_unowned_usd"]),
    )
    return DemoOrg(**{f.name: values[f.name] for f in fields(DemoOrg)})


def _sql_str(value: str | None) -> str:
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"


def _load_config(con, scale: float, providers: tuple[str, ...]) -> None:
    """Load the seeds and the stream definitions the SQL below works from."""
    seeds = settings.SEEDS_DIR
    con.execute(f"set variable scale = {float(scale)!r}")
    con.execute(f"set variable providers = [{', '.join(_sql_str(p) for p in providers)}]")
    con.execute(f"set variable demo_start = DATE '{DEMO_START.isoformat()}'")
    con.execute(f"set variable demo_end = DATE '{DEMO_END.isoformat()}'")
    con.execute(f"set variable random_unlogged_share = {RANDOM_UNLOGGED_SHARE!r}")
    con.execute(f"""
        create table price_book as
        select provider, model, lower(match_pattern) as match_pattern, token_class,
               cast(usd_per_million_tokens as decimal(18, 6)) as usd_per_million,
               service_tier, context_window,
               cast(coalesce(nullif(batch_multiplier, ''), '1') as decimal(6, 4)) as batch_multiplier,
               cast(valid_from as date) as valid_from, cast(nullif(valid_to, '') as date) as valid_to
        from read_csv('{seeds / "price_book.csv"}', header = true, all_varchar = true)""")
    extra = ", ".join(
        f"({_sql_str(p)}, {_sql_str(m)}, {_sql_str(mp)}, {_sql_str(tc)}, "
        f"cast('{price}' as decimal(18, 6)), 'standard', 'all', cast('{mult}' as decimal(6, 4)), "
        f"DATE '2025-08-07', NULL::date)"
        for p, m, mp, tc, price, mult in _PROVIDER_ONLY_PRICES
    )
    con.execute(f"create table billing_prices as select * from price_book union all select * from (values {extra})")
    con.execute(f"""
        create table employees as
        select employee_id, email, full_name, team, cast(has_ai_seat as boolean) as has_ai_seat,
               cast(valid_from as date) as valid_from, cast(nullif(valid_to, '') as date) as valid_to
        from read_csv('{seeds / "employees.csv"}', header = true, all_varchar = true)""")
    con.execute(f"""
        create table api_key_owners as
        select provider, api_key_id, cast(valid_from as date) as valid_from,
               cast(nullif(valid_to, '') as date) as valid_to
        from read_csv('{seeds / "api_key_owners.csv"}', header = true, all_varchar = true)""")
    con.execute(f"create table idle_seats as select unnest([{', '.join(map(_sql_str, IDLE_SEAT_EMPLOYEES))}]) as employee_id")
    con.execute("create table surges (stream varchar, day date, factor double)")
    con.executemany("insert into surges values (?, ?, ?)", [list(s) for s in SURGES])

    nested = ("models", "cache", "customer_segments")
    columns = [f for f in fields(_Stream) if f.name not in nested]
    types = {"bool": "boolean", "int": "integer", "float": "double"}
    ddl = ", ".join(f"{f.name} {types.get(str(f.type), 'varchar')}" for f in columns)
    con.execute(f"create table streams ({ddl})")
    con.executemany(
        f"insert into streams values ({', '.join('?' for _ in columns)})",
        [[getattr(s, f.name) for f in columns] for s in STREAMS],
    )
    con.execute("create table stream_models (stream varchar, model varchar, weight double, in_use_from date, "
                "in_use_until date)")
    con.executemany(
        "insert into stream_models values (?, ?, ?, cast(? as date), cast(? as date))",
        [[s.stream, *m] for s in STREAMS for m in s.models],
    )
    con.execute("create table stream_cache (stream varchar, prefix_share double, hit_prob double, writes boolean, "
                "ttl varchar, shared boolean, since date)")
    con.executemany(
        "insert into stream_cache values (?, ?, ?, ?, ?, ?, cast(? as date))",
        [[s.stream, *asdict(c).values()] for s in STREAMS for c in s.cache],
    )
    con.execute("create table segment_weights (segment varchar, weight integer)")
    con.executemany("insert into segment_weights values (?, ?)", [list(w) for w in SEGMENT_WEIGHTS])
    unknown = sorted({seg for s in STREAMS for seg in s.customer_segments} - {seg for seg, _ in SEGMENT_WEIGHTS})
    if unknown:
        raise ValueError(f"streams serve segments without a weight in SEGMENT_WEIGHTS: {', '.join(unknown)}")
    con.execute("create table stream_segments (stream varchar, segment varchar)")
    con.executemany("insert into stream_segments values (?, ?)",
                    [[s.stream, seg] for s in STREAMS for seg in s.customer_segments])
    _load_customers(con, seeds / "customers.csv")


def _load_customers(con, path: Path) -> None:
    """The customers and their plan segment over time; a row the demo cannot use is refused by line."""
    con.execute(f"""
        create temp table customer_rows as
        select row_number() over () + 1 as line, *
        from read_csv('{path}', header = true, all_varchar = true,
                      columns = {{'customer_id': 'VARCHAR', 'customer_name': 'VARCHAR', 'segment': 'VARCHAR',
                                 'valid_from': 'VARCHAR', 'valid_to': 'VARCHAR'}})""")
    bad = con.execute("""
        with checked as (
            select line, customer_id, segment, valid_from, valid_to,
                   try_cast(valid_from as date) as day_from, try_cast(valid_to as date) as day_to
            from customer_rows
        ), problems as (
            select line,
                   case when coalesce(customer_id, '') = '' then 'customer_id'
                        when segment is null or segment not in (select segment from segment_weights) then 'segment'
                        when day_from is null then 'valid_from'
                        when valid_to is not null and (day_to is null or day_to <= day_from) then 'valid_to'
                   end as field, NULL::bigint as other_line
            from checked
            union all
            select b.line, 'overlap', a.line from checked a join checked b
              on a.customer_id = b.customer_id and a.line < b.line
             and b.day_from < coalesce(a.day_to, DATE '9999-12-31')
             and a.day_from < coalesce(b.day_to, DATE '9999-12-31')
        )
        select p.line, p.field, p.other_line, c.customer_id, c.segment, c.valid_from, c.valid_to
        from problems p join checked c using (line)
        where p.field is not null order by p.line limit 1""").fetchone()
    if bad:
        line, field, other_line, customer_id, segment, valid_from, valid_to = bad
        allowed = ", ".join(seg for seg, _ in SEGMENT_WEIGHTS)
        problem = {
            "customer_id": "customer_id is empty",
            "segment": f"segment {segment!r} is not one of the demo's segments ({allowed})",
            "valid_from": f"valid_from {valid_from!r} is not an ISO date",
            "valid_to": f"valid_to {valid_to!r} is not an ISO date after valid_from",
            "overlap": f"valid_from {valid_from!r}: the period overlaps {customer_id}'s row on line {other_line}",
        }[field]
        raise ValueError(f"{path} line {line}: {problem}")
    con.execute("""
        create table customers as
        select customer_id, segment, cast(valid_from as date) as valid_from, cast(valid_to as date) as valid_to
        from customer_rows;
        drop table customer_rows""")


_MACROS = """
create macro rnd(a, b, c, salt) as (hash(a, b, c, salt) % 1000003) / 1000003.0;
create macro gauss(a, b, c, salt) as
    (rnd(a, b, c, salt || '1') + rnd(a, b, c, salt || '2') + rnd(a, b, c, salt || '3') - 1.5) * 2;
"""

# The true request stream: every request the providers see, logged or not.
_REQUESTS_SQL = """
create table days as
select cast(d as date) as day, cast(row_number() over (order by d) - 1 as integer) as day_idx,
       isodow(d) as dow
from range(cast(getvariable('demo_start') as timestamp), cast(getvariable('demo_end') as timestamp),
           interval 1 day) t(d);

create table stream_days as
select s.stream, d.day, d.day_idx,
       cast(round(s.units_per_day * getvariable('scale')
                  * case when d.dow >= 6 then s.weekend_factor else 1 end
                  * (1 + s.growth * d.day_idx / 59.0)
                  * (0.85 + 0.3 * rnd(s.stream, d.day, 0, 'volume'))
                  * coalesce(g.factor, 1)) as integer) as n_units
from streams s cross join days d
left join surges g on g.stream = s.stream and g.day = d.day
where list_contains(getvariable('providers'), s.provider);

-- Model mix per stream and day, as cumulative weight bands a unit's draw falls into.
create table model_bands as
select sd.stream, sd.day, m.model,
       sum(m.weight) over w - m.weight as lo, sum(m.weight) over w as hi,
       sum(m.weight) over (partition by sd.stream, sd.day) as total
from stream_days sd
join stream_models m on m.stream = sd.stream and m.in_use_from <= sd.day
                    and (m.in_use_until is null or sd.day < m.in_use_until)
window w as (partition by sd.stream, sd.day order by m.model rows between unbounded preceding and current row);

-- Customers a stream serves on a day (those of its segments whose row is in force), each holding as
-- many numbered slots as its segment's weight: a unit's draw picks a slot.
create table customer_slots as
with served as (
    select ss.stream, d.day, c.customer_id, w.weight
    from stream_segments ss
    cross join days d
    join customers c on c.segment = ss.segment and c.valid_from <= d.day and (c.valid_to is null or d.day < c.valid_to)
    join segment_weights w on w.segment = c.segment
)
select stream, day, customer_id,
       cast(sum(weight) over (partition by stream, day order by customer_id rows between unbounded preceding
                              and current row) - weight + unnest(range(weight)) as integer) as slot
from served;

create table customer_slot_counts as
select stream, day, count(*) as slots from customer_slots group by all;

-- Prompt caching in force per stream and day: the latest setting that has started.
create table cache_days as
select sd.stream, sd.day, c.prefix_share, c.hit_prob, c.writes, c.ttl, c.shared
from stream_days sd
join stream_cache c on c.stream = sd.stream and c.since <= sd.day
qualify row_number() over (partition by sd.stream, sd.day order by c.since desc) = 1;

-- Who uses the internal assistant on a day: roster members active that day, minus idle seats and
-- a fixed part of the staff who never use it.
create table assistant_users as
select d.day, e.employee_id,
       cast(row_number() over (partition by d.day order by e.employee_id) - 1 as integer) as idx,
       count(*) over (partition by d.day) as n
from days d
join employees e on e.valid_from <= d.day and (e.valid_to is null or d.day < e.valid_to)
where e.employee_id not in (select employee_id from idle_seats)
  and (e.has_ai_seat or rnd(e.employee_id, 0, 0, 'assistant-user') < 0.7);

create table units as
with expanded as (
    select stream, day, day_idx, unnest(range(n_units)) as unit_idx from stream_days where n_units > 0
), drawn as (
    select e.*, s.* exclude (stream),
           s.min_req + cast(hash(e.stream, e.day, e.unit_idx, 'len') % (s.max_req - s.min_req + 1) as integer) as n_req,
           greatest(0, least(82800, round(s.hour_center * 3600
               + ((rnd(e.stream, e.day, e.unit_idx, 't1') + rnd(e.stream, e.day, e.unit_idx, 't2')) / 2 - 0.5)
                 * 2 * s.hour_spread * 3600))) as start_sec,
           6 + cast(hash(e.stream, e.day, e.unit_idx, 'gap') % 90 as integer) as gap_sec,
           rnd(e.stream, e.day, e.unit_idx, 'model') as u_model,
           rnd(e.stream, e.day, e.unit_idx, 'long') < s.long_context_prob as long_context,
           case when s.workflow is not null
                then s.workflow || '-' || strftime(e.day, '%Y%m%d') || '-' || lpad(cast(e.unit_idx + 1 as varchar), 5, '0')
           end as task_id,
           case when s.workflow is not null and e.unit_idx > 0 and rnd(e.stream, e.day, e.unit_idx, 'parent') < s.parent_share
                then s.workflow || '-' || strftime(e.day, '%Y%m%d') || '-' || lpad(cast(e.unit_idx as varchar), 5, '0')
           end as parent_task_id,
           rnd(e.stream, e.day, e.unit_idx, 'customer') as u_customer,
           case when s.workflow is not null and rnd(e.stream, e.day, e.unit_idx, 'done') < s.completion_rate
                then case when rnd(e.stream, e.day, e.unit_idx, 'ok') < s.success_rate then 'success' else 'failure' end
           end as outcome,
           hash(e.stream, e.day, e.unit_idx, 'employee') as employee_draw
    from expanded e join streams s using (stream)
)
select d.*, b.model, u.employee_id, cs.customer_id,
       coalesce(k.prefix_share, 0) as cache_prefix_share, coalesce(k.hit_prob, 0) as cache_hit_prob,
       coalesce(k.writes, false) as cache_writes, coalesce(k.ttl, '5m') as cache_ttl,
       coalesce(k.shared, false) as cache_shared
from drawn d
join model_bands b on b.stream = d.stream and b.day = d.day
                  and d.u_model * b.total >= b.lo and d.u_model * b.total < b.hi
left join customer_slot_counts n on n.stream = d.stream and n.day = d.day
left join customer_slots cs on cs.stream = d.stream and cs.day = d.day
                            and cs.slot = cast(floor(d.u_customer * n.slots) as integer)
left join cache_days k on k.stream = d.stream and k.day = d.day
left join (select day, min(n) as n from assistant_users group by day) c
       on d.employee_tagged and c.day = d.day
left join assistant_users u on u.day = d.day and u.idx = d.employee_draw % c.n;

create table requests as
with expanded as (
    select u.*, unnest(range(u.n_req)) as req_idx from units u
), sized as (
    select e.*,
           cast(e.day as timestamp)
             + to_milliseconds(cast((e.start_sec + e.req_idx * e.gap_sec) * 1000
                                    + hash(e.stream, e.day, e.unit_idx, e.req_idx, 'ms') % 1000 as bigint)) as occurred_at,
           case when e.long_context then 200001 + cast(hash(e.stream, e.day, e.unit_idx, 'long-size') % 150000 as bigint)
                else cast(least(199000, greatest(50, round(e.input_mean
                         * exp(e.input_sigma * gauss(e.stream, e.day, e.unit_idx * 1000 + e.req_idx, 'in'))))) as bigint)
           end as prompt_tokens,
           cast(greatest(1, round(e.output_mean
                * exp(e.output_sigma * gauss(e.stream, e.day, e.unit_idx * 1000 + e.req_idx, 'out')))) as bigint) as output_tokens,
           rnd(e.stream, e.day, e.unit_idx * 1000 + e.req_idx, 'hit') < e.cache_hit_prob as hit,
           rnd(e.stream, e.day, e.unit_idx * 1000 + e.req_idx, 'log') as u_log,
           rnd(e.stream, e.day, e.unit_idx * 1000 + e.req_idx, 'tag') as u_tag
    from expanded e
), first_uses as (
    -- the request that meets the cached prefix first: the unit's first, or, for a prefix all the
    -- stream's units share, the day's first
    select s.*,
           case when s.cache_shared then s.occurred_at = min(s.occurred_at) over (partition by s.stream, s.day)
                else s.req_idx = 0 end as first_use
    from sized s
), cached as (
    select s.*,
           case when s.provider = 'openai'
                -- OpenAI caches prompts of 1024+ tokens automatically, in 128-token steps; no write fee.
                then case when s.hit and s.prompt_tokens >= 1024
                          then cast(floor(s.prompt_tokens * s.cache_prefix_share / 128) * 128 as bigint) else 0 end
                -- explicit caching: the first request that needs the prefix writes it, later ones read it
                when s.cache_writes and not s.first_use and s.hit
                then cast(round(s.prompt_tokens * s.cache_prefix_share) as bigint)
                else 0
           end as cache_read_input_tokens,
           case when s.cache_writes and (s.first_use or not s.hit)
                then cast(round(s.prompt_tokens * s.cache_prefix_share) as bigint) else 0
           end as cache_write_input_tokens
    from first_uses s
), final as (
    select c.*,
           c.prompt_tokens - c.cache_read_input_tokens - c.cache_write_input_tokens as uncached_input_tokens,
           coalesce(case when c.rotated_to is not null and c.day >= r.valid_from then c.rotated_to end,
                    c.api_key_id) as effective_key,
           c.logged and c.u_log >= getvariable('random_unlogged_share') as is_logged
    from cached c
    left join api_key_owners r on r.api_key_id = c.rotated_to
)
select case when provider = 'openai' then 'chatcmpl-' || substr(md5(concat_ws('|', stream, day, unit_idx, req_idx)), 1, 29)
            else 'msg_01' || substr(md5(concat_ws('|', stream, day, unit_idx, req_idx)), 1, 22)
       end as request_id,
       stream, day, occurred_at, provider, model, effective_key as api_key_id, project_id,
       uncached_input_tokens, cache_read_input_tokens, cache_write_input_tokens, output_tokens,
       case when cache_write_input_tokens > 0 then cache_ttl end as cache_write_ttl,
       batch,
       case when provider = 'openai' then 'default' when batch then 'batch' else 'standard' end as service_tier,
       case when provider = 'anthropic'
            then case when prompt_tokens > 200000 then '200k-1M' else '0-200k' end end as context_window,
       case when rnd(stream, day, unit_idx * 1000 + req_idx, 'search') < web_search_share
            then 1 + cast(hash(stream, day, unit_idx, req_idx, 'searches') % greatest(web_search_max, 1) as integer)
            else 0
       end as web_search_requests,
       is_logged as logged,
       is_logged and u_tag < tag_share as tagged,
       -- the tags as the event log carries them (null when the request is unlogged or untagged)
       case when is_logged and u_tag < tag_share then feature end as feature,
       case when is_logged and u_tag < tag_share then workflow end as workflow,
       case when is_logged and u_tag < tag_share then task_id end as task_id,
       case when is_logged and u_tag < tag_share then team end as team,
       case when is_logged and u_tag < tag_share then employee_id end as employee_id,
       case when is_logged and u_tag < tag_share then customer_id end as customer_id,
       -- what the caller knew, whether or not the log carries it
       task_id as true_task_id, employee_id as true_employee_id, customer_id as true_customer_id
from final;
"""

# The provider's price for each (provider, model, day, context window): the longest matching pattern
# wins, and a row for the request's own context window beats an 'all' row.
_PRICING_SQL = """
create table price_keys as
select distinct provider, model, day, coalesce(context_window, 'all') as cw from requests
union
select distinct 'anthropic', model, day, 'all' from claude_code_models;

create table resolved_prices as
with candidates as (
    select k.provider, k.model, k.day, k.cw, p.token_class, p.usd_per_million, p.batch_multiplier,
           rank() over (partition by k.provider, k.model, k.day, k.cw, p.token_class
                        order by length(p.match_pattern) desc, (p.context_window = k.cw) desc) as rk
    from price_keys k
    join billing_prices p
      on p.provider = k.provider and lower(k.model) like p.match_pattern
     and p.valid_from <= k.day and (p.valid_to is null or k.day < p.valid_to)
     and p.service_tier = 'standard' and p.context_window in ('all', k.cw)
)
select provider, model, day, cw,
       max(usd_per_million) filter (where token_class = 'uncached_input') as p_uncached,
       max(usd_per_million) filter (where token_class = 'cache_read_input') as p_read,
       max(usd_per_million) filter (where token_class = 'cache_write_5m_input') as p_write_5m,
       max(usd_per_million) filter (where token_class = 'cache_write_1h_input') as p_write_1h,
       max(usd_per_million) filter (where token_class = 'output') as p_output,
       max(batch_multiplier) filter (where token_class = 'uncached_input') as m_uncached,
       max(batch_multiplier) filter (where token_class = 'cache_read_input') as m_read,
       max(batch_multiplier) filter (where token_class = 'cache_write_5m_input') as m_write_5m,
       max(batch_multiplier) filter (where token_class = 'cache_write_1h_input') as m_write_1h,
       max(batch_multiplier) filter (where token_class = 'output') as m_output
from candidates where rk = 1
group by all;

create macro usd(tokens, price, mult, is_batch) as
    cast(cast(tokens * price * case when is_batch then mult else 1 end as decimal(38, 10))
         * cast('0.000001' as decimal(7, 6)) as decimal(38, 12));

create table priced_requests as
select r.*,
       usd(r.uncached_input_tokens, p.p_uncached, p.m_uncached, r.batch) as uncached_usd,
       usd(r.cache_read_input_tokens, p.p_read, p.m_read, r.batch) as cache_read_usd,
       usd(r.cache_write_input_tokens,
           case when r.cache_write_ttl = '1h' then p.p_write_1h else p.p_write_5m end,
           case when r.cache_write_ttl = '1h' then p.m_write_1h else p.m_write_5m end, r.batch) as cache_write_usd,
       usd(r.output_tokens, p.p_output, p.m_output, r.batch) as output_usd
from requests r
join resolved_prices p
  on p.provider = r.provider and p.model = r.model and p.day = r.day and p.cw = coalesce(r.context_window, 'all')
order by r.occurred_at, r.request_id;

drop table requests;
"""

# Provider-side aggregates at the finest grain each API can be grouped by.
_BACKEND_SQL = """
create table openai_usage as
select day, project_id, api_key_id, model, batch, service_tier,
       sum(uncached_input_tokens) as input_uncached_tokens,
       sum(cache_read_input_tokens) as input_cached_tokens,
       sum(cache_write_input_tokens) as input_cache_write_tokens,
       sum(output_tokens) as output_tokens,
       count(*) as num_model_requests
from priced_requests where provider = 'openai'
group by all;

-- OpenAI bills in dollars; each line is rounded to 9 decimals at (day, project, key, line item) and
-- every coarser grouping is a sum of those lines, so totals agree however the API is grouped.
create table openai_costs as
with lines as (
    select day, project_id, api_key_id,
           model || ', ' || case when batch then 'batch ' else '' end || kind as line_item,
           tokens, usd
    from priced_requests,
         (values ('input'), ('cached input'), ('output')) k(kind),
         lateral (select case kind when 'input' then uncached_input_tokens + cache_write_input_tokens
                                   when 'cached input' then cache_read_input_tokens
                                   else output_tokens end as tokens,
                         case kind when 'input' then uncached_usd + cache_write_usd
                                   when 'cached input' then cache_read_usd
                                   else output_usd end as usd)
    where provider = 'openai'
)
select day, project_id, api_key_id, line_item,
       cast(round(sum(usd), 9) as decimal(18, 9)) as amount_usd,
       cast(sum(tokens) as bigint) as quantity
from lines where tokens > 0
group by all;

create table anthropic_usage as
select day, api_key_id, nullif(project_id, 'default') as workspace_id, model, service_tier, context_window,
       sum(uncached_input_tokens) as uncached_input_tokens,
       sum(cache_read_input_tokens) as cache_read_input_tokens,
       sum(case when cache_write_ttl = '5m' then cache_write_input_tokens else 0 end) as cache_creation_5m_input_tokens,
       sum(case when cache_write_ttl = '1h' then cache_write_input_tokens else 0 end) as cache_creation_1h_input_tokens,
       sum(output_tokens) as output_tokens,
       sum(web_search_requests) as web_search_requests,
       count(*) as num_requests
from priced_requests where provider = 'anthropic'
group by all;

-- Anthropic bills in cents, exactly (the API sends a decimal string).
create table anthropic_costs as
with lines as (
    select day, nullif(project_id, 'default') as workspace_id, model, service_tier, context_window,
           token_type, tokens, usd
    from priced_requests,
         (values ('uncached_input_tokens'), ('cache_read_input_tokens'),
                 ('cache_creation.ephemeral_5m_input_tokens'), ('cache_creation.ephemeral_1h_input_tokens'),
                 ('output_tokens')) k(token_type),
         lateral (select case token_type
                    when 'uncached_input_tokens' then uncached_input_tokens
                    when 'cache_read_input_tokens' then cache_read_input_tokens
                    when 'output_tokens' then output_tokens
                    when 'cache_creation.ephemeral_5m_input_tokens' then
                         case when cache_write_ttl = '5m' then cache_write_input_tokens else 0 end
                    else case when cache_write_ttl = '1h' then cache_write_input_tokens else 0 end
                  end as tokens,
                  case token_type
                    when 'uncached_input_tokens' then uncached_usd
                    when 'cache_read_input_tokens' then cache_read_usd
                    when 'output_tokens' then output_usd
                    when 'cache_creation.ephemeral_5m_input_tokens' then
                         case when cache_write_ttl = '5m' then cache_write_usd else 0 end
                    else case when cache_write_ttl = '1h' then cache_write_usd else 0 end
                  end as usd)
    where provider = 'anthropic'
), names as (
    select * from (values ('claude-sonnet-4-5', 'Claude Sonnet 4.5'), ('claude-haiku-4-5', 'Claude Haiku 4.5'),
                          ('claude-opus-4-5', 'Claude Opus 4.5')) v(prefix, display)
), token_lines as (
    select l.day, l.workspace_id,
           coalesce(n.display, l.model) || case when l.service_tier = 'batch' then ' Batch' else '' end
             || ' Usage - '
             || case l.token_type when 'uncached_input_tokens' then 'Input Tokens'
                                  when 'cache_read_input_tokens' then 'Cache Read Input Tokens'
                                  when 'cache_creation.ephemeral_5m_input_tokens' then 'Cache Write (5m) Input Tokens'
                                  when 'cache_creation.ephemeral_1h_input_tokens' then 'Cache Write (1h) Input Tokens'
                                  else 'Output Tokens' end
             || case when l.context_window = '200k-1M' then ' (Long Context)' else '' end as description,
           'tokens' as cost_type, l.token_type, l.model, l.service_tier, l.context_window,
           'not_available' as inference_geo,
           cast(sum(l.usd) * 100 as decimal(38, 12)) as amount_cents,
           cast(sum(l.tokens) as bigint) as quantity
    from lines l left join names n on l.model like n.prefix || '%'
    where l.tokens > 0
    group by all
), code_execution as (
    select d.day, cast(getvariable('code_execution_workspace') as varchar) as workspace_id,
           'Code Execution Usage' as description, 'code_execution' as cost_type,
           NULL::varchar as token_type, NULL::varchar as model, NULL::varchar as service_tier,
           NULL::varchar as context_window, NULL::varchar as inference_geo,
           cast(cast(round((4 + 10 * rnd('code-execution', d.day, 0, 'hours'))
                           * case when d.dow >= 6 then 0.2 else 1 end * getvariable('scale'), 3) as decimal(18, 3))
                * cast(getvariable('code_execution_cents_per_hour') as decimal(6, 2)) as decimal(38, 12)) as amount_cents,
           NULL::bigint as quantity
    from days d
    where list_contains(getvariable('providers'), 'anthropic')
), web_search as (
    select day, nullif(project_id, 'default') as workspace_id,
           'Web Search Usage' as description, 'web_search' as cost_type,
           NULL::varchar as token_type, NULL::varchar as model, NULL::varchar as service_tier,
           NULL::varchar as context_window, NULL::varchar as inference_geo,
           cast(sum(web_search_requests) * cast(getvariable('web_search_cents_per_search') as decimal(6, 2))
                as decimal(38, 12)) as amount_cents,
           cast(sum(web_search_requests) as bigint) as quantity
    from priced_requests
    where provider = 'anthropic' and web_search_requests > 0
    group by all
)
select * from token_lines
union all
select * from code_execution where amount_cents > 0
union all
select * from web_search;
"""

# Claude Code (seat) usage per user and day. It is billed by seat, not by the cost report, so it
# appears only in the Claude Code report; its estimated cost is priced at list for comparison.
_CLAUDE_CODE_SQL = """
create table claude_code_users as
select d.day, e.employee_id, e.email,
       (['vscode', 'iTerm.app', 'ghostty', 'cursor'])[1 + cast(hash(e.employee_id, 'terminal') % 4 as integer)] as terminal_type,
       1 + cast(hash(e.employee_id, d.day, 'sessions') % 6 as integer) as num_sessions,
       20 + cast(hash(e.employee_id, d.day, 'added') % 900 as integer) as lines_added,
       cast(hash(e.employee_id, d.day, 'removed') % 300 as integer) as lines_removed,
       cast(hash(e.employee_id, d.day, 'commits') % 6 as integer) as commits,
       cast(hash(e.employee_id, d.day, 'prs') % 3 as integer) as pull_requests,
       10 + cast(hash(e.employee_id, d.day, 'edit-ok') % 60 as integer) as edit_accepted,
       cast(hash(e.employee_id, d.day, 'edit-no') % 8 as integer) as edit_rejected,
       cast(hash(e.employee_id, d.day, 'write-ok') % 12 as integer) as write_accepted,
       cast(hash(e.employee_id, d.day, 'write-no') % 3 as integer) as write_rejected
from days d
join employees e on e.valid_from <= d.day and (e.valid_to is null or d.day < e.valid_to)
where list_contains(getvariable('providers'), 'anthropic')
  and e.has_ai_seat and e.employee_id not in (select employee_id from idle_seats)
  and rnd(e.employee_id, d.day, 0, 'claude-code') < case when d.dow >= 6 then 0.12 else 0.8 end;

create table claude_code_models as
select u.day, u.employee_id, u.email, m.model,
       cast(round(m.scale * (8000 + hash(u.employee_id, u.day, m.model, 'in') % 60000)) as bigint) as input_tokens,
       cast(round(m.scale * (2000 + hash(u.employee_id, u.day, m.model, 'out') % 30000)) as bigint) as output_tokens,
       cast(round(m.scale * (50000 + hash(u.employee_id, u.day, m.model, 'read') % 900000)) as bigint) as cache_read_tokens,
       cast(round(m.scale * (10000 + hash(u.employee_id, u.day, m.model, 'write') % 120000)) as bigint) as cache_creation_tokens
from claude_code_users u
cross join (values ('claude-sonnet-4-5-20250929', 1.0, 1.0), ('claude-haiku-4-5-20251001', 0.4, 0.45)) m(model, scale, share)
where m.share >= 1.0 or rnd(u.employee_id, u.day, 0, 'haiku') < m.share;
"""

_CLAUDE_CODE_COST_SQL = """
create table claude_code_models_priced as
select c.*,
       cast(round((usd(c.input_tokens, p.p_uncached, 1, false) + usd(c.output_tokens, p.p_output, 1, false)
                  + usd(c.cache_read_tokens, p.p_read, 1, false)
                  + usd(c.cache_creation_tokens, p.p_write_5m, 1, false)) * 100, 2) as decimal(18, 2))
         as estimated_cost_cents
from claude_code_models c
join resolved_prices p on p.provider = 'anthropic' and p.model = c.model and p.day = c.day and p.cw = 'all';
"""

# Spend the warehouse can attribute by no rule: no tag in the event log (or no event at all), no
# owner for the key that day, and no owner for the project or workspace that day. Web searches are
# billed per workspace and shared by the keys that made them, so request tags do not reach them.
_UNATTRIBUTED_SQL = """
create table project_owners as
select provider, project_id, cast(valid_from as date) as valid_from, cast(nullif(valid_to, '') as date) as valid_to
from read_csv('{project_owners_csv}', header = true, all_varchar = true);

create table spend_attribution as
select r.provider, r.day,
       r.uncached_usd + r.cache_read_usd + r.cache_write_usd + r.output_usd as usd,
       not r.tagged
         and not exists (select 1 from api_key_owners k where k.provider = r.provider and k.api_key_id = r.api_key_id
                         and k.valid_from <= r.day and (k.valid_to is null or r.day < k.valid_to))
         and not exists (select 1 from project_owners p where p.provider = r.provider and p.project_id = r.project_id
                         and p.valid_from <= r.day and (p.valid_to is null or r.day < p.valid_to)) as unattributed
from priced_requests r
union all
select r.provider, r.day,
       r.web_search_requests * cast(getvariable('web_search_cents_per_search') as decimal(6, 2))
         * cast('0.01' as decimal(3, 2)),
       not exists (select 1 from api_key_owners k where k.provider = r.provider and k.api_key_id = r.api_key_id
                   and k.valid_from <= r.day and (k.valid_to is null or r.day < k.valid_to))
         and not exists (select 1 from project_owners p where p.provider = r.provider and p.project_id = r.project_id
                         and p.valid_from <= r.day and (p.valid_to is null or r.day < p.valid_to))
from priced_requests r where r.web_search_requests > 0
union all
select 'anthropic', c.day, c.amount_cents * cast('0.01' as decimal(3, 2)),
       not exists (select 1 from project_owners p where p.provider = 'anthropic'
                   and p.project_id = coalesce(c.workspace_id, 'default')
                   and p.valid_from <= c.day and (p.valid_to is null or c.day < p.valid_to))
from anthropic_costs c where c.cost_type not in ('tokens', 'web_search');
"""


def _generate(landing_dir: Path, scale: float, providers: tuple[str, ...], fingerprint: str) -> DemoOrg:
    import duckdb

    events_dir = landing_dir / "events" / "demo"
    outcomes_dir = landing_dir / "outcomes" / "demo"
    backend = backend_dir(landing_dir)
    for folder in (events_dir, outcomes_dir):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    (backend / "manifest.json").unlink(missing_ok=True)
    for table in _BACKEND_TABLES:
        (backend / f"{table}.parquet").unlink(missing_ok=True)

    con = duckdb.connect()
    try:
        con.execute("set preserve_insertion_order = true")
        _load_config(con, scale, providers)
        con.execute(f"set variable code_execution_workspace = {_sql_str(CODE_EXECUTION_WORKSPACE)}")
        con.execute(f"set variable code_execution_cents_per_hour = {_sql_str(CODE_EXECUTION_CENTS_PER_HOUR)}")
        con.execute(f"set variable web_search_cents_per_search = {_sql_str(WEB_SEARCH_CENTS_PER_SEARCH)}")
        unattributed_sql = _UNATTRIBUTED_SQL.replace(
            "{project_owners_csv}", str(settings.SEEDS_DIR / "project_owners.csv").replace("'", "''"))
        for sql in (_MACROS, _REQUESTS_SQL, _CLAUDE_CODE_SQL, _PRICING_SQL, _BACKEND_SQL, _CLAUDE_CODE_COST_SQL,
                    unattributed_sql):
            con.execute(sql)
        _check_customers(con)
        unpriced = con.execute(
            "select count(*) from priced_requests where uncached_usd is null or output_usd is null"
        ).fetchone()[0]
        if unpriced:
            raise RuntimeError(f"{unpriced} demo requests have no provider price; fix the demo price lists")

        event_files = _write_events(con, events_dir)
        outcome_files = _write_outcomes(con, outcomes_dir)
        _write_backend(con, backend)

        n_requests, n_logged = con.execute("select count(*), count(*) filter (where logged) from priced_requests").fetchone()
        n_tasks = con.execute("select count(*) from units where task_id is not null").fetchone()[0]
        n_outcomes = con.execute("select count(*) from units where outcome is not null").fetchone()[0]
        billed, unattributed = con.execute(
            "select sum(usd), coalesce(sum(usd) filter (where unattributed), 0) from spend_attribution"
        ).fetchone()
    finally:
        con.close()

    org = DemoOrg(
        landing_dir=landing_dir, events_dir=events_dir, outcomes_dir=outcomes_dir, backend_dir=backend,
        start=DEMO_START, end=DEMO_END, scale=scale, providers=providers,
        requests=int(n_requests), logged_requests=int(n_logged), tasks=int(n_tasks), outcomes=int(n_outcomes),
        event_files=tuple(event_files), outcome_files=tuple(outcome_files),
        billed_usd=Decimal(billed), untagged_unowned_usd=Decimal(unattributed),
    )
    record = {k: v for k, v in asdict(org).items() if k not in ("landing_dir", "events_dir", "outcomes_dir", "backend_dir")}
    record.update(start=DEMO_START.isoformat(), end=DEMO_END.isoformat(), providers=list(providers),
                  event_files=list(event_files), outcome_files=list(outcome_files),
                  billed_usd=str(org.billed_usd), untagged_unowned_usd=str(org.untagged_unowned_usd))
    manifest = {"fingerprint": fingerprint, "generator_version": GENERATOR_VERSION, "org": record}
    tmp = backend / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    tmp.replace(backend / "manifest.json")
    return org


def _check_customers(con) -> None:
    """Refuse a customers seed that leaves a stream with no customer to serve on a day."""
    no_customer = con.execute("""
        select u.stream, u.day from units u
        where u.customer_id is null and u.stream in (select stream from stream_segments)
        order by 1, 2 limit 1""").fetchone()
    if no_customer:
        raise ValueError(f"stream {no_customer[0]} serves customers, but on {no_customer[1]} the customers seed "
                         "has no customer of its segments")


def _write_events(con, events_dir: Path) -> list[str]:
    """Write the logged requests, one file per UTC day, in the event-log format."""
    days = [r[0] for r in con.execute("select distinct day from priced_requests where logged order by day").fetchall()]
    columns = ", ".join(
        "strftime(occurred_at, '%Y-%m-%dT%H:%M:%S.%gZ') as occurred_at" if c == "occurred_at" else c
        for c in _EVENT_COLUMNS
    )
    names = []
    for day in days:
        fmt = _DAY_FORMATS.get((day - DEMO_START).days, "jsonl")
        name = f"{day.isoformat()}.{fmt}"
        options = {
            "jsonl": "FORMAT json",
            "jsonl.gz": "FORMAT json, COMPRESSION gzip",
            "csv": "FORMAT csv, HEADER true",
            "parquet": "FORMAT parquet, COMPRESSION zstd",
        }[fmt]
        con.execute(
            f"copy (select {columns} from priced_requests where logged and day = DATE '{day.isoformat()}' "
            "order by occurred_at, request_id) "
            f"to '{events_dir / name}' ({options})"
        )
        names.append(name)
    return names


def _write_outcomes(con, outcomes_dir: Path) -> list[str]:
    """Write task outcomes (JSONL), one file per UTC day of completion."""
    con.execute("""
        create table outcomes as
        select task_id, workflow,
               cast(day as timestamp) + to_seconds(cast(start_sec + (n_req - 1) * gap_sec + 1
                   + hash(stream, day, unit_idx, 'completion') % 1800 as bigint)) as completed_ts,
               outcome, parent_task_id
        from units where outcome is not null""")
    days = [r[0] for r in con.execute("select distinct cast(completed_ts as date) from outcomes order by 1").fetchall()]
    names = []
    for day in days:
        name = f"{day.isoformat()}.jsonl"
        con.execute(
            "copy (select task_id, workflow, strftime(completed_ts, '%Y-%m-%dT%H:%M:%SZ') as completed_at, "
            f"outcome, parent_task_id from outcomes where cast(completed_ts as date) = DATE '{day.isoformat()}' "
            f"order by completed_ts, task_id) to '{outcomes_dir / name}' (FORMAT json)"
        )
        names.append(name)
    return names


def _write_backend(con, backend: Path) -> None:
    """Persist the provider-side truth that `provider.py` aggregates into API pages."""
    queries = {
        "requests": "select * from priced_requests order by occurred_at, request_id",
        "openai_usage": "select * from openai_usage order by all",
        "openai_costs": "select * from openai_costs order by all",
        "anthropic_usage": "select * from anthropic_usage order by all",
        "anthropic_costs": "select * from anthropic_costs order by all",
        "claude_code_users": "select * from claude_code_users order by day, email",
        "claude_code_models": "select * from claude_code_models_priced order by day, email, model",
    }
    for table, query in queries.items():
        con.execute(f"copy ({query}) to '{backend / (table + '.parquet')}' (FORMAT parquet, COMPRESSION zstd)")
