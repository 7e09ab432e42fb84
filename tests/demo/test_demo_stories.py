"""The changes the demo plants for a month-over-month explanation, and the customers it serves.

Each change lives in one stream whose scope (provider x feature x workflow x team) no other stream
shares, so a spend-change model can separate them. The stream, its dates and its parameters are read from
the generator's definitions and the seeds; the tests check that the generated traffic follows them.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil

import pytest

from dagster_project import settings
from dagster_project.demo.generator import (
    DEMO_END,
    DEMO_START,
    SEGMENT_WEIGHTS,
    STREAMS,
    SURGES,
    generate_demo_org,
)


def date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def inside(value: str | None) -> bool:
    return bool(value) and DEMO_START < date(value) < DEMO_END


def seed_rows(name: str) -> list[dict[str, str]]:
    with open(settings.SEEDS_DIR / f"{name}.csv", newline="") as f:
        return list(csv.DictReader(f))


def scope(stream) -> tuple:
    """provider x feature x workflow x team of a stream's spend: its tags, else its key's or project's owner."""
    keys = {r["api_key_id"]: r for r in seed_rows("api_key_owners")}
    projects = {(r["provider"], r["project_id"]): r for r in seed_rows("project_owners")}
    owner = keys.get(stream.api_key_id) or projects.get((stream.provider, stream.project_id)) or {}
    tagged = stream.logged and stream.tag_share > 0
    return (stream.provider, *((getattr(stream, d) if tagged else None) or owner.get(d) or None
                               for d in ("feature", "workflow", "team")))


def migrated():
    (stream,) = [s for s in STREAMS if any(inside(m.until) for m in s.models)]
    return stream


def cache_rollout():
    (stream,) = [s for s in STREAMS if any(inside(c.since) for c in s.cache)]
    return stream


def launched():
    (stream,) = [s for s in STREAMS if min(date(m.since) for m in s.models) > DEMO_START]
    return stream


def test_each_october_change_has_a_scope_to_itself():
    stories = [migrated(), cache_rollout(), launched()]
    assert len({s.stream for s in stories}) == 3
    for story in stories:
        sharing = [s.stream for s in STREAMS if s.stream != story.stream and scope(s) == scope(story)]
        assert sharing == [], (story.stream, scope(story), sharing)
    # the runaway day and the price cut happen elsewhere
    assert not {stream for stream, _, _ in SURGES} & {s.stream for s in stories}
    cut = {(r["provider"], r["match_pattern"]) for r in seed_rows("price_book") if inside(r["valid_to"])}
    assert cut and not any(s.provider == provider and m.model.lower().startswith(pattern.rstrip("%"))
                           for s in stories for m in s.models for provider, pattern in cut)


def test_model_migration_moves_most_units_to_a_model_of_another_price(demo):
    stream = migrated()
    (day,) = {date(m.until) for m in stream.models if inside(m.until)}
    old = {m.model for m in stream.models if date(m.until) == day}
    new = {m.model: m.weight for m in stream.models if date(m.since) == day}
    demo.execute("""
        create or replace temp table migration_units as
        select coalesce(true_task_id, request_id) as unit, any_value(day) as day, any_value(model) as model,
               count(distinct model) as models
        from requests where stream = ? group by 1""", [stream.stream])
    before = {m for (m,) in demo.execute("select distinct model from migration_units where day < ?", [day]).fetchall()}
    after = dict(demo.execute("""
        select model, count(*) from migration_units where day >= ? group by 1""", [day]).fetchall())
    assert before == old and set(after) == set(new)
    assert demo.execute("select max(models) from migration_units").fetchone()[0] == 1  # a task keeps its model
    total = sum(after.values())
    for model, weight in new.items():  # the draw follows the weights
        assert abs(after[model] / total - weight / sum(new.values())) < 0.03, model
    moved = demo.execute("select avg(case when model in (select unnest(?)) then 0 else 1 end) from migration_units "
                         "where day >= ?", [sorted(old), day]).fetchone()[0]
    assert moved > 0.5  # most of the work leaves the old model
    # and the models' list prices are far apart
    prices = dict(demo.execute("""
        with matches as (
            select r.model, p.usd_per_million_tokens::decimal(18, 6) as price, p.valid_from
            from (select distinct model from requests where stream = ?) r
            join price_book p on lower(r.model) like p.match_pattern and p.token_class = 'uncached_input'
             and p.service_tier = 'standard' and p.context_window = 'all'
            qualify length(p.match_pattern) = max(length(p.match_pattern)) over (partition by r.model)
        )
        select model, arg_max(price, valid_from) from matches group by 1""", [stream.stream]).fetchall())
    assert all(max(prices[a], prices[b]) >= 2 * min(prices[a], prices[b]) for a in old for b in new if a != b)


def test_cache_rollout_turns_most_input_into_cache_reads(demo):
    stream = cache_rollout()
    (setting,) = [c for c in stream.cache if inside(c.since)]
    day = date(setting.since)
    columns = ("read", "written", "input", "input_usd", "models", "batch", "days", "requests", "writes")
    before, after = ({**dict(zip(columns, row, strict=True))} for _, *row in demo.execute("""
        select day >= ?, sum(cache_read_input_tokens), sum(cache_write_input_tokens),
               sum(uncached_input_tokens + cache_read_input_tokens + cache_write_input_tokens),
               sum(uncached_usd + cache_read_usd + cache_write_usd), list(distinct model order by model),
               list(distinct batch), count(distinct day), count(*), count(*) filter (where cache_write_input_tokens > 0)
        from requests where stream = ? group by 1 order by 1""", [day, stream.stream]).fetchall())
    assert before["read"] == before["written"] == 0  # nothing cached before
    assert after["read"] / after["input"] >= 0.6  # a high cache-read share after
    assert 0 < after["written"] < after["read"]
    assert (before["models"], before["batch"]) == (after["models"], after["batch"])  # the only change is caching
    # the shared prefix is written by the night's first request and then only on a miss
    assert after["days"] == (DEMO_END - day).days
    assert after["days"] <= after["writes"] <= after["days"] + 2 * (1 - setting.hit_prob) * after["requests"]
    # input costs less than half as much per token
    assert after["input_usd"] / after["input"] < before["input_usd"] / before["input"] / 2


def test_feature_launch_is_a_new_tagged_production_feature_for_paid_segments(demo):
    stream = launched()
    launch = min(date(m.since) for m in stream.models)
    feature = {r["feature"]: r for r in seed_rows("features")}[stream.feature]
    assert feature["is_production"] == "true" and feature["owner_team"] == stream.team
    assert stream.team in {r["team"] for r in seed_rows("teams")}
    (key,) = [r for r in seed_rows("api_key_owners") if r["api_key_id"] == stream.api_key_id]
    assert (key["feature"], key["team"]) == (stream.feature, stream.team) and date(key["valid_from"]) <= launch
    first, days, untagged = demo.execute("""
        select min(r.day), count(distinct r.day), count(*) filter (where e.feature is distinct from ?
                                                                    or e.customer_id is null)
        from requests r left join events e using (request_id) where r.stream = ?""",
        [stream.feature, stream.stream]).fetchone()
    assert first == launch and days == (DEMO_END - launch).days
    assert untagged == demo.execute("select count(*) from requests where stream = ? and not logged",
                                    [stream.stream]).fetchone()[0]  # every logged request is tagged
    others = demo.execute("select count(*) from requests r join events e using (request_id) "
                          "where e.feature = ? and r.stream <> ?", [stream.feature, stream.stream]).fetchone()[0]
    assert others == 0
    assert set(stream.customer_segments) < {name for name, _ in SEGMENT_WEIGHTS}  # not every plan has it


def test_customers_drawn_are_in_the_seed_on_the_day_in_a_segment_the_stream_serves(demo):
    served = [(s.stream, seg) for s in STREAMS for seg in s.customer_segments]
    demo.execute("create or replace temp table stream_segments (stream varchar, segment varchar)")
    demo.executemany("insert into stream_segments values (?, ?)", served)
    without, outside, wrongly_with = demo.execute("""
        select count(*) filter (where r.true_customer_id is null and r.stream in (select stream from stream_segments)),
               count(*) filter (where r.true_customer_id is not null and not exists (
                   select 1 from customers c join stream_segments s on s.segment = c.segment
                   where s.stream = r.stream and c.customer_id = r.true_customer_id
                     and cast(c.valid_from as date) <= r.day
                     and (c.valid_to is null or r.day < cast(c.valid_to as date)))),
               count(*) filter (where r.true_customer_id is not null
                                and r.stream not in (select stream from stream_segments))
        from requests r""").fetchone()
    assert (without, outside, wrongly_with) == (0, 0, 0)
    # the log carries the customer the caller knew, when it carries tags
    mismatched = demo.execute("""
        select count(*) from events e join requests r using (request_id)
        where e.customer_id is distinct from case when e.feature is not null then r.true_customer_id end""").fetchone()[0]
    assert mismatched == 0


def test_enterprise_customers_call_more_in_proportion_to_their_segment_weight(demo):
    weights = dict(SEGMENT_WEIGHTS)
    everyone = [s.stream for s in STREAMS if set(s.customer_segments) == set(weights)]
    assert everyone
    rates = dict(demo.execute("""
        with days as (select distinct day from requests),
        in_force as (
            select c.customer_id, c.segment, d.day from customers c
            join days d on cast(c.valid_from as date) <= d.day
                       and (c.valid_to is null or d.day < cast(c.valid_to as date))
        ), units as (
            select day, true_customer_id as customer_id, count(distinct coalesce(true_task_id, request_id)) as n
            from requests where stream in (select unnest(?)) group by all
        )
        select f.segment, sum(coalesce(u.n, 0)) / count(*) from in_force f
        left join units u using (customer_id, day) group by 1""", [everyone]).fetchall())
    per_weight = {segment: rates[segment] / weight for segment, weight in weights.items()}
    assert max(per_weight.values()) / min(per_weight.values()) < 1.15, per_weight
    ranked = sorted(weights, key=weights.get)
    assert [rates[s] for s in ranked] == sorted(rates[s] for s in ranked)


def test_a_customer_who_changes_segment_calls_at_the_new_segments_rate(demo):
    weights = dict(SEGMENT_WEIGHTS)
    periods = demo.execute("""
        with changed as (select customer_id from customers group by 1 having count(*) > 1)
        , spans as (
            select c.customer_id, c.segment, cast(c.valid_from as date) as since, cast(c.valid_to as date) as until,
                   least(coalesce(cast(c.valid_to as date), ?), ?) - greatest(cast(c.valid_from as date), ?) as days
            from customers c join changed using (customer_id)
        )
        select s.customer_id, s.segment, s.since, s.until, count(r.request_id) / s.days
        from spans s
        left join requests r on r.true_customer_id = s.customer_id and r.day >= s.since
                            and (s.until is null or r.day < s.until)
        where s.days > 0
        group by s.customer_id, s.segment, s.since, s.until, s.days order by 1, 3""",
        [DEMO_END, DEMO_END, DEMO_START]).fetchall()
    pairs = [(a, b) for a, b in zip(periods, periods[1:], strict=False) if a[0] == b[0] and a[3] == b[2]]
    assert len(pairs) >= 3
    for old, new in pairs:
        assert (new[4] > old[4]) == (weights[new[1]] > weights[old[1]]), (old, new)


@pytest.mark.parametrize(("line", "change", "message"), [
    (5, lambda r: r.__setitem__(2, "platinum"), r"line 5: segment 'platinum' is not one of the demo's segments"),
    (3, lambda r: r.__setitem__(3, "2026-13-01"), r"line 3: valid_from '2026-13-01' is not an ISO date"),
    (4, lambda r: r.__setitem__(0, "cust-0001"), r"line 4: valid_from .*overlaps cust-0001's row on line 2"),
])
def test_a_customers_seed_the_demo_cannot_use_is_refused_by_line_and_field(tmp_path, monkeypatch, line, change,
                                                                           message):
    seeds = tmp_path / "seeds"
    shutil.copytree(settings.SEEDS_DIR, seeds)
    with open(seeds / "customers.csv", newline="") as f:
        rows = list(csv.reader(f))
    change(rows[line - 1])
    with open(seeds / "customers.csv", "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    monkeypatch.setattr(settings, "SEEDS_DIR", seeds)
    with pytest.raises(ValueError, match=r"customers\.csv " + message):
        generate_demo_org(tmp_path / "landing", scale=0.05)
