-- One row per provider usage row (int_provider_usage_unioned.usage_id): the provider's own token
-- counts priced at LIST, per token class, with the price book in force that day for the row's own
-- service tier, context window and batch flag (int_prices_resolved). This is "usage at list": what
-- the bill would be if the provider charged the price book exactly, so comparing it with the bill
-- measures price drift, and comparing it with the request events' estimate measures what the event
-- log misses or classifies differently.
--
-- A class with tokens but no price in force makes the row unpriced: its class cost and list_cost_usd
-- are NULL, never 0. A class with no tokens costs 0 whatever its price.
{{ config(**incremental_by_day('all')) }}
-- depends_on: {{ ref('int_rebuild_days') }}
with

provider_usage as (

    select * from {{ ref('int_provider_usage_unioned') }}
    where {{ in_rebuild_scope('usage_date') }}

),

models as (

    select * from {{ ref('int_models_resolved') }}

),

prices as (

    select * from {{ ref('int_prices_resolved') }}

),

priced as (

    select
        provider_usage.*,
        models.priced_model,
        coalesce(models.model_key, provider_usage.model) as model_key,
        {% for c in token_classes() -%}
        case
            when provider_usage.{{ c }}_tokens = 0 then cast(0 as {{ money_type() }})
            when prices.priced_model is null then null
            else {{ usd_from_per_million('provider_usage.' ~ c ~ '_tokens * prices.' ~ c ~ '_usd_per_million') }}
        end as {{ c }}_list_usd{% if not loop.last %},{% endif %}
        {% endfor %}
    from provider_usage
    left join models
        on provider_usage.provider = models.provider
        and provider_usage.model = models.model
    left join prices
        on provider_usage.usage_date = prices.usage_date
        and provider_usage.provider = prices.provider
        and {{ null_safe_equal('provider_usage.model', 'prices.model') }}
        and provider_usage.service_tier = prices.service_tier
        and {{ null_safe_equal('provider_usage.context_window', 'prices.context_window') }}
        and provider_usage.is_batch = prices.is_batch

),

final as (

    select
        usage_id,
        usage_date,
        provider,
        project_id,
        api_key_id,
        model,
        model_key,
        priced_model,
        is_batch,
        service_tier,
        context_window,
        {% for c in token_classes() -%}
        {{ c }}_tokens,
        {% endfor -%}
        total_tokens,
        {% for c in token_classes() -%}
        {{ c }}_list_usd,
        {% endfor -%}
        case
            {% for c in token_classes() -%}
            when {{ c }}_list_usd is null then null
            {% endfor -%}
            else {% for c in token_classes() %}{{ c }}_list_usd{% if not loop.last %} + {% endif %}{% endfor %}
        end as list_cost_usd,
        ({% for c in token_classes() %}{{ c }}_list_usd is null{% if not loop.last %} or {% endif %}{% endfor %}) as is_unpriced

    from priced

)

select * from final
