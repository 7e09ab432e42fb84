{#
    The price book has two files (seeds): price_book.csv, written by people (list prices, negotiated
    prices: they win), and price_book_generated.csv, written by `make prices` from the price database
    (genai-prices, bundled in the installed package), one exact model id per match_pattern.

    price_book_rows(seed, origin): a seed's rows, normalised the one way every pricing model reads them
    (lower-case keys, the pricing tier, 'all' for an empty window, no batch multiplier = 1), with
    price_origin = origin ('price_book' or 'price_database').
#}
{% macro price_book_rows(seed, origin) -%}
    select
        lower(trim(provider)) as provider,
        lower(trim(model)) as priced_model,
        lower(trim(match_pattern)) as match_pattern,
        lower(trim(token_class)) as token_class,
        usd_per_million_tokens,
        {{ normalize_service_tier('service_tier') }} as service_tier,
        coalesce(nullif(lower(trim(context_window)), ''), 'all') as context_window,
        coalesce(batch_multiplier, 1) as batch_multiplier,
        valid_from,
        valid_to,
        cast('{{ origin }}' as {{ dbt.type_string() }}) as price_origin
    from {{ ref(seed) }}
{%- endmacro %}


{#
    effective_price_book(): the rows that price traffic. Every price_book.csv row, and the generated rows
    of the models price_book.csv does not price: when the price database names a model the people's
    file prices (a new alias of it, say), that model's hand-written rows win for it too.
#}
{% macro effective_price_book() -%}
    select * from ({{ price_book_rows('price_book', 'price_book') }}) as hand_written
    union all
    select * from ({{ price_book_rows('price_book_generated', 'price_database') }}) as generated
    where not exists (
        select 1 from {{ ref('price_book') }} as people
        where lower(trim(people.provider)) = generated.provider
            and lower(trim(people.model)) = generated.priced_model
    )
{%- endmacro %}


{#
    The pricing rule, in one place for int_prices_resolved (the effective book) and
    int_database_prices_resolved (the price database alone):
    price_row_applies(key, book): the book row can price the key's traffic: in force on the day, of the
      key's tier or 'standard', of the key's context window or 'all'.
    price_row_preference(key, book): among those, the exact tier first, then the exact window, then the
      latest valid_from.
#}
{% macro price_row_applies(key, book) -%}
    {{ effective_on(key ~ '.usage_date', book) }}
    and {{ book }}.service_tier in ({{ key }}.service_tier, 'standard')
    and {{ book }}.context_window in (lower({{ key }}.context_window), 'all')
{%- endmacro %}

{% macro price_row_preference(key, book) -%}
    case when {{ book }}.service_tier = {{ key }}.service_tier then 0 else 1 end,
    case when {{ book }}.context_window = lower({{ key }}.context_window) then 0 else 1 end,
    {{ book }}.valid_from desc
{%- endmacro %}
