{#
    The one token-class vocabulary every model uses (one vocabulary for every source). The five classes are
    DISJOINT: their sum is all tokens of a request. Columns are named `<class>_tokens`; the price book's
    token_class column uses the bare class names.
#}
{% macro token_classes() -%}
    {{ return(['uncached_input', 'cache_read_input', 'cache_write_5m_input', 'cache_write_1h_input', 'output']) }}
{%- endmacro %}


{# total_tokens(prefix): the sum of the five classes, e.g. total_tokens('u.'). #}
{% macro total_tokens(prefix='') -%}
    ({% for c in token_classes() %}coalesce({{ prefix }}{{ c }}_tokens, 0){% if not loop.last %} + {% endif %}{% endfor %})
{%- endmacro %}


{# sum_count(expr): sum of a count as BIGINT (DuckDB widens sum(bigint) to HUGEINT, which BI tools and
   pandas read badly). #}
{% macro sum_count(expr) -%}
    cast(sum({{ expr }}) as {{ dbt.type_bigint() }})
{%- endmacro %}


{# sum_token_classes(prefix): `sum(<prefix><class>_tokens) as <class>_tokens, ...` for every class. #}
{% macro sum_token_classes(prefix='') -%}
    {% for c in token_classes() -%}
    {{ sum_count(prefix ~ c ~ '_tokens') }} as {{ c }}_tokens{% if not loop.last %},{% endif %}
    {% endfor -%}
{%- endmacro %}


{#
    list_cost_usd(tokens_alias, prices_alias): estimated list cost of a row in USD (money_type()):
    sum over classes of tokens x USD per million (already batch-adjusted in int_prices_resolved) / 1e6.
    NULL (never 0) when the model has no price at all, or a class with tokens has no price in force.
#}
{% macro list_cost_usd(tokens_alias, prices_alias) -%}
    {%- set terms = [] -%}
    {%- for c in token_classes() -%}
        {%- do terms.append("coalesce(" ~ tokens_alias ~ "." ~ c ~ "_tokens, 0) * coalesce(" ~ prices_alias ~ "." ~ c ~ "_usd_per_million, 0)") -%}
    {%- endfor -%}
    case
        when {{ prices_alias }}.priced_model is null then null
        {% for c in token_classes() -%}
        when coalesce({{ tokens_alias }}.{{ c }}_tokens, 0) <> 0
            and {{ prices_alias }}.{{ c }}_usd_per_million is null then null
        {% endfor -%}
        else {{ usd_from_per_million('(' ~ (terms | join(' + ')) ~ ')') }}
    end
{%- endmacro %}


{#
    event_context_window(prefix): the price book's context window for a request that reports none
    (event logs and spans carry no context window): '200k-1M' for an Anthropic request whose input
    (all four input classes) exceeds 200,000 tokens, Anthropic's long-context rule; else NULL.
#}
{% macro event_context_window(prefix='') -%}
    case
        when {{ prefix }}provider = 'anthropic'
            and {{ prefix }}uncached_input_tokens + {{ prefix }}cache_read_input_tokens
                + {{ prefix }}cache_write_5m_input_tokens + {{ prefix }}cache_write_1h_input_tokens > 200000
            then '200k-1M'
    end
{%- endmacro %}


{#
    token_classes_long(relation, keys): one row per row of `relation` and token class, with the class,
    its kind (input or output), its tokens and its list value (`<class>_list_usd`), keeping `keys`.
#}
{% macro token_classes_long(relation, keys) -%}
    {% for c in token_classes() -%}
    select
        {{ keys | join(', ') }},
        '{{ c }}' as token_class,
        '{{ 'output' if c == 'output' else 'input' }}' as token_kind,
        {{ c }}_tokens as tokens,
        {{ c }}_list_usd as list_usd
    from {{ relation }}
    {% if not loop.last %}union all
    {% endif -%}
    {% endfor %}
{%- endmacro %}

