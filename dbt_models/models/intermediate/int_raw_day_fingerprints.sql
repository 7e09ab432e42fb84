-- One row per raw table x usage_date (row count and latest _loaded_at of that day's rows), per seed that
-- re-prices or re-attributes history (row count and a hash of its content; usage_date null), and one
-- for the project's code (usage_date null). int_rebuild_days compares these with the fingerprints the
-- last complete build committed (ops.rebuild_state) to find the days a build must rebuild.
--
-- A load stamps its rows with a new _loaded_at, so a day gains a later latest _loaded_at whenever rows
-- land on it (new or re-delivered), and loses rows (a lower count) when a re-delivery drops them.
-- Reads the raw tables directly: it measures their state, not their content.
{%- set days = raw_day_columns() %}
with

raw_days as (

    {% for table, day in days.items() -%}
    select
        '{{ table }}' as source_name,
        {{ day }} as usage_date,
        count(*) as row_count,
        cast(max(_loaded_at) as {{ dbt.type_string() }}) as fingerprint
    from {{ source('raw', table) }}
    group by {{ day }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

seeds as (

    {% for seed in history_seeds() -%}
    {%- set columns = adapter.get_columns_in_relation(ref(seed)) | map(attribute='name') | list if execute else ['1'] %}
    select
        'seed:{{ seed }}' as source_name,
        cast(null as date) as usage_date,
        count(*) as row_count,
        {{ dbt.hash("coalesce(" ~ sorted_listagg(surrogate_key(columns), "'|'") ~ ", '')") }} as fingerprint
    from {{ ref(seed) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

code as (

    select
        'code' as source_name,
        cast(null as date) as usage_date,
        cast(0 as {{ dbt.type_bigint() }}) as row_count,
        cast('{{ code_fingerprint() }}' as {{ dbt.type_string() }}) as fingerprint

),

final as (

    select * from raw_days
    union all
    select * from seeds
    union all
    select * from code

)

select * from final
