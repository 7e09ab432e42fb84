{#
    Robust statistics for the spend anomaly baseline (mart_spend_anomalies).

    median_of(expression): the median of a group, as an AGGREGATE (use with group by). The result is
    cast to money_type(), so a median of dollars stays a DECIMAL, never a float.
      DuckDB      median(x) (= quantile_cont(x, 0.5); keeps the DECIMAL type)
      default     percentile_cont(0.5) within group (order by x): Postgres, Snowflake, Redshift,
                  Databricks/Spark 3.3+. BigQuery has percentile_cont only as a window function and
                  needs its own bigquery__median_of (approx_quantiles) when this project moves there.

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
