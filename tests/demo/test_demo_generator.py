"""The demo organisation: deterministic, the right size, and every hard case the warehouse must handle."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
from decimal import Decimal

import duckdb
import pytest

from dagster_project.demo.generator import (
    DEMO_END,
    DEMO_START,
    WEB_SEARCH_CENTS_PER_SEARCH,
    generate_demo_org,
)
from tests.demo.conftest import open_demo

# Spend a rule can attribute: a tag in the event log, an owner for the key that day, or an owner for
# the project / workspace that day. Everything else is "untagged and unowned". A workspace's web-search
# line is shared by the keys that searched, by their searches; tags do not reach it.
UNATTRIBUTED_SQL = """
with request_spend as (
    select r.request_id, r.provider, r.day, r.api_key_id, r.project_id,
           r.uncached_usd + r.cache_read_usd + r.cache_write_usd + r.output_usd as usd,
           coalesce(e.feature, e.workflow, e.team, e.employee_id) is not null as tagged
    from requests r left join events e using (request_id)
), owned as (
    select s.*,
           exists (select 1 from api_key_owners k where k.provider = s.provider and k.api_key_id = s.api_key_id
                   and cast(k.valid_from as date) <= s.day
                   and (k.valid_to is null or s.day < cast(k.valid_to as date))) as key_owned,
           exists (select 1 from project_owners p where p.provider = s.provider and p.project_id = s.project_id
                   and cast(p.valid_from as date) <= s.day
                   and (p.valid_to is null or s.day < cast(p.valid_to as date))) as project_owned
    from request_spend s
), search_spend as (
    select s.*, r.web_search_requests * {cents_per_search}::decimal(6, 2) * 0.01::decimal(3, 2) as search_usd
    from owned s join requests r using (request_id)
    where r.web_search_requests > 0
), other_lines as (
    select c.amount_cents * 0.01::decimal(3, 2) as usd,
           exists (select 1 from project_owners p where p.provider = 'anthropic'
                   and p.project_id = coalesce(c.workspace_id, 'default')) as project_owned
    from anthropic_costs c where c.cost_type not in ('tokens', 'web_search')
)
select (select sum(usd) from owned where not (tagged or key_owned or project_owned))
       + (select coalesce(sum(search_usd), 0) from search_spend where not (key_owned or project_owned))
       + (select coalesce(sum(usd), 0) from other_lines where not project_owned),
       (select sum(usd) from owned) + (select coalesce(sum(search_usd), 0) from search_spend)
       + (select sum(usd) from other_lines)
"""


def digests(root) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".lock"}


def test_generation_is_deterministic(tmp_path):
    a = generate_demo_org(tmp_path / "a", scale=0.25)
    b = generate_demo_org(tmp_path / "b", scale=0.25)
    assert a.requests == b.requests and a.billed_usd == b.billed_usd
    assert digests(tmp_path / "a") == digests(tmp_path / "b")
    assert len(digests(tmp_path / "a")) > 60


def test_second_call_is_a_fast_no_op_and_other_arguments_regenerate(tmp_path):
    first = generate_demo_org(tmp_path, scale=0.2)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.jsonl")}
    started = time.perf_counter()
    again = generate_demo_org(tmp_path, scale=0.2)
    assert time.perf_counter() - started < 1.0
    assert again == first
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.jsonl")} == before

    openai_only = generate_demo_org(tmp_path, scale=0.2, providers=["openai"])
    assert openai_only.providers == ("openai",) and openai_only.requests < first.requests
    con = open_demo(openai_only)
    assert con.execute("select distinct provider from events").fetchall() == [("openai",)]
    assert con.execute("select count(*) from anthropic_costs").fetchone()[0] == 0
    assert con.execute("select count(*) from claude_code_users").fetchone()[0] == 0
    assert generate_demo_org(tmp_path, scale=0.2) == first


def test_scale_two_roughly_doubles_volume(tmp_path, demo_org):
    double = generate_demo_org(tmp_path, scale=2.0)
    for attr in ("requests", "logged_requests", "tasks"):
        assert 1.85 < getattr(double, attr) / getattr(demo_org, attr) < 2.15, attr
    assert Decimal("1.8") < double.billed_usd / demo_org.billed_usd < Decimal("2.2")


def test_period_volume_and_cast(demo_org, demo):
    assert (demo_org.start, demo_org.end) == (DEMO_START, DEMO_END) == (dt.date(2026, 9, 1), dt.date(2026, 10, 31))
    assert 100_000 <= demo_org.requests <= 200_000
    days, providers, first, last = demo.execute(
        "select count(distinct day), count(distinct provider), min(occurred_at), max(occurred_at) from requests"
    ).fetchone()
    assert days == 60 and providers == 2
    assert dt.datetime(2026, 9, 1) <= first and last < dt.datetime(2026, 10, 31)
    features, workflows = demo.execute(
        "select count(distinct feature), count(distinct workflow) from events").fetchone()
    assert features >= 3 and workflows >= 4
    teams = demo.execute("""
        select count(distinct team) from (
            select team from events where team is not null
            union select k.team from api_key_owners k join requests r using (api_key_id)
            union select m.team from employees m join events e using (employee_id))""").fetchone()[0]
    assert teams >= 5
    assert demo.execute("select count(distinct employee_id) from events").fetchone()[0] >= 15


def test_event_files_one_per_day_in_every_format(demo_org, demo):
    names = demo_org.event_files
    assert len(names) == 60
    kinds = {n.split(".", 1)[1] for n in names}
    assert kinds == {"jsonl", "csv", "parquet", "jsonl.gz"}
    assert sum(n.endswith(".parquet") for n in names) in (1, 2)
    assert sum(n.endswith(".jsonl.gz") for n in names) == 1
    rows = demo.execute("""
        select count(*), count(distinct request_id),
               count(*) filter (where not regexp_full_match(occurred_at, '\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z')),
               count(*) filter (where split_part(file, '.', 1) <> left(occurred_at, 10)),
               count(*) filter (where least(uncached_input_tokens, cache_read_input_tokens, cache_write_input_tokens,
                                            output_tokens) < 0 or batch is null or request_id is null)
        from events""").fetchone()
    assert rows == (demo_org.logged_requests, demo_org.logged_requests, 0, 0, 0)
    for name in names:
        path = demo_org.events_dir / name
        reader = {"csv": "read_csv", "parquet": "read_parquet"}.get(name.split(".", 1)[1], "read_json")
        columns = [c[0] for c in duckdb.sql(f"select * from {reader}('{path}') limit 0").description]
        assert columns[:12] == ["request_id", "occurred_at", "provider", "model", "api_key_id", "project_id",
                                "uncached_input_tokens", "cache_read_input_tokens", "cache_write_input_tokens",
                                "output_tokens", "batch", "service_tier"], name


def test_logged_events_match_the_true_requests(demo):
    mismatched = demo.execute("""
        select count(*) from events e join requests r using (request_id)
        where (e.provider, e.model, e.api_key_id, e.project_id, e.uncached_input_tokens, e.cache_read_input_tokens,
               e.cache_write_input_tokens, e.output_tokens, e.batch)
           is distinct from (r.provider, r.model, r.api_key_id, r.project_id, r.uncached_input_tokens,
               r.cache_read_input_tokens, r.cache_write_input_tokens, r.output_tokens, r.batch)""").fetchone()[0]
    orphans = demo.execute("select count(*) from events anti join requests using (request_id)").fetchone()[0]
    assert (mismatched, orphans) == (0, 0)


def test_untagged_and_unowned_share_of_billed_spend(demo_org, demo):
    sql = UNATTRIBUTED_SQL.replace("{cents_per_search}", WEB_SEARCH_CENTS_PER_SEARCH)
    unattributed, billed = demo.execute(sql).fetchone()
    share = unattributed / billed
    assert Decimal("0.10") <= share <= Decimal("0.20"), share
    # the generator reports the same figure it was built to have
    assert abs(demo_org.untagged_unowned_share - share) < Decimal("1e-9")
    assert abs(demo_org.billed_usd - billed) < Decimal("0.000001")


def test_request_truth_adds_up_to_the_bill(demo):
    """Per day and provider, the priced requests plus non-usage lines equal the billed lines (to the cent)."""
    rows = demo.execute("""
        with truth as (
            select provider, day, sum(uncached_usd + cache_read_usd + cache_write_usd + output_usd) as usd
            from requests group by all
            union all select 'anthropic', day, sum(amount_cents) * 0.01::decimal(3, 2) from anthropic_costs
                      where cost_type <> 'tokens' group by all
        ), bill as (
            select 'openai' as provider, day, sum(amount_usd) as usd from openai_costs group by all
            union all select 'anthropic', day, sum(amount_cents) * 0.01::decimal(3, 2) from anthropic_costs group by all
        )
        select provider, day, t.usd, b.usd from (select provider, day, sum(usd) as usd from truth group by all) t
        full join bill b using (provider, day)""").fetchall()
    assert len(rows) == 120
    for provider, day, truth, billed in rows:
        assert abs(Decimal(truth) - Decimal(billed)) < Decimal("0.005"), (provider, day)


def test_unpriced_model_is_in_traffic_and_billed_but_not_in_the_price_book(demo):
    unpriced = demo.execute("""
        select distinct r.model from requests r
        where not exists (select 1 from price_book p where p.provider = r.provider
                          and lower(r.model) like p.match_pattern)""").fetchall()
    assert len(unpriced) == 1
    model = unpriced[0][0]
    billed = demo.execute("select sum(amount_usd) from openai_costs where line_item like ? || ',%'", [model]).fetchone()[0]
    logged = demo.execute("select count(*) from events where model = ?", [model]).fetchone()[0]
    assert billed > 0 and logged > 0


def test_every_priced_bill_line_is_list_price_in_force_that_day(demo):
    """Re-price the provider's token lines from the seeds: price change, batch and long context honoured."""
    demo.execute("""
        create or replace temp view line_prices as
        with openai_lines as (
            select 'openai' as provider, day, split_part(line_item, ', ', 1) as model,
                   case when split_part(line_item, ', ', 2) like '%cached input' then 'cache_read_input'
                        when split_part(line_item, ', ', 2) like '%input' then 'uncached_input' else 'output' end
                     as token_class,
                   split_part(line_item, ', ', 2) like 'batch %' as is_batch, 'all' as cw,
                   quantity, amount_usd as amount
            from openai_costs
        ), anthropic_lines as (
            select 'anthropic', day, model,
                   case token_type when 'uncached_input_tokens' then 'uncached_input'
                                   when 'cache_read_input_tokens' then 'cache_read_input'
                                   when 'cache_creation.ephemeral_5m_input_tokens' then 'cache_write_5m_input'
                                   when 'cache_creation.ephemeral_1h_input_tokens' then 'cache_write_1h_input'
                                   else 'output' end,
                   service_tier = 'batch', context_window, quantity, amount_cents * 0.01::decimal(3, 2)
            from anthropic_costs where cost_type = 'tokens'
        ), lines as (select * from openai_lines union all select * from anthropic_lines)
        select l.*, p.usd_per_million_tokens::decimal(18, 6) as price, p.batch_multiplier::decimal(6, 4) as mult,
               p.match_pattern
        from lines l
        left join price_book p
          on p.provider = l.provider and lower(l.model) like p.match_pattern and p.token_class = l.token_class
         and p.service_tier = 'standard' and p.context_window in ('all', l.cw) and cast(p.valid_from as date) <= l.day
         and (p.valid_to is null or l.day < cast(p.valid_to as date))
        qualify row_number() over (partition by l.provider, l.day, l.model, l.token_class, l.is_batch, l.cw, l.amount,
                                   l.quantity order by length(p.match_pattern) desc nulls last,
                                   (p.context_window = l.cw) desc) = 1""")
    off = demo.execute("""
        select count(*) from line_prices where price is not null
           and abs(amount - quantity * price * case when is_batch then mult else 1 end * 0.000001::decimal(7, 6))
               > 0.0000000005
    """).fetchone()[0]
    priced, unpriced, batch, long_context = demo.execute("""
        select count(*) filter (where price is not null), count(*) filter (where price is null),
               count(*) filter (where is_batch), count(*) filter (where cw = '200k-1M') from line_prices""").fetchone()
    assert off == 0
    assert priced > 0 and unpriced > 0 and batch > 0 and long_context > 0


def test_price_change_falls_inside_the_period_with_traffic_on_both_sides(demo):
    changed = demo.execute("""
        select provider, match_pattern, cast(valid_to as date) from price_book
        where valid_to is not null and cast(valid_to as date) > ? and cast(valid_to as date) < ?
        group by all""", [DEMO_START, DEMO_END]).fetchall()
    assert len(changed) == 1
    provider, pattern, change = changed[0]
    before, after = demo.execute("""
        select count(*) filter (where day < ?), count(*) filter (where day >= ?) from requests
        where provider = ? and lower(model) like ?""", [change, change, provider, pattern]).fetchone()
    assert before > 0 and after > 0


def test_rotated_key_traffic_moves_to_the_new_key_on_the_rotation_date(demo):
    (old, new, rotation), = demo.execute("""
        select a.api_key_id, b.api_key_id, cast(b.valid_from as date) from api_key_owners a
        join api_key_owners b on a.valid_to = b.valid_from and a.provider = b.provider and a.team = b.team
         and a.feature is not distinct from b.feature and a.workflow is not distinct from b.workflow
         and a.api_key_id <> b.api_key_id""").fetchall()
    for source in ("requests", "events"):
        old_last, new_first, n_old, n_new = demo.execute(f"""
            select max(occurred_at) filter (where api_key_id = ?), min(occurred_at) filter (where api_key_id = ?),
                   count(*) filter (where api_key_id = ?), count(*) filter (where api_key_id = ?)
            from {source}""", [old, new, old, new]).fetchone()
        assert n_old > 0 and n_new > 0
        assert str(old_last)[:10] < rotation.isoformat() <= str(new_first)[:10]


def test_employee_who_moves_team_keeps_using_ai_under_the_same_id(demo):
    (employee, move), = demo.execute("""
        select employee_id, cast(max(valid_from) as date) from employees
        group by employee_id having count(*) > 1""").fetchall()
    before, after = demo.execute("""
        select count(*) filter (where occurred_at < ?), count(*) filter (where occurred_at >= ?)
        from events where employee_id = ?""", [move.isoformat(), move.isoformat(), employee]).fetchone()
    assert before > 0 and after > 0


def test_internal_assistant_is_employee_tooling_tagged_by_employee(demo):
    rows, without_employee, unknown = demo.execute("""
        select count(*), count(*) filter (where employee_id is null),
               count(*) filter (where employee_id not in (select employee_id from employees))
        from events where feature = 'internal-assistant'""").fetchone()
    assert rows > 0 and without_employee == 0 and unknown == 0


def test_some_seats_are_idle_and_others_used(demo):
    seats = demo.execute("""
        select e.employee_id,
               exists (select 1 from events v where v.employee_id = e.employee_id)
               or exists (select 1 from claude_code_users c where c.email = e.email) as active
        from (select distinct employee_id, email from employees where has_ai_seat = 'true') e""").fetchall()
    assert any(active for _, active in seats) and sum(not active for _, active in seats) >= 3


def test_cache_reads_and_writes_and_batch(demo):
    read, written, openai_batch, anthropic_batch = demo.execute("""
        select sum(cache_read_input_tokens), sum(cache_write_input_tokens),
               count(*) filter (where provider = 'openai' and batch),
               count(*) filter (where provider = 'anthropic' and service_tier = 'batch' and batch)
        from events""").fetchone()
    assert read > 0 and written > 0 and openai_batch > 0 and anthropic_batch > 0
    openai_cached, anthropic_5m, anthropic_1h, anthropic_read = demo.execute("""
        select (select sum(input_cached_tokens) from openai_usage),
               (select sum(cache_creation_5m_input_tokens) from anthropic_usage),
               (select sum(cache_creation_1h_input_tokens) from anthropic_usage),
               (select sum(cache_read_input_tokens) from anthropic_usage)""").fetchone()
    assert min(openai_cached, anthropic_5m, anthropic_1h, anthropic_read) > 0


def test_unlogged_traffic_exists(demo):
    never_logged = demo.execute("""
        select api_key_id from requests where api_key_id is not null group by 1
        having count(*) filter (where api_key_id in (select api_key_id from events)) = 0""").fetchall()
    assert never_logged
    console = demo.execute("""
        select count(*) from requests where provider = 'anthropic' and api_key_id is null""").fetchone()[0]
    assert console > 0
    # some requests of callers that do log are missing from the log too
    dropped = demo.execute("""
        select count(*) from requests r
        where r.api_key_id in (select api_key_id from events) and r.request_id not in (select request_id from events)
    """).fetchone()[0]
    assert dropped > 0


def test_unowned_keys_and_projects_are_in_the_traffic(demo):
    unowned_keys = demo.execute("""
        select count(distinct api_key_id) from requests r where api_key_id is not null
        and not exists (select 1 from api_key_owners k where k.api_key_id = r.api_key_id)""").fetchone()[0]
    unowned_projects = demo.execute("""
        select count(distinct project_id) from requests r
        where not exists (select 1 from project_owners p where p.project_id = r.project_id)""").fetchone()[0]
    assert unowned_keys >= 2 and unowned_projects >= 2


def test_a_bill_line_with_no_usage(demo):
    rows = demo.execute("""
        select count(*), sum(amount_cents) from anthropic_costs
        where cost_type = 'code_execution' and description = 'Code Execution Usage'
          and token_type is null and model is null""").fetchone()
    assert rows[0] > 0 and rows[1] > 0


def test_web_searches_by_several_keys_are_billed_per_workspace_and_day(demo):
    """One web-search line per workspace and day, for exactly the searches the requests made."""
    callers = demo.execute("""
        select project_id, count(distinct api_key_id), count(*) filter (where api_key_id is null)
        from requests where web_search_requests > 0 group by 1""").fetchall()
    assert any(keys >= 2 and console > 0 for _, keys, console in callers), callers  # keys and the Console
    mismatched = demo.execute(f"""
        with searches as (
            select day, project_id, sum(web_search_requests) as n from requests
            where provider = 'anthropic' and web_search_requests > 0 group by all
        ), lines as (
            select day, coalesce(workspace_id, 'default') as project_id, count(*) as line_count,
                   sum(quantity) as n, sum(amount_cents) as cents, any_value(model) as model,
                   any_value(token_type) as token_type
            from anthropic_costs where cost_type = 'web_search' group by all
        )
        select * from searches full join lines using (day, project_id)
        where lines.line_count is distinct from 1 or searches.n is distinct from lines.n
           or lines.cents <> searches.n * {WEB_SEARCH_CENTS_PER_SEARCH}
           or lines.model is not null or lines.token_type is not null""").fetchall()
    assert mismatched == []


def test_workflow_tasks_and_outcomes(demo):
    sizes = demo.execute("""
        select min(n), max(n) from (select true_task_id, count(*) as n from requests where true_task_id is not null
                                    group by 1)""").fetchone()
    assert sizes[0] == 1 and sizes[1] > 1
    tasks, with_outcome = demo.execute("""
        select count(distinct task_id), count(distinct task_id) filter (where task_id in (select task_id from outcomes))
        from events where task_id is not null""").fetchone()
    assert 0.8 < with_outcome / tasks < 0.99  # most tasks complete, some never do
    values = dict(demo.execute("select outcome, count(*) from outcomes group by 1").fetchall())
    assert set(values) == {"success", "failure"}
    bad = demo.execute("""
        select count(*) from outcomes where not regexp_full_match(completed_at, '\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z')
           or workflow not in (select workflow from workflows)""").fetchone()[0]
    assert bad == 0
    parents, dangling = demo.execute("""
        select count(*), count(*) filter (where parent_task_id not in (select true_task_id from requests
                                                                        where true_task_id is not null))
        from outcomes where parent_task_id is not null""").fetchone()
    assert parents > 0 and dangling == 0


def test_ids_in_traffic_have_provider_shapes(demo):
    ids = demo.execute("select request_id, provider from requests using sample 2000 rows (reservoir, 7)").fetchall()
    for request_id, provider in ids:
        assert re.fullmatch(r"chatcmpl-[0-9a-f]{29}" if provider == "openai" else r"msg_01[0-9a-f]{22}", request_id)


def test_bad_arguments_are_refused(tmp_path):
    for providers in (["mistral"], ["openai", "mistral"], []):
        with pytest.raises(ValueError, match="providers"):
            generate_demo_org(tmp_path, 1.0, providers)
    with pytest.raises(ValueError, match="scale"):
        generate_demo_org(tmp_path, 0)
