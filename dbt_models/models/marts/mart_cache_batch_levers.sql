-- Cache and batch as levers: one row per month x provider x feature x workflow x model_key with token
-- spend. What caching saved against the uncached price, what batch pricing saved, and what it could save
-- on the traffic of workflows marked batchable (seeds/workflows.csv) that still runs at the interactive
-- price. Savings are valued at list prices in force (int_spend_token_classes); tokens of a model or class
-- with no price are counted in unpriced_tokens and left out of every saving, never valued at $0.
with

classes as (

    select * from {{ ref('int_spend_token_classes') }}
    where token_kind <> 'other'

),

workflows as (

    select {{ normalize_tag('workflow') }} as workflow, batchable
    from {{ ref('workflows') }}

),

valued as (

    select
        cast({{ dbt.date_trunc('month', 'classes.usage_date') }} as date) as period_start,
        classes.provider,
        coalesce(classes.feature, '(unattributed)') as feature,
        coalesce(classes.workflow, '(unattributed)') as workflow,
        classes.model_key,
        classes.is_batch,
        classes.token_class,
        classes.token_kind,
        classes.tokens,
        classes.cost_usd,
        coalesce(workflows.batchable, false) as is_batchable,
        classes.usd_per_million is null
            or (classes.token_kind = 'input' and classes.uncached_input_usd_per_million is null) as is_unpriced,
        -- a cache read at the uncached price, minus its own price
        case when classes.token_class = 'cache_read_input'
             then {{ usd_from_per_million('classes.tokens * (classes.uncached_input_usd_per_million - classes.usd_per_million)') }}
        end as cache_read_saving_usd,
        -- a cache write at its own price, minus the uncached price (the premium paid to cache)
        case when classes.token_class in ('cache_write_5m_input', 'cache_write_1h_input')
             then {{ usd_from_per_million('classes.tokens * (classes.usd_per_million - classes.uncached_input_usd_per_million)') }}
        end as cache_write_premium_usd,
        {{ usd_from_per_million('classes.tokens * (classes.unbatched_usd_per_million - classes.batched_usd_per_million)') }}
            as batch_discount_usd

    from classes
    left join workflows
        on classes.workflow = workflows.workflow

),

final as (

    select
        period_start,
        provider,
        feature,
        workflow,
        model_key,
        max(case when is_batchable then 1 else 0 end) = 1 as is_batchable,
        {{ sum_count('tokens') }} as total_tokens,
        {{ sum_count("case when token_kind = 'input' then tokens else 0 end") }} as input_tokens,
        {{ sum_count("case when token_class = 'cache_read_input' then tokens else 0 end") }} as cache_read_tokens,
        {{ sum_count("case when token_class in ('cache_write_5m_input', 'cache_write_1h_input') then tokens else 0 end") }}
            as cache_write_tokens,
        {{ sum_count("case when token_class = 'cache_write_1h_input' then tokens else 0 end") }} as cache_write_1h_tokens,
        {{ sum_count("case when is_unpriced then tokens else 0 end") }} as unpriced_tokens,
        sum(cost_usd) as cost_usd,
        {{ safe_ratio(
            "sum(case when token_class = 'cache_read_input' then tokens else 0 end)",
            "sum(case when token_kind = 'input' then tokens else 0 end)") }} as cache_hit_rate,
        coalesce(sum(case when not is_unpriced then cache_read_saving_usd end), 0) as cache_read_savings_usd,
        coalesce(sum(case when not is_unpriced then cache_write_premium_usd end), 0) as cache_write_premium_usd,
        {{ sum_count("case when is_batch then tokens else 0 end") }} as batch_tokens,
        {{ safe_ratio("sum(case when is_batch then tokens else 0 end)", "sum(tokens)") }} as batch_share,
        coalesce(sum(case when is_batch and not is_unpriced then batch_discount_usd end), 0) as batch_savings_usd,
        {{ sum_count("case when is_batchable and not is_batch then tokens else 0 end") }} as batchable_interactive_tokens,
        coalesce(sum(case when is_batchable and not is_batch and not is_unpriced then batch_discount_usd end), 0)
            as batch_potential_savings_usd

    from valued
    group by period_start, provider, feature, workflow, model_key

)

select
    period_start,
    provider,
    feature,
    workflow,
    model_key,
    is_batchable,
    total_tokens,
    input_tokens,
    cache_read_tokens,
    cache_write_tokens,
    cache_write_1h_tokens,
    unpriced_tokens,
    cost_usd,
    cache_hit_rate,
    cache_read_savings_usd,
    cache_write_premium_usd,
    cast(cache_read_savings_usd - cache_write_premium_usd as {{ money_type() }}) as cache_net_savings_usd,
    batch_tokens,
    batch_share,
    batch_savings_usd,
    batchable_interactive_tokens,
    batch_potential_savings_usd
from final
