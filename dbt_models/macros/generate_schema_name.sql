{#
    Custom schema names are used as-is (staging, intermediate, marts, seeds), not prefixed with the
    target schema, so BI and the Dagster checks read stable names such as `marts.fct_token_spend`.
    Nodes without a custom schema land in the target schema.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
