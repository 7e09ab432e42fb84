-- One row per usage_date x provider x model_key: billed cost beside the list-price estimate, tokens by
-- class, requests and web searches. model_key is the price-book model (or the raw model id when
-- unpriced, null for cost lines that name no model, web search among them), so dated and undated ids
-- of one model share a row.
with

spend as (

    select * from {{ ref('fct_token_spend') }}

),

final as (

    select
        usage_date,
        provider,
        model_key,
        sum(cost_usd) as cost_usd,
        -- list-price estimate of the PRICED tokens only; unpriced_tokens says what it leaves out
        sum(estimated_cost_usd) as estimated_cost_usd,
        {{ sum_token_classes() }},
        {{ sum_count('total_tokens') }} as total_tokens,
        -- a web_search row's request_count is its searches, not model requests
        {{ sum_count("case when record_type = 'web_search' then 0 else request_count end") }} as request_count,
        {{ sum_count("case when record_type = 'web_search' then request_count else 0 end") }} as web_search_requests,
        {{ sum_count('case when is_unpriced then total_tokens else 0 end') }} as unpriced_tokens

    from spend
    group by usage_date, provider, model_key

)

select * from final
