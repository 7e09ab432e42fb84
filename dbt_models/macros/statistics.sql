{#
    Robust statistics for the spend anomaly baseline (mart_spend_anomalies).

    median_of(expression): the median of a group, as an AGGREGATE (use with group by). The result is
    cast to money_type(), so a median of dollars stays a DECIMAL, never a float.
      DuckDB      median(x) (= quantile_cont(x, 0.5); keeps the DECIMAL type)
      Spark       the exact median of the sorted values (below): Spark's percentile_cont returns a
                  DOUBLE, which is not money
      default     percentile_cont(0.5) within group (order by x): Postgres, Snowflake, Redshift.
                  BigQuery has percentile_cont only as a window function and needs its own
                  bigquery__median_of (approx_quantiles) when this project moves there.

    The median absolute deviation (MAD) is median_of(abs(x - median)): a second aggregate over the same
    rows once the median is known (an aggregate cannot nest another), see mart_spend_anomalies.
#}
{% macro median_of(expression) -%}
    {{ return(adapter.dispatch('median_of', 'tokenspend')(expression)) }}
{%- endmacro %}

{% macro default__median_of(expression) -%}
    cast(percentile_cont(0.5) within group (order by {{ expression }}) as {{ money_type() }})
{%- endmacro %}

{% macro duckdb__median_of(expression) -%}
    cast(median({{ expression }}) as {{ money_type() }})
{%- endmacro %}

{# Spark: the exact median of a DECIMAL, as DuckDB's median: the lower middle value plus half the gap to
   the upper one, truncated to 9 decimals. #}
{% macro spark__median_of(expression) -%}
    {%- set sorted -%}array_sort(collect_list(cast({{ expression }} as {{ money_type() }}))){%- endset -%}
    {%- set lo -%}element_at({{ sorted }}, cast(floor((count({{ expression }}) - 1) / 2) as int) + 1){%- endset -%}
    {%- set hi -%}element_at({{ sorted }}, cast(ceil((count({{ expression }}) - 1) / 2) as int) + 1){%- endset -%}
    case
        when count({{ expression }}) = 0 then null
        else cast(
            {{ lo }} + cast(floor(({{ hi }} - {{ lo }}) * 500000000) as decimal(38, 0)) * {{ decimal_literal('0.000000001') }}
        as {{ money_type() }})
    end
{%- endmacro %}
