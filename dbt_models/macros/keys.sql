{#
    surrogate_key(columns): a null-safe hash of several columns. A null is spelled as a sentinel that
    cannot be a real value, and columns are separated, so (null, 'a') and ('a', null) differ.
#}
{% macro surrogate_key(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append("coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '~null~')") -%}
        {%- if not loop.last -%}{%- do parts.append("'|'") -%}{%- endif -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}


{#
    null_safe_equal(a, b): true when both are equal or both are null. Used to join on optional
    dimensions (api_key_id is null for Anthropic Console usage; model is null for non-token costs).
#}
{% macro null_safe_equal(left, right) -%}
    {{ return(adapter.dispatch('null_safe_equal', 'tokenspend')(left, right)) }}
{%- endmacro %}

{% macro default__null_safe_equal(left, right) -%}
    ({{ left }} is not distinct from {{ right }})
{%- endmacro %}

{% macro spark__null_safe_equal(left, right) -%}
    ({{ left }} <=> {{ right }})
{%- endmacro %}

{% macro databricks__null_safe_equal(left, right) -%}
    ({{ left }} <=> {{ right }})
{%- endmacro %}


{# null_safe_join(left, right, columns): `left.c <=> right.c and ...` for every column. #}
{% macro null_safe_join(left, right, columns) -%}
    {%- for column in columns -%}
        {{ null_safe_equal(left ~ '.' ~ column, right ~ '.' ~ column) }}{% if not loop.last %} and {% endif %}
    {%- endfor -%}
{%- endmacro %}


{#
    is_console_usage(provider, api_key_id): true for Anthropic usage that no API key made: the messages
    usage report sends api_key_id null for Console and Workbench usage (grouped by key, as the ingest
    always is). Such usage is attributed by its workspace owner and labelled console.
#}
{% macro is_console_usage(provider, api_key_id) -%}
    ({{ provider }} = 'anthropic' and {{ api_key_id }} is null)
{%- endmacro %}


{#
    sorted_listagg(expression, delimiter): the group's values of expression, sorted, joined by delimiter.
    dbt's spark__listagg ignores its order_by_clause (collect_list keeps no order), so Spark sorts the
    collected list instead: the same text as listagg ... order by the same value.
#}
{% macro sorted_listagg(expression, delimiter) -%}
    {{ return(adapter.dispatch('sorted_listagg', 'tokenspend')(expression, delimiter)) }}
{%- endmacro %}

{% macro default__sorted_listagg(expression, delimiter) -%}
    {{ dbt.listagg(expression, delimiter, 'order by ' ~ expression) }}
{%- endmacro %}

{% macro spark__sorted_listagg(expression, delimiter) -%}
    array_join(array_sort(collect_list({{ expression }})), {{ delimiter }})
{%- endmacro %}


{# fact_grain(): the columns that identify a row of fct_token_spend (its token_spend_id is their
   surrogate_key); int_spend_token_classes keys its rows to the fact with the same list. #}
{% macro fact_grain() -%}
    {{ return(['usage_date', 'provider', 'project_id', 'api_key_id', 'model', 'is_batch', 'feature', 'workflow',
               'team', 'employee_id', 'customer_id', 'attribution_method', 'record_type']) }}
{%- endmacro %}
