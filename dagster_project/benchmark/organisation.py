"""The benchmark organisation: its lookups (a complete seeds folder) and its event-log files.

A mid-sized company on both providers: 8 teams of 12 employees, 25 product features, 10 automated
workflows, 60 API keys in one OpenAI project and one Anthropic workspace per team, 8 models. Over
30 days (September 2026) it logs `events` requests, one file per UTC day, in the documented
event-log format, as JSON lines and as Parquet, plus the outcome of every workflow task. One more
day (1 October) is written apart, for the one-day incremental build.

What the traffic exercises, by construction:
- token classes: OpenAI uncached input, cache reads, output; Anthropic also 5-minute cache writes;
  batch traffic (OpenAI `batch`, Anthropic `service_tier = batch`) on batch workflows;
- attribution by every rule: request tags (feature, workflow with tasks of 1 to 20 requests, customer;
  a shared gateway key whose requests name the calling team; personal keys tagged with the employee,
  whose team comes from the roster on the day), API key owners, project owners (old keys with no owner
  row in owned projects), and untagged traffic: 9 of the 60 keys (15%) have no owner, sit in projects
  with no owner, and their requests carry no tag;
- effective dates: one key changes owner on 16 September, one employee changes team that day, one
  customer moves to a bigger plan segment that day, and one model's price is cut that day (two price
  rows);
- customers: half of the service keys' tagged requests name one of 500 customers; the customers seed
  places all but the last 20 in a segment (the others are unknown to it);
- one model (`gpt-5-mini`) has no price;
- re-delivery: about 1 line in 200 repeats the previous request (same `request_id`).

The price book is the project's own (`seeds/price_book.csv`): every row in force on the first day,
with the benchmark's price cut added. Every row of event data is produced by DuckDB SQL from
`hash()` of the line number, so a given number of events always gives the same files.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import shutil
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb

from dagster_project import settings

START = dt.date(2026, 9, 1)
DAYS = 30
CHANGE_DAY = dt.date(2026, 9, 16)  # a key changes owner, an employee changes team, a price is cut
EXTRA_DAY = START + dt.timedelta(days=DAYS)  # the day the incremental build adds
PRICE_CUT_MODEL = "gpt-4.1-mini"  # price-book model whose price is cut on CHANGE_DAY
PRICE_CUT = Decimal("0.8")
UNPRICED_MODEL = "gpt-5-mini-2025-08-07"
GENERATOR_MEMORY = "2GB"
BLOCK = 20  # consecutive requests share a key, a day and (on workflow keys) tasks of 1..20 requests

# provider model ids and their share of each provider's requests (percent)
MODELS = {
    "openai": [("gpt-4.1-mini-2025-04-14", 35), ("gpt-4.1-2025-04-14", 20), ("gpt-4o-2024-08-06", 10),
               ("gpt-4o-mini-2024-07-18", 25), (UNPRICED_MODEL, 10)],
    "anthropic": [("claude-sonnet-4-5-20250929", 55), ("claude-haiku-4-5-20251001", 35),
                  ("claude-opus-4-5-20251101", 10)],
}

TEAMS = [
    ("support", "Customer Support", "cc-4100"),
    ("growth", "Growth and Search", "cc-3400"),
    ("finance-ops", "Finance Operations", "cc-2200"),
    ("legal", "Legal", "cc-2600"),
    ("platform", "Platform Engineering", "cc-3100"),
    ("sales", "Sales", "cc-5100"),
    ("marketing", "Marketing", "cc-5200"),
    ("data-science", "Data Science", "cc-3600"),
]

# feature, name, owning team, is_production (employee tooling is not production)
FEATURES = [
    ("ticket-summary", "Ticket summary", "support", True),
    ("reply-drafts", "Reply drafts", "support", True),
    ("sentiment-tagging", "Sentiment tagging", "support", True),
    ("search-answers", "Search answers", "growth", True),
    ("recommendations", "Recommendations", "growth", True),
    ("onboarding-guide", "Onboarding guide", "growth", True),
    ("doc-extraction", "Document extraction", "finance-ops", True),
    ("expense-review", "Expense review", "finance-ops", True),
    ("forecast-notes", "Forecast notes", "finance-ops", True),
    ("contract-clauses", "Contract clauses", "legal", True),
    ("policy-qa", "Policy Q&A", "legal", True),
    ("internal-assistant", "Internal assistant (employee tooling)", "platform", False),
    ("code-assist", "Code assistant (employee tooling)", "platform", False),
    ("log-triage", "Log triage", "platform", True),
    ("incident-summary", "Incident summary", "platform", True),
    ("lead-scoring", "Lead scoring", "sales", True),
    ("email-drafts", "Email drafts", "sales", True),
    ("call-notes", "Call notes", "sales", True),
    ("copy-generation", "Copy generation", "marketing", True),
    ("seo-briefs", "SEO briefs", "marketing", True),
    ("image-captions", "Image captions", "marketing", True),
    ("sql-assistant", "SQL assistant", "data-science", True),
    ("data-labeling", "Data labeling", "data-science", True),
    ("eval-judging", "Evaluation judging", "data-science", True),
    ("research-digest", "Research digest", "data-science", True),
]

# workflow, name, owning team, automated since, feature of its key, share of batch traffic (percent)
WORKFLOWS = [
    ("support-triage", "Support ticket triage", "support", "2026-03-02", "ticket-summary", 0),
    ("refund-handling", "Refund request handling", "support", "2026-06-01", "reply-drafts", 0),
    ("invoice-processing", "Invoice processing", "finance-ops", "2026-05-11", "doc-extraction", 90),
    ("expense-audit", "Expense audit", "finance-ops", "2026-07-06", "expense-review", 50),
    ("contract-review", "Contract first-pass review", "legal", "2026-07-06", "contract-clauses", 0),
    ("code-review", "Pull-request code review", "platform", "2026-08-03", "", 0),
    ("incident-response", "Incident response summaries", "platform", "2026-04-06", "incident-summary", 0),
    ("lead-enrichment", "Lead enrichment", "sales", "2026-05-04", "lead-scoring", 60),
    ("campaign-briefs", "Campaign briefs", "marketing", "2026-06-15", "seo-briefs", 0),
    ("eval-pipeline", "Model evaluation pipeline", "data-science", "2026-02-02", "eval-judging", 90),
]

EMPLOYEES_PER_TEAM = 12
MOVER = ("emp-005", "platform")  # employee who changes team on CHANGE_DAY, and the team joined
PERSONAL_KEY_EMPLOYEES = ["emp-005", "emp-014", "emp-027", "emp-038", "emp-062", "emp-089"]
SECOND_KEY_FEATURES = ["search-answers", "ticket-summary", "doc-extraction", "recommendations", "copy-generation"]
HANDED_OVER = ("forecast-notes", "data-science")  # the service key that changes owner, and its new team
CUSTOMERS = 500  # customer ids cus_0000 .. cus_0499, on the service keys' tagged requests
UNKNOWN_CUSTOMERS = 20  # the last ids, which the customers seed does not list
SEGMENTS = (("enterprise", 10), ("growth", 30), ("free", 60))  # segment, percent of customers
UPGRADED_CUSTOMER = ("cus_0003", "enterprise")  # moves to this segment on CHANGE_DAY
LEGACY_KEYS, UNOWNED_KEYS = 4, 9


@dataclass(frozen=True)
class Key:
    idx: int
    provider: str
    api_key_id: str
    project_id: str
    role: str  # workflow, service, personal, gateway, legacy (no owner row), unowned (nor its project)
    team: str | None
    feature: str | None
    workflow: str | None
    employee_id: str | None
    tag_share: int  # percent of its requests' blocks that carry tags
    batch_share: int  # percent of its requests' blocks sent as batch


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def project_id(provider: str, team: str | None) -> str:
    """A team's OpenAI project or Anthropic workspace; no team: the unowned sandbox / default workspace."""
    if provider == "anthropic":
        return "default" if team is None else "wrkspc_01" + _digest(f"workspace {team}", 24)
    return "proj_" + _digest(f"project {team or 'sandbox'}", 16)


def employee_team(employee_id: str) -> str:
    """The team an employee starts the period in."""
    return TEAMS[(int(employee_id.split("-")[1]) - 1) // EMPLOYEES_PER_TEAM][0]


def keys() -> list[Key]:
    """The 60 API keys: who holds each, where it lives, how its requests are tagged."""
    specs: list[tuple] = []  # role, team, feature, workflow, employee, tag share, batch share
    for workflow, _, team, _, feature, batch in WORKFLOWS:
        specs.append(("workflow", team, feature or None, workflow, None, 100, batch))
    for feature, _, team, _ in FEATURES:
        specs.append(("service", team, feature, None, None, 70, 0))
    for feature in SECOND_KEY_FEATURES:
        team = next(f[2] for f in FEATURES if f[0] == feature)
        specs.append(("service", team, feature, None, None, 70, 0))
    for employee in PERSONAL_KEY_EMPLOYEES:
        specs.append(("personal", None, None, None, employee, 50, 0))
    specs.append(("gateway", "platform", None, None, None, 100, 0))
    for i in range(LEGACY_KEYS):
        specs.append(("legacy", TEAMS[i * 2][0], None, None, None, 0, 0))
    for _ in range(UNOWNED_KEYS):
        specs.append(("unowned", None, None, None, None, 0, 0))
    out = []
    for idx, (role, team, feature, workflow, employee, tag_share, batch_share) in enumerate(specs):
        provider = "anthropic" if idx % 5 in (1, 3) else "openai"
        if provider == "openai":
            key_id = "key_" + _digest(f"key {idx}", 16)
        else:
            key_id = "apikey_01" + _digest(f"key {idx}", 24)
        home_team = team or (employee_team(employee) if employee else None)
        out.append(Key(idx, provider, key_id, project_id(provider, home_team), role, team, feature, workflow,
                       employee, tag_share, batch_share))
    return out


# ---------------------------------------------------------------------------------------------------
# seeds


def _write_csv(path: Path, header: list[str], rows: list[tuple]) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for row in rows:
            w.writerow(["" if v is None else ("true" if v is True else "false" if v is False else v) for v in row])


def _price_book(source: Path) -> list[tuple]:
    """The project's price book as in force on START, open-ended, with the mid-month price cut."""
    with source.open(newline="") as f:
        rows = list(csv.DictReader(f))
    header = list(rows[0].keys())
    out, cut = [], 0
    for row in rows:
        start = dt.date.fromisoformat(row["valid_from"])
        end = dt.date.fromisoformat(row["valid_to"]) if row["valid_to"] else None
        if not (start <= START and (end is None or end > START)):
            continue
        if row["model"] == PRICE_CUT_MODEL:
            cut += 1
            before = {**row, "valid_to": CHANGE_DAY.isoformat()}
            after = {**row, "valid_from": CHANGE_DAY.isoformat(), "valid_to": "",
                     "usd_per_million_tokens": str(Decimal(row["usd_per_million_tokens"]) * PRICE_CUT),
                     "source": "benchmark organisation: mid-month price cut"}
            out += [tuple(before[h] for h in header), tuple(after[h] for h in header)]
        else:
            out.append(tuple({**row, "valid_to": ""}[h] for h in header))
    if not cut:
        raise ValueError(f"{source} has no {PRICE_CUT_MODEL} price in force on {START}")
    return [tuple(header)] + out


def write_seeds(folder: Path, events: int) -> None:
    """Every seed file the dbt project reads, describing this organisation, into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    _write_csv(folder / "teams.csv", ["team", "team_name", "cost_center"], TEAMS)
    _write_csv(folder / "features.csv", ["feature", "feature_name", "owner_team", "is_production"], FEATURES)
    _write_csv(folder / "workflows.csv",
               ["workflow", "workflow_name", "owner_team", "is_production", "automated_since", "batchable"],
               [(w, n, t, True, since, batch_pct > 0) for w, n, t, since, _, batch_pct in WORKFLOWS])
    _write_csv(folder / "workflow_baselines.csv",
               ["workflow", "baseline_cost_per_task_usd", "measured_from", "measured_to", "source"],
               [("support-triage", "4.10", "2025-10-06", "2026-01-30", "benchmark organisation: agent time study"),
                ("invoice-processing", "2.65", "2025-11-03", "2026-02-27", "benchmark organisation: AP handling time"),
                ("contract-review", "46.00", "2026-01-05", "2026-04-24", "benchmark organisation: paralegal review log"),
                ("lead-enrichment", "1.20", "2026-01-05", "2026-03-27", "benchmark organisation: SDR research time")])

    employees = []
    for n in range(1, len(TEAMS) * EMPLOYEES_PER_TEAM + 1):
        emp = f"emp-{n:03d}"
        team = employee_team(emp)
        email, name = f"{emp}@bench.example", f"Employee {n:03d}"
        seat = emp in PERSONAL_KEY_EMPLOYEES or int(_digest(f"seat {emp}", 4), 16) % 100 < 60
        joined = (dt.date(2023, 1, 2) + dt.timedelta(days=int(_digest(f"joined {emp}", 4), 16) % 1200)).isoformat()
        if emp == MOVER[0]:
            employees.append((emp, email, name, team, seat, joined, CHANGE_DAY.isoformat()))
            employees.append((emp, email, name, MOVER[1], seat, CHANGE_DAY.isoformat(), None))
        else:
            employees.append((emp, email, name, team, seat, joined, None))
    _write_csv(folder / "employees.csv",
               ["employee_id", "email", "full_name", "team", "has_ai_seat", "valid_from", "valid_to"], employees)

    key_rows = []
    for k in keys():
        if k.role in ("legacy", "unowned"):
            continue
        name = f"{k.role}-{k.workflow or k.feature or k.employee_id or k.team}-{k.idx}"
        row = [k.provider, k.api_key_id, name, k.team, k.feature, k.workflow, k.employee_id, "2026-01-05", None]
        if k.role == "service" and k.feature == HANDED_OVER[0]:
            key_rows.append(tuple(row[:-1] + [CHANGE_DAY.isoformat()]))
            row = [k.provider, k.api_key_id, name + " (handed over)", HANDED_OVER[1], k.feature, None, None,
                   CHANGE_DAY.isoformat(), None]
        key_rows.append(tuple(row))
    _write_csv(folder / "api_key_owners.csv",
               ["provider", "api_key_id", "key_name", "team", "feature", "workflow", "employee_id", "valid_from",
                "valid_to"], key_rows)

    projects = [(provider, project_id(provider, team), f"{name} ({provider})", team, None, None, "2026-01-05", None)
                for team, name, _ in TEAMS for provider in ("openai", "anthropic")]
    _write_csv(folder / "project_owners.csv",
               ["provider", "project_id", "project_name", "team", "feature", "workflow", "valid_from", "valid_to"],
               projects)

    book = _price_book(settings.SEEDS_DIR / "price_book.csv")
    _write_csv(folder / "price_book.csv", list(book[0]), book[1:])
    _write_csv(folder / "price_book_generated.csv", list(book[0]), [])  # no database rows: `make prices` writes them

    _write_csv(folder / "tag_aliases.csv", ["dimension", "alias", "canonical"],
               [("feature", "search", "search-answers"), ("feature", "ticket-summarizer", "ticket-summary"),
                ("workflow", "triage", "support-triage"), ("team", "ds", "data-science")])
    customers = []
    for n in range(CUSTOMERS - UNKNOWN_CUSTOMERS):
        customer, roll = f"cus_{n:04d}", int(_digest(f"segment cus_{n:04d}", 4), 16) % 100
        segment = next(name for name, bound in _segment_bounds() if roll < bound)
        name, joined = f"Customer {n:04d}", (START - dt.timedelta(days=30 + n)).isoformat()
        if customer == UPGRADED_CUSTOMER[0]:
            customers.append((customer, name, segment, joined, CHANGE_DAY.isoformat()))
            customers.append((customer, name, UPGRADED_CUSTOMER[1], CHANGE_DAY.isoformat(), None))
        else:
            customers.append((customer, name, segment, joined, None))
    _write_csv(folder / "customers.csv", ["customer_id", "customer_name", "segment", "valid_from", "valid_to"],
               customers)
    _write_csv(folder / "tag_corrections.csv",
               ["request_id", "task_id", "dimension", "value", "valid_from", "valid_to", "reason"], [])
    # monthly budgets in proportion to the volume, so their status means the same at any size
    scale = Decimal(events) / Decimal(1_000_000)
    budgets = [("workflow", "support-triage", 900, "soft", "support"),
               ("workflow", "invoice-processing", 400, "soft", "finance-ops"),
               ("workflow", "code-review", 700, "soft", "platform"),
               ("feature", "search-answers", 800, "soft", "growth"),
               ("feature", "doc-extraction", 800, "soft", "finance-ops"),
               ("team", "platform", 4000, "soft", "platform"),
               ("team", "data-science", 3500, "soft", "data-science"),
               ("feature", "internal-assistant", 150, "hard_cap", "platform"),
               ("feature", "code-assist", 300, "hard_cap", "platform")]
    _write_csv(folder / "budgets.csv",
               ["scope_type", "scope", "monthly_budget_usd", "policy", "owner", "valid_from", "valid_to"],
               [(t, s, f"{(amount * scale).quantize(Decimal('0.01'))}", p, o, START.isoformat(), None)
                for t, s, amount, p, o in budgets])


def _segment_bounds() -> list[tuple[str, int]]:
    """SEGMENTS as cumulative percent bounds: a customer whose roll (0-99) is below a bound is in it."""
    bounds, total = [], 0
    for name, percent in SEGMENTS:
        total += percent
        bounds.append((name, total))
    return bounds


# ---------------------------------------------------------------------------------------------------
# events


def _values(rows: list[tuple]) -> str:
    def lit(v):
        if v is None:
            return "null"
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        return "'" + str(v).replace("'", "''") + "'"
    return ", ".join("(" + ", ".join(lit(v) for v in row) + ")" for row in rows)


def _model_case(provider: str) -> str:
    branches, edge = [], 0
    for model, share in MODELS[provider]:
        edge += share
        branches.append(f"when model_roll < {edge} then '{model}'")
    return "case " + " ".join(branches) + " end"


def _uniform(name: str) -> str:
    """A uniform draw in [0, 1) from the request number."""
    return f"((hash(r, '{name}') % 1000000) / 1000000.0)"


def _tokens(low: int, high: int, draw: str, unit: int = 1) -> str:
    """Skewed token counts: most requests near `low`, a long tail up to `high`, in multiples of `unit`."""
    return f"cast(floor(({low} + {high - low} * {_uniform(draw)} ** 2) / {unit}) * {unit} as bigint)"


def events_sql(first: int, count: int, day: str) -> str:
    """`create table events`: `count` lines from line number `first`; `day` is the SQL of the day index."""
    ks = keys()
    key_rows = [(k.idx, k.provider, k.api_key_id, k.project_id, k.role, k.feature, k.workflow, k.employee_id,
                 k.tag_share, k.batch_share) for k in ks]
    feature_rows = [(i, f, team) for i, (f, _, team, _) in enumerate(FEATURES)]
    task = "printf('task_%d_%d', b, pos // task_size)"
    return f"""
    create or replace table events as
    with keys(key_idx, provider, api_key_id, project_id, role, feature, workflow, employee_id, tag_share,
              batch_share) as (values {_values(key_rows)}),
    gateway_features(feature_idx, feature, team) as (values {_values(feature_rows)}),
    lines as (
        -- about 1 line in 200 delivers the previous request again
        select case when i > {first} and hash(i, 'redelivered') % 200 = 0 then i - 1 else i end as r
        from range({first}, {first + count}) t(i)
    ),
    blocks as (
        select r, r // {BLOCK} as b, r % {BLOCK} as pos,
            hash(r // {BLOCK}, 'key') % {len(ks)} as key_idx,
            {day} as day_idx,
            1 + hash(r // {BLOCK}, 'task size') % {BLOCK} as task_size,
            hash(r // {BLOCK}, 'tagged') % 100 as tag_roll,
            hash(r // {BLOCK}, 'batch') % 100 as batch_roll,
            hash(r // {BLOCK}, 'second') % 82800 as first_second,
            hash(r // {BLOCK}, 'gateway feature') % {len(FEATURES)} as feature_idx,
            hash(r // {BLOCK}, 'customer') % 1000 as customer_roll,
            hash(r, 'model') % 100 as model_roll
        from lines
    ),
    requests as (
        select blocks.*, keys.provider, keys.api_key_id, keys.project_id, keys.role,
            keys.feature as key_feature, keys.workflow as key_workflow, keys.employee_id as key_employee,
            tag_roll < keys.tag_share as tagged,
            batch_roll < keys.batch_share as batch,
            gateway_features.feature as gateway_feature, gateway_features.team as gateway_team,
            timestamp '{START}' + to_days(cast(day_idx as integer))
                + to_seconds(cast(first_second + pos * 3 + hash(r, 'jitter') % 3 as bigint)) as requested_at
        from blocks
        join keys using (key_idx)
        join gateway_features using (feature_idx)
    )
    select
        case when provider = 'openai' then printf('chatcmpl-%s%09d', substr(md5(cast(r as varchar)), 1, 12), r)
             else printf('msg_01%s%09d', substr(md5(cast(r as varchar)), 1, 12), r) end as request_id,
        strftime(requested_at, '%Y-%m-%dT%H:%M:%SZ') as occurred_at,
        provider,
        case when provider = 'openai' then {_model_case('openai')} else {_model_case('anthropic')} end as model,
        api_key_id,
        project_id,
        case when provider = 'openai' then {_tokens(200, 6000, 'uncached')}
             else {_tokens(50, 4000, 'uncached')} end as uncached_input_tokens,
        case when provider = 'openai' then
                 case when {_uniform('cached')} < 0.4 then {_tokens(1024, 20000, 'cache read', 128)} else 0 end
             else case when {_uniform('cached')} < 0.6 then {_tokens(2000, 60000, 'cache read')} else 0 end
        end as cache_read_input_tokens,
        case when provider = 'anthropic' and {_uniform('written')} < 0.15 then {_tokens(1024, 20000, 'cache write')}
             else 0 end as cache_write_input_tokens,
        case when provider = 'openai' then {_tokens(20, 1500, 'output')}
             else {_tokens(50, 3000, 'output')} end as output_tokens,
        batch,
        case when provider = 'openai' then 'default' when batch then 'batch' else 'standard' end as service_tier,
        case when not tagged then null
             when role = 'service' then key_feature
             when role = 'personal' then 'internal-assistant'
             when role = 'gateway' then gateway_feature end as feature,
        case when tagged and role = 'workflow' then key_workflow end as workflow,
        case when tagged and role = 'workflow' then {task} end as task_id,
        case when tagged and role = 'gateway' then gateway_team end as team,
        case when tagged and role = 'personal' then key_employee end as employee_id,
        case when tagged and role = 'service' and customer_roll < {CUSTOMERS} then printf('cus_%04d', customer_roll)
             end as customer_id,
        requested_at as _at,
        cast(requested_at as date) as day
    from requests
    """


OUTCOMES_SQL = """
    -- one outcome per task, 45 seconds after its last request; 4 tasks in 100 have not reported yet
    select task_id, workflow, strftime(max(_at) + interval 45 second, '%Y-%m-%dT%H:%M:%SZ') as completed_at,
        case when hash(task_id, 'outcome') % 100 < 88 then 'success' else 'failure' end as outcome,
        min(day) as day
    from events
    where task_id is not null
    group by task_id, workflow
    having hash(task_id, 'reported') % 100 >= 4
"""


@dataclass(frozen=True)
class Layout:
    """Where the generated files go under the benchmark's folder."""

    root: Path

    @property
    def seeds(self) -> Path:
        return self.root / "seeds"

    def landing(self, fmt: str) -> Path:
        """The landing folder the builds read: events in `fmt` (jsonl or parquet), outcomes as JSON lines."""
        return self.root / f"landing-{fmt}"

    def extra_day(self, fmt: str) -> Path:
        """The incremental day's files, laid out like a landing folder, copied in before the second build."""
        return self.root / f"extra-day-{fmt}"


def _copy_partitioned(con: duckdb.DuckDBPyConnection, select: str, folder: Path, fmt: str, stem: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    options = "format json, file_extension 'jsonl'" if fmt == "jsonl" else "format parquet"
    con.execute(f"""copy ({select}) to '{folder}'
                    ({options}, partition_by (day), filename_pattern '{stem}_{{i}}', overwrite_or_ignore)""")


def write_events(layout: Layout, events: int, workdir: Path) -> dict:
    """Write the period's events (`events` lines) and the extra day's, in both formats, with outcomes."""
    db = workdir / "generate.duckdb"
    con = duckdb.connect(str(db))
    try:
        # the generator shares the machine with what it measures: spill to disk rather than hold 10M rows
        con.execute("set preserve_insertion_order = false")
        con.execute(f"set memory_limit = '{GENERATOR_MEMORY}'")
        con.execute(f"set temp_directory = '{workdir / 'generate.tmp'}'")
        extra = max(1, events // DAYS)
        parts = [("period", layout.landing, 0, events, f"hash(r // {BLOCK}, 'day') % {DAYS}"),
                 ("extra_day", layout.extra_day, events, extra, str(DAYS))]
        counts = {}
        for name, where, first, count, day in parts:
            con.execute(events_sql(first, count, day))
            for fmt in ("jsonl", "parquet"):
                _copy_partitioned(con, "select * exclude (_at) from events", where(fmt) / "events", fmt, "events")
                _copy_partitioned(con, OUTCOMES_SQL, where(fmt) / "outcomes", "jsonl", "outcomes")
            counts[name] = con.execute(
                "select count(*), count(distinct request_id), count(distinct task_id) from events").fetchone()
    finally:
        con.close()
        db.unlink(missing_ok=True)
        shutil.rmtree(workdir / "generate.tmp", ignore_errors=True)
    return {name: {"lines": c[0], "requests": c[1], "tasks": c[2]} for name, c in counts.items()}


def generate(root: Path, events: int) -> tuple[Layout, dict]:
    """Seeds and event files for `events` lines under `root`."""
    layout = Layout(root)
    write_seeds(layout.seeds, events)
    counts = write_events(layout, events, root)
    return layout, counts
