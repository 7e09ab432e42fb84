{#
    money_type(): the one type every USD amount is stored in. DECIMAL(38,9) keeps nine decimals,
    enough for Anthropic's fractional cents ("123.78912" cents = $1.2378912) and for per-token prices;
    never a float. BigQuery's NUMERIC is (38,9) already and rejects DECIMAL(38,9).
#}
{% macro money_type() -%}
    {{ return(adapter.dispatch('money_type', 'tokenspend')()) }}
{%- endmacro %}

{% macro default__money_type() -%}
    decimal(38, 9)
{%- endmacro %}

{% macro bigquery__money_type() -%}
    numeric
{%- endmacro %}


{# wide_decimal_type(): 12 decimals, for reading source amounts before a unit conversion. #}
{% macro wide_decimal_type() -%}
    {{ return(adapter.dispatch('wide_decimal_type', 'tokenspend')()) }}
{%- endmacro %}

{% macro default__wide_decimal_type() -%}
    decimal(38, 12)
{%- endmacro %}

{% macro bigquery__wide_decimal_type() -%}
    bignumeric
{%- endmacro %}


{# far_future_date(): stands in for an open-ended valid_to (valid_to is exclusive). #}
{% macro far_future_date() -%}
    cast('9999-12-31' as date)
{%- endmacro %}
