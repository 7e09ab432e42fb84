{#
    DuckDB: every seed load recreates its table, as `dbt seed --full-refresh` would. dbt's default
    truncates and reloads an existing seed table, which fails once a seed gains a column (e.g. `batchable`
    in workflows.csv, `customers.csv` growing a segment column) in a warehouse built before: the lookups
    are small, so re-creating them on every build costs nothing and an upgrade needs no manual step.
#}
{% macro duckdb__reset_csv_table(model, full_refresh, old_relation, agate_table) %}
    {{ adapter.drop_relation(old_relation) }}
    {{ return(create_csv_table(model, agate_table)) }}
{% endmacro %}
