{#
    json_field(json_text, key): the value of a top-level key of a JSON object held as text (a string as
    its text, a number or boolean as written), trimmed; null when the key is absent, null or blank.
    Keys may contain dots (OpenTelemetry attribute names such as `app.feature`).
#}
{% macro json_field(json_text, key) -%}
    {{ return(adapter.dispatch('json_field', 'tokenspend')(json_text, key)) }}
{%- endmacro %}

{% macro default__json_field(json_text, key) -%}
    nullif(trim(json_extract_string({{ json_text }}, '$."{{ key }}"')), '')
{%- endmacro %}

{# Spark: get_json_object with a bracketed path (keys may contain dots); a backslash in a string literal
   is an escape on Spark, so the quotes around the key are written \'. #}
{% macro spark__json_field(json_text, key) -%}
    nullif(trim(get_json_object({{ json_text }}, '$[\'{{ key }}\']')), '')
{%- endmacro %}
