{#
    The FinOps FOCUS export (models/exports/focus_cost_and_usage.sql): the engine-specific parts of its
    columns, behind adapter.dispatch like every other engine-specific expression.
#}


{#
    utc_day_start(date_expr): the UTC instant at which a UTC date begins, as a time-zone-aware timestamp
    (FOCUS Date/Time columns are UTC instants, written 'YYYY-MM-DDTHH:mm:ssZ').
      DuckDB   TIMESTAMP WITH TIME ZONE: the date's midnight read as UTC whatever the session's TimeZone,
               so Parquet stores it as an instant (isAdjustedToUTC) and CSV prints it in UTC
      Spark    TIMESTAMP, an instant already; the profile sets the session to UTC
      default  a plain TIMESTAMP
    The contract's data_type for these columns repeats this choice by target.type (exports yml).
#}
{% macro utc_day_start(date_expr) -%}
    {{ return(adapter.dispatch('utc_day_start', 'tokenspend')(date_expr)) }}
{%- endmacro %}

{% macro default__utc_day_start(date_expr) -%}
    cast({{ date_expr }} as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro duckdb__utc_day_start(date_expr) -%}
    (cast({{ date_expr }} as timestamp) at time zone 'UTC')
{%- endmacro %}

{% macro spark__utc_day_start(date_expr) -%}
    cast({{ date_expr }} as timestamp)
{%- endmacro %}


{#
    json_object_of_strings(pairs): a JSON object (text) of the pairs [(key, string expression), ...]
    whose value is not null, keys in the order given, no whitespace, e.g. {"feature":"search","team":"growth"};
    null when every value is null (FOCUS null handling: no empty placeholder). Keys are literals; values
    are escaped as JSON strings by the engine.
      DuckDB   the non-null members joined by concat_ws (which skips nulls), each value by to_json
      Spark    to_json(named_struct(...)), which leaves null fields out
#}
{% macro json_object_of_strings(pairs) -%}
    {{ return(adapter.dispatch('json_object_of_strings', 'tokenspend')(pairs)) }}
{%- endmacro %}

{% macro default__json_object_of_strings(pairs) -%}
    nullif(
        '{' || concat_ws(','
        {%- for key, value in pairs %},
            case when {{ value }} is not null then '"{{ key }}":' || cast(to_json(cast({{ value }} as {{ dbt.type_string() }})) as {{ dbt.type_string() }}) end
        {%- endfor %}
        ) || '}',
        '{}'
    )
{%- endmacro %}

{% macro spark__json_object_of_strings(pairs) -%}
    nullif(
        to_json(named_struct(
        {%- for key, value in pairs %}
            '{{ key }}', cast({{ value }} as string){% if not loop.last %},{% endif %}
        {%- endfor %}
        )),
        '{}'
    )
{%- endmacro %}


{#
    focus_billed_cost_ties_to_bill(model, row_id, fact_row_id, fact, bill): the FOCUS rule that ties the
    export to the invoice, per day and provider. The export's cost (`BilledCost`) summed per fact row
    (`row_id` -> `fact_row_id` of `fact`, which carries usage_date and provider) and then per
    usage_date x provider must equal the provider's cost report (`bill`: usage_date, provider, cost_usd)
    exactly; a day with fact rows and no bill yet must carry 0. Fails on every day x provider that differs,
    and on every export row whose fact row does not exist.
#}
{% test focus_billed_cost_ties_to_bill(model, row_id, fact_row_id, fact, bill) %}

with

export_rows as (

    select {{ row_id }} as fact_row_id, sum(BilledCost) as billed_cost_usd
    from {{ model }}
    group by {{ row_id }}

),

orphans as (

    select
        'export row with no fact row' as problem,
        cast(null as date) as usage_date,
        cast(null as {{ dbt.type_string() }}) as provider,
        export_rows.billed_cost_usd as export_cost_usd,
        cast(null as {{ money_type() }}) as bill_cost_usd
    from export_rows
    left join {{ fact }} as fact
        on export_rows.fact_row_id = fact.{{ fact_row_id }}
    where fact.{{ fact_row_id }} is null

),

export_days as (

    select fact.usage_date, fact.provider, sum(export_rows.billed_cost_usd) as cost_usd
    from export_rows
    inner join {{ fact }} as fact
        on export_rows.fact_row_id = fact.{{ fact_row_id }}
    group by fact.usage_date, fact.provider

),

bill_days as (

    select usage_date, provider, sum(cost_usd) as cost_usd
    from {{ bill }}
    group by usage_date, provider

),

differing as (

    select
        'BilledCost differs from the provider bill' as problem,
        coalesce(export_days.usage_date, bill_days.usage_date) as usage_date,
        coalesce(export_days.provider, bill_days.provider) as provider,
        export_days.cost_usd as export_cost_usd,
        bill_days.cost_usd as bill_cost_usd
    from export_days
    full outer join bill_days
        on export_days.usage_date = bill_days.usage_date
        and export_days.provider = bill_days.provider
    where coalesce(export_days.cost_usd, 0) <> coalesce(bill_days.cost_usd, 0)

)

select * from orphans
union all
select * from differing

{% endtest %}
