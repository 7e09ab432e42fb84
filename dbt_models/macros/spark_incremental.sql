{#
    Spark (dbt-spark; tables in parquet, no Delta): the replace_days strategy without DELETE.

    dbt-spark's incremental materialization accepts only its own strategies (append, merge,
    insert_overwrite, microbatch) and never calls get_incremental_<strategy>_sql, and Spark's parquet
    tables support neither DELETE nor transactions. So on Spark:
      - incremental_by_day() partitions the model by usage_date (spark__incremental_by_day_config) and
        uncaches the rebuilt rows after the replace (a post-hook),
      - these two dbt-spark macros are overridden from the root project to let replace_days and
        replace_raw_days through and route them to spark__replace_days_sql,
      - spark__replace_days_sql drops the partitions of the days in scope that the rebuilt rows no longer
        cover (a day whose rows all went upstream is emptied), then overwrites the days they cover
        (INSERT OVERWRITE with dynamic partitions: only those partitions are replaced).
    Not one transaction: a build that fails between the two leaves the emptied days empty and the other
    days as they were; nothing is committed to ops.rebuild_state, so the next build takes the same days.
#}
{% macro dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format) %}
    {% if raw_strategy in ['replace_days', 'replace_raw_days'] %}
        {% do return(raw_strategy) %}
    {% endif %}
    {% do return(dbt_spark.dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format)) %}
{% endmacro %}


{% macro dbt_spark_get_incremental_sql(strategy, source, target, existing, unique_key, incremental_predicates) %}
    {%- if strategy in ['replace_days', 'replace_raw_days'] -%}
        {{ return(spark__replace_days_sql(
            {'temp_relation': source, 'target_relation': target},
            'raw' if strategy == 'replace_raw_days' else 'all'
        )) }}
    {%- endif -%}
    {{ return(dbt_spark.dbt_spark_get_incremental_sql(strategy, source, target, existing, unique_key, incremental_predicates)) }}
{% endmacro %}


{% macro spark__replace_days_sql(arg_dict, kind) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set columns = adapter.get_columns_in_relation(target) | map(attribute='quoted') | join(', ') -%}
    {#- the rebuilt rows are read twice (the days they cover, then the insert): computed once -#}
    {%- do run_query('cache table ' ~ source) -%}
    {%- set emptied = run_query(
        'select distinct cast(usage_date as string) as usage_date from (' ~ rebuild_scope(kind) ~ ') as scope'
        ~ ' where usage_date not in (select usage_date from ' ~ source ~ ' where usage_date is not null)'
    ) -%}
    {%- if emptied.rows | length > 0 -%}
        {%- set partitions = [] -%}
        {%- for row in emptied.rows -%}
            {%- do partitions.append("partition (usage_date = date'" ~ row[0] ~ "')") -%}
        {%- endfor -%}
        {%- do run_query('alter table ' ~ target ~ ' drop if exists ' ~ (partitions | join(', '))) -%}
    {%- endif -%}
    {%- do run_query('set spark.sql.sources.partitionOverwriteMode = DYNAMIC') -%}
    insert overwrite table {{ target }} partition (usage_date)
    select {{ columns }} from {{ source }}
{%- endmacro %}


{# The post-hook of an incremental model on Spark: free the rebuilt rows cached above. #}
{% macro spark_uncache_rebuilt_rows() -%}
    uncache table if exists {{ this.identifier }}__dbt_tmp
{%- endmacro %}
