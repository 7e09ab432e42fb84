{#
    Request-level sources and their tags: the ONE place that says which source wins and how a tag is
    written. Used by stg_events__requests (dedupe and tag merge) and int_request_events_attributed.

    request_source_precedence(): source_system values of raw.request_events, most trusted first.
      event_file  the application's own event log: it knows the feature, workflow and task it is in
      litellm     the gateway: billing-grade token counts, tags only as callers or deployments set them
      otel        GenAI spans: token counts as the instrumentation reports them, tags by attribute mapping
    The same request_id seen by several sources is counted once: the row of the first source in this
    list wins (its tokens, model, time); a tag (or api_key_id / project_id) missing on the winning row
    is taken from the next source in this list that has it.
#}
{% macro request_source_precedence() -%}
    {{ return(['event_file', 'litellm', 'otel']) }}
{%- endmacro %}


{# source_precedence_rank(column): 1 for the most trusted source, then 2, ...; unknown sources last. #}
{% macro source_precedence_rank(column) -%}
    case {{ column }}
    {%- for s in request_source_precedence() %} when '{{ s }}' then {{ loop.index }}{% endfor %}
    else {{ request_source_precedence() | length + 1 }} end
{%- endmacro %}


{#
    tag_dimensions(): the request tags, with the keys a `key:value` tag may use for each. Tags are our
    convention on top of opaque strings (LiteLLM request_tags, e.g. "feature:ticket-summary"); a tag
    without one of these keys is kept in raw_tags but attributes nothing.
#}
{% macro tag_dimensions() -%}
    {{ return({
        'feature': ['feature'],
        'workflow': ['workflow'],
        'task_id': ['task', 'task_id'],
        'team': ['team'],
        'employee_id': ['employee', 'employee_id'],
        'customer_id': ['customer', 'customer_id'],
    }) }}
{%- endmacro %}

{#
    request_tag(dim): a raw request's tag for one dimension, in its one spelling: the source's structured
    field, else a `key:value` tag in its tag list (raw_tags).
#}
{% macro request_tag(dim) -%}
    coalesce(
        {{ normalize_tag_value(dim) }},
        {{ normalize_tag_value(tag_from_list('raw_tags', tag_dimensions()[dim])) }}
    )
{%- endmacro %}


{# placement_tag_keys(): key:value tags that place a gateway request in a provider project / key. #}
{% macro placement_tag_keys() -%}
    {{ return({'project_id': ['project', 'project_id'], 'api_key_id': ['api_key', 'api_key_id']}) }}
{%- endmacro %}


{#
    normalize_tag_value(column): the one spelling of a tag value: lower-cased, trimmed, every run of
    internal whitespace one '-' ("  Search   Answers " -> "search-answers"); empty -> null.
#}
{% macro normalize_tag_value(column) -%}
    {{ return(adapter.dispatch('normalize_tag_value', 'tokenspend')(column)) }}
{%- endmacro %}

{# Three-argument regexp_replace replaces every match on most engines (Redshift, Trino);
   runs of spaces collapse to one '-' (tabs and newlines inside a tag are left as they are). #}
{% macro default__normalize_tag_value(column) -%}
    nullif(replace(trim(regexp_replace(lower({{ column }}), ' +', ' ')), ' ', '-'), '')
{%- endmacro %}

{# DuckDB and PostgreSQL replace only the first match unless told 'g'. #}
{% macro duckdb__normalize_tag_value(column) -%}
    nullif(replace(trim(regexp_replace(lower({{ column }}), '\s+', ' ', 'g')), ' ', '-'), '')
{%- endmacro %}

{% macro postgres__normalize_tag_value(column) -%}
    {{ duckdb__normalize_tag_value(column) }}
{%- endmacro %}

{# Spark: every run of whitespace, like DuckDB (the backslash doubled: it escapes in a Spark literal). #}
{% macro spark__normalize_tag_value(column) -%}
    nullif(replace(trim(regexp_replace(lower({{ column }}), '\\s+', ' ')), ' ', '-'), '')
{%- endmacro %}

{% macro snowflake__normalize_tag_value(column) -%}
    nullif(replace(trim(regexp_replace(lower({{ column }}), '\\s+', ' ')), ' ', '-'), '')
{%- endmacro %}

{% macro bigquery__normalize_tag_value(column) -%}
    nullif(replace(trim(regexp_replace(lower({{ column }}), r'\s+', ' ')), ' ', '-'), '')
{%- endmacro %}


{#
    tag_from_list(tags_json, keys): the value of the first `key:value` tag whose key is one of `keys`
    (case-insensitive, blanks around ':' allowed) in a JSON array of strings, as text; null if none.
    `["Feature: Search Answers", "team:support"]`, ['feature'] -> 'Search Answers'.
#}
{% macro tag_from_list(tags_json, keys) -%}
    {{ return(adapter.dispatch('tag_from_list', 'tokenspend')(tags_json, keys)) }}
{%- endmacro %}

{% macro default__tag_from_list(tags_json, keys) -%}
    nullif(regexp_extract({{ tags_json }}, '(?i)"\s*(?:{{ keys | join("|") }})\s*:\s*([^"]*)"', 1), '')
{%- endmacro %}

{# Spark reads a backslash in a string literal as an escape ('\s' is 's'): written twice. #}
{% macro spark__tag_from_list(tags_json, keys) -%}
    nullif(regexp_extract({{ tags_json }}, '(?i)"\\s*(?:{{ keys | join("|") }})\\s*:\\s*([^"]*)"', 1), '')
{%- endmacro %}

{% macro postgres__tag_from_list(tags_json, keys) -%}
    nullif(substring({{ tags_json }} from '(?i)"\s*(?:{{ keys | join("|") }})\s*:\s*([^"]*)"'), '')
{%- endmacro %}

{% macro snowflake__tag_from_list(tags_json, keys) -%}
    nullif(regexp_substr({{ tags_json }}, '"\\s*({{ keys | join("|") }})\\s*:\\s*([^"]*)"', 1, 1, 'ie', 2), '')
{%- endmacro %}

{% macro bigquery__tag_from_list(tags_json, keys) -%}
    nullif(regexp_extract({{ tags_json }}, r'(?i)"\s*(?:{{ keys | join("|") }})\s*:\s*([^"]*)"'), '')
{%- endmacro %}


{#
    litellm_provider(column): LiteLLM's custom_llm_provider as tokenspend's provider (its
    `text-completion-openai` route bills as OpenAI). The loader lands only these names
    (dagster_project/defs/events/litellm.py, PROVIDER_ALIASES).
#}
{% macro litellm_provider(column) -%}
    case lower(trim({{ column }})) when 'text-completion-openai' then 'openai' else lower(trim({{ column }})) end
{%- endmacro %}


{#
    otel_tag_map(): the span and resource attributes read as request tags, as [attribute, dimension]
    pairs in precedence order (the first listed attribute that a span carries wins for its dimension).
    TOKENSPEND_OTEL_TAG_MAP (`attribute=dimension,...`, checked when tokenspend loads its settings),
    else the default below. A change re-attributes history: the map is part of code_fingerprint().
#}
{% macro otel_tag_map() -%}
    {%- set default = 'app.feature=feature,app.workflow=workflow,gen_ai.workflow.name=workflow,app.team=team,'
                      ~ 'app.task_id=task_id,app.employee_id=employee_id,app.customer_id=customer_id' -%}
    {%- set text = (env_var('TOKENSPEND_OTEL_TAG_MAP', '') | trim) or default -%}
    {%- set pairs = [] -%}
    {%- for entry in text.split(',') if entry | trim -%}
        {%- set parts = entry.split('=') -%}
        {%- do pairs.append([parts[0] | trim, parts[1] | trim]) -%}
    {%- endfor -%}
    {{ return(pairs) }}
{%- endmacro %}
