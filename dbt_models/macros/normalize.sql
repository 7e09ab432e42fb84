{# normalize_tag(column): the one normalisation of every attribution tag and seed key (feature,
   workflow, team, employee_id, task_id, outcome), so a tag and a seed value always join: lower-cased,
   trimmed, inner whitespace to '-', empty string -> null (normalize_tag_value in request_sources.sql). #}
{% macro normalize_tag(column) -%}
    {{ normalize_tag_value(column) }}
{%- endmacro %}


{#
    normalize_service_tier(column): the PRICING tier. null, '', 'default' (OpenAI), 'standard' and
    'batch' (Anthropic reports batch as a tier) all become 'standard'; batch is carried separately
    as is_batch. Other tiers (priority, flex, scale, ...) are kept, lower-cased.
#}
{% macro normalize_service_tier(column) -%}
    case
        when nullif(lower(trim({{ column }})), '') is null then 'standard'
        when lower(trim({{ column }})) in ('default', 'standard', 'batch') then 'standard'
        else lower(trim({{ column }}))
    end
{%- endmacro %}


{# effective_on(date_expr, alias): the effective-dated row is in force on that date
   (valid_from inclusive, valid_to exclusive, empty valid_to = open-ended). #}
{% macro effective_on(date_expr, alias) -%}
    ({{ alias }}.valid_from is null or {{ alias }}.valid_from <= {{ date_expr }})
    and {{ date_expr }} < coalesce({{ alias }}.valid_to, {{ far_future_date() }})
{%- endmacro %}


{# employee_stints(extra_columns): the roster (seed employees), one row per employee per team stint,
   with keys normalised like every tag so a tagged employee_id and a team join to it. #}
{% macro employee_stints(extra_columns=[]) -%}
    select
        {{ normalize_tag('employee_id') }} as employee_id,
        {{ normalize_tag('team') }} as team,
        {% for column in extra_columns -%}
        {{ column }},
        {% endfor -%}
        valid_from,
        valid_to
    from {{ ref('employees') }}
{%- endmacro %}
