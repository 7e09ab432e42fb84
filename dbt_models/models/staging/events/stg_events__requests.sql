-- One row per request_id over every request-level source (stg_events__request_copies: source_system
-- event_file, litellm, otel).
--   1. Tags take one spelling (normalize_tag_value: lower-case, trimmed, whitespace -> '-'). A source's
--      structured tag field wins over a `key:value` tag in its tag list (raw_tags) for the same dimension.
--   2. A request landed more than once by ONE source keeps that source's LATEST delivery: the copy with
--      the latest updated_at when the producer sends one, else from the file modified last
--      (_source_modified_at), then loaded last, then the last file and line. A corrected re-delivery
--      therefore replaces the earlier copy; the superseded copy stays in raw.
--   3. A request seen by several sources keeps the row of the first source in
--      request_source_precedence() (macros/request_sources.sql): its time, model and tokens. Each tag,
--      and api_key_id / project_id, missing on that row is taken from the next source that has it.
{{ config(**incremental_by_day('raw')) }}
-- depends_on: {{ ref('int_rebuild_days') }}
{%- set tags = tag_dimensions() %}
{%- set placement = placement_tag_keys() %}
{%- set merged = (tags.keys() | list) + (placement.keys() | list) + ['gateway_team'] %}
{%- set normalized_columns = ['request_id', 'occurred_at', 'provider', 'model', 'uncached_input_tokens',
                              'cache_read_input_tokens', 'cache_write_input_tokens', 'output_tokens', 'batch',
                              'service_tier'] + merged + ['updated_at', 'source_system', 'source_rank',
                              'raw_tags', '_source_file', '_source_line', '_loaded_at', '_source_modified_at'] %}
with

source as (

    -- on an incremental build, every copy of each request seen on a day in scope (its winning copy
    -- may lie on another day; only winners on days in scope are written)
    select * from {{ ref('stg_events__request_copies') }}
    {% if is_incremental() -%}
    where request_id in (
        select request_id from {{ ref('stg_events__request_copies') }}
        where cast(occurred_at as date) in ({{ rebuild_scope('raw') }})
    )
    {%- endif %}

),

normalized as (

    select
        request_id,
        occurred_at,
        lower(trim(provider)) as provider,
        lower(trim(model)) as model,
        uncached_input_tokens,
        cache_read_input_tokens,
        cache_write_input_tokens,
        output_tokens,
        batch,
        service_tier,
        {% for dim in tags.keys() -%}
        {{ request_tag(dim) }} as {{ dim }},
        {% endfor -%}
        {% for col, keys in placement.items() -%}
        coalesce(nullif(trim({{ col }}), ''), nullif(trim({{ tag_from_list('raw_tags', keys) }}), '')) as {{ col }},
        {% endfor -%}
        {{ normalize_tag_value('gateway_team') }} as gateway_team,
        updated_at,
        source_system,
        {{ source_precedence_rank('source_system') }} as source_rank,
        raw_tags,
        _source_file,
        _source_line,
        _loaded_at,
        _source_modified_at

    from source

),

copy_counts as (

    select request_id, count(*) as copy_count
    from normalized
    group by request_id

),

copies as (

    select
        normalized.*,
        copy_counts.copy_count

    from normalized
    inner join copy_counts
        on normalized.request_id = copy_counts.request_id

),

latest_copy_per_source as (

    -- requests landed more than once (by one source or several); most requests are landed once and
    -- skip the windows below
    select * from (
        select
            *,
            row_number() over (
                partition by request_id, source_system
                order by updated_at desc nulls last, _source_modified_at desc nulls last, _loaded_at desc,
                    _source_file desc, _source_line desc
            ) as copy_rank
        from copies
        where copy_count > 1
    ) as ranked
    where copy_rank = 1

),

merged_copies as (

    select
        *,
        row_number() over (partition by request_id order by source_rank, source_system) as source_order,
        count(*) over (partition by request_id) as source_count,
        {% for col in merged -%}
        coalesce(
            {%- for s in request_source_precedence() %}
            max(case when source_system = '{{ s }}' then {{ col }} end) over (partition by request_id),
            {%- endfor %}
            max({{ col }}) over (partition by request_id)
        ) as merged_{{ col }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from latest_copy_per_source

),

merged as (

    select
        {{ normalized_columns | join(', ') }},
        source_order,
        source_count,
        {% for col in merged -%}
        merged_{{ col }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from merged_copies

    union all

    select
        {{ normalized_columns | join(', ') }},
        1 as source_order,
        1 as source_count,
        {% for col in merged -%}
        {{ col }} as merged_{{ col }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from copies
    where copy_count = 1

),

winners as (

    select
        request_id,
        occurred_at,
        cast(occurred_at as date) as usage_date,
        provider,
        model,
        -- as logged (or merged from another source); a missing project is placed from the key in
        -- int_api_key_projects, never guessed
        merged_api_key_id as api_key_id,
        merged_project_id as project_id,
        coalesce(uncached_input_tokens, 0) as uncached_input_tokens,
        coalesce(cache_read_input_tokens, 0) as cache_read_input_tokens,
        -- Event logs and spans have one cache-write class with no TTL. Assumption: 5-minute writes (the
        -- default TTL of both providers). A 1-hour write costs more, so such requests are under-
        -- estimated; billed cost is unaffected (it comes from the provider).
        coalesce(cache_write_input_tokens, 0) as cache_write_5m_input_tokens,
        cast(0 as {{ dbt.type_bigint() }}) as cache_write_1h_input_tokens,
        coalesce(output_tokens, 0) as output_tokens,
        coalesce(batch, false) as is_batch,
        {{ normalize_service_tier('service_tier') }} as service_tier,
        {% for dim in tags.keys() -%}
        merged_{{ dim }} as {{ dim }},
        {% endfor -%}
        merged_gateway_team as gateway_team,
        source_system,
        source_count,
        (
            {%- for col in merged %}
            ({{ col }} is null and merged_{{ col }} is not null){% if not loop.last %} or{% endif %}
            {%- endfor %}
        ) as has_merged_tags,
        raw_tags,
        _source_file,
        _source_line,
        _loaded_at

    from merged
    where source_order = 1

),

final as (

    select
        request_id,
        occurred_at,
        usage_date,
        provider,
        model,
        api_key_id,
        project_id,
        uncached_input_tokens,
        cache_read_input_tokens,
        cache_write_5m_input_tokens,
        cache_write_1h_input_tokens,
        output_tokens,
        {{ total_tokens() }} as total_tokens,
        is_batch,
        service_tier,
        {% for dim in tags.keys() -%}
        {{ dim }},
        {% endfor -%}
        gateway_team,
        source_system,
        source_count,
        has_merged_tags,
        raw_tags,
        _source_file,
        _source_line,
        _loaded_at

    from winners
    where {{ in_rebuild_scope('usage_date', 'raw') }}

)

select * from final
