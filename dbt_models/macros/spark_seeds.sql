{#
    Spark: dbt-spark 1.11.0's session method binds seed values by Python string formatting
    (SessionConnectionWrapper._fix_binding): an empty cell becomes the STRING 'None' (a seed's empty
    team, feature, workflow or employee_id would read as the value 'None'), a number goes through float
    (a price loses digits), and a quote or backslash in a value is not escaped. This override writes
    every value as a literal instead: null, true/false, or the cell's text quoted and escaped.
#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {% set batch_size = get_batch_size() %}
    {% set column_override = model['config'].get('column_types', {}) %}
    {% set statements = [] %}
    {% for chunk in agate_table.rows | batch(batch_size) %}
        {% set sql %}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                ({%- for col_name in agate_table.column_names -%}
                    {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
                    {%- set type = column_override.get(col_name, inferred_type) -%}
                    cast({{ spark_seed_literal(row[loop.index0]) }} as {{ type }})
                    {%- if not loop.last %},{% endif -%}
                {%- endfor -%})
                {%- if not loop.last %},{% endif %}
            {% endfor %}
        {% endset %}
        {% do adapter.add_query(sql, abridge_sql_log=True) %}
        {% if loop.index0 == 0 %}
            {% do statements.append(sql) %}
        {% endif %}
    {% endfor %}
    {{ return(statements[0]) }}
{% endmacro %}


{# spark_seed_literal(value): a CSV cell as a Spark SQL literal that the cast above reads exactly: null,
   true/false, else the cell's text quoted (a number too: a string casts to DECIMAL without a float). #}
{% macro spark_seed_literal(value) -%}
    {%- if value is none -%}
        null
    {%- elif value is sameas true or value is sameas false -%}
        {{ 'true' if value else 'false' }}
    {%- else -%}
        '{{ value | string | replace("\\", "\\\\") | replace("'", "\\'") }}'
    {%- endif -%}
{%- endmacro %}
