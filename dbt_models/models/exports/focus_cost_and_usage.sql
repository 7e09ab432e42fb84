-- The token-spend fact in the FinOps FOCUS format (FOCUS 1.2, with the provider columns of 1.3): one row
-- per fact row (marts.fct_token_spend) and token class with tokens, and one row for a fact row whose cost
-- carries no tokens (web_search, unmatched_billed). Written to Parquet and CSV by the export
-- (dagster_project/export). FOCUS columns first, then the x_ columns FOCUS reserves for extensions.
--
-- Cost: a fact row's billed cost_usd is split over its token classes by list value (tokens x the class's
-- price in force that day) when every class with tokens has a price, else by tokens: the rule of
-- int_spend_token_classes, applied here to each fact row, customer included. Shares are rounded to 9
-- decimals and the remainder goes to the class with the largest weight (the first in token_classes()
-- order on a tie), so the classes of a fact row sum EXACTLY to its cost_usd, and BilledCost per day and
-- provider to the provider's cost report.
-- Prices: the fact has no service tier or context window, so a row takes its model's prices of the day
-- for the standard tier and the 'all' window when those were seen, else the first other key.
--
-- ListCost: the product's list-price estimate of the fact row (estimated_cost_usd: each request at the
-- price of its own tier and context window), split over the classes by the same weights and remainder
-- rule, so a priced fact row's ListCost sums exactly to its estimate; ListUnitPrice = ListCost /
-- PricingQuantity, the price book's price where one price explains the class's tokens. A row with no list
-- price (an unpriced model, web search, a bill line with no usage) has ListUnitPrice null and, as FOCUS
-- requires of a charge with no unit price, ListCost = BilledCost; x_ListCostSource says which, so an
-- unpriced model is never listed at $0. ContractedCost = ListCost (the price book is the organisation's
-- price; no negotiated discount is modelled apart from it); EffectiveCost = BilledCost (no commitment to
-- amortise).
--
-- Incremental by usage_date like the fact it splits (macros/incremental.sql): a build rewrites the days it
-- rebuilds. usage_date, the table's day key, is its last column; the files call it x_UsageDate.
{{ config(**incremental_by_day('all')) }}
-- depends_on: {{ ref('int_rebuild_days') }}
{%- set classes = token_classes() %}
{%- set class_labels = {
    'uncached_input': 'Uncached Input Tokens',
    'cache_read_input': 'Cache Read Input Tokens',
    'cache_write_5m_input': '5-Minute Cache Write Input Tokens',
    'cache_write_1h_input': '1-Hour Cache Write Input Tokens',
    'output': 'Output Tokens',
} %}
{#- the provider's names in FOCUS, and what its sub account (project_id) is called -#}
{%- set providers = {
    'openai': {'name': 'OpenAI', 'service': 'OpenAI API', 'sub_account_type': 'Project'},
    'anthropic': {'name': 'Anthropic', 'service': 'Anthropic API', 'sub_account_type': 'Workspace'},
} %}
{%- set by_provider = {} %}
{%- for attribute in ['name', 'service', 'sub_account_type'] %}
    {%- set expression -%}
        case listed.provider{% for provider, names in providers.items() %} when '{{ provider }}' then '{{ names[attribute] }}'{% endfor %} end
    {%- endset %}
    {%- do by_provider.update({attribute: expression}) %}
{%- endfor %}
{%- set tags = [('feature', 'feature'), ('workflow', 'workflow'), ('team', 'team'), ('employee_id', 'employee_id'),
               ('customer_id', 'customer_id')] %}
with

fact as (

    select
        *,
        cast({{ dbt.date_trunc('month', 'usage_date') }} as date) as billing_month
    from {{ ref('fct_token_spend') }}
    where {{ in_rebuild_scope('usage_date') }}

),

prices as (

    select * from {{ ref('int_prices_resolved') }}
    where {{ in_rebuild_scope('usage_date') }}

),

project_names as (

    select provider, project_id, project_name, valid_from, valid_to
    from {{ ref('project_owners') }}

),

day_prices as (

    select * from (
        select
            prices.*,
            row_number() over (
                partition by usage_date, provider, model, is_batch
                order by
                    case when coalesce(service_tier, 'standard') in ('standard', 'default') then 0 else 1 end,
                    case when coalesce(context_window, 'all') = 'all' then 0 else 1 end,
                    service_tier,
                    context_window
            ) as price_rank
        from prices
    ) as ranked
    where price_rank = 1

),

-- per fact row: its prices of the day, the weight its classes share its cost by, and whether the book's
-- prices explain its estimate exactly (every request at the day's standard price)
priced as (

    select
        fact.token_spend_id,
        fact.total_tokens,
        fact.cost_usd,
        fact.estimated_cost_usd,
        {% for c in classes -%}
        fact.{{ c }}_tokens,
        day_prices.{{ c }}_usd_per_million,
        {% endfor -%}
        day_prices.priced_model is not null
        {%- for c in classes %}
            and (fact.{{ c }}_tokens = 0 or day_prices.{{ c }}_usd_per_million is not null)
        {%- endfor %} as has_class_prices,
        ({% for c in classes %}fact.{{ c }}_tokens * coalesce(day_prices.{{ c }}_usd_per_million, 0){% if not loop.last %}
            + {% endif %}{% endfor %}) as list_weight

    from fact
    left join day_prices
        on fact.usage_date = day_prices.usage_date
        and fact.provider = day_prices.provider
        and fact.model = day_prices.model
        and fact.is_batch = day_prices.is_batch

),

row_weights as (

    select
        *,
        has_class_prices and list_weight > 0 as by_list_value,
        has_class_prices and list_weight > 0
            and estimated_cost_usd = {{ usd_from_per_million('list_weight') }} as is_book_priced

    from priced

),

-- one row per fact row and token class with tokens; one row (no class) per fact row with no tokens
class_rows as (

    {% for c in classes -%}
    select
        token_spend_id,
        '{{ c }}' as token_class,
        {{ loop.index }} as class_order,
        {{ c }}_tokens as tokens,
        {{ c }}_usd_per_million as usd_per_million,
        cast(case when by_list_value then {{ c }}_tokens * {{ c }}_usd_per_million else {{ c }}_tokens end
            as {{ money_type() }}) as split_weight,
        cast(case when by_list_value then list_weight else total_tokens end as {{ money_type() }}) as row_weight,
        is_book_priced,
        cost_usd,
        estimated_cost_usd
    from row_weights
    where {{ c }}_tokens <> 0

    union all

    {% endfor -%}
    select
        token_spend_id,
        cast(null as {{ dbt.type_string() }}) as token_class,
        0 as class_order,
        cast(0 as {{ dbt.type_bigint() }}) as tokens,
        cast(null as {{ money_type() }}) as usd_per_million,
        cast(1 as {{ money_type() }}) as split_weight,
        cast(1 as {{ money_type() }}) as row_weight,
        false as is_book_priced,
        cost_usd,
        estimated_cost_usd
    from row_weights
    where total_tokens = 0

),

-- each class's share, rounded to 9 decimals (a class alone in its row takes the row whole; a class of a
-- row the book's prices explain lists at tokens x price, which is that share exactly)
shared as (

    select
        *,
        case
            when split_weight = row_weight then cost_usd
            else {{ divide_money('cost_usd * split_weight', 'row_weight') }}
        end as rounded_billed_usd,
        case
            when estimated_cost_usd is null then null
            when split_weight = row_weight then estimated_cost_usd
            when is_book_priced then {{ usd_from_per_million('tokens * usd_per_million') }}
            else {{ divide_money('estimated_cost_usd * split_weight', 'row_weight') }}
        end as rounded_list_usd,
        row_number() over (partition by token_spend_id order by split_weight desc, class_order) as weight_rank

    from class_rows

),

-- the rounding remainders go to the class with the largest weight, so a fact row's classes sum exactly
split as (

    select
        token_spend_id,
        token_class,
        tokens,
        usd_per_million,
        is_book_priced,
        cast(
            rounded_billed_usd
            + case
                when weight_rank = 1 then cost_usd - sum(rounded_billed_usd) over (partition by token_spend_id)
                else 0
            end
        as {{ money_type() }}) as billed_cost_usd,
        -- the product's list-price estimate of the row, split the same way; null when unpriced
        cast(
            rounded_list_usd
            + case
                when weight_rank = 1 then estimated_cost_usd - sum(rounded_list_usd) over (partition by token_spend_id)
                else 0
            end
        as {{ money_type() }}) as estimated_list_usd

    from shared

),

listed as (

    select
        fact.*,
        split.token_class,
        split.tokens,
        split.billed_cost_usd,
        split.estimated_list_usd,
        coalesce(split.estimated_list_usd, split.billed_cost_usd) as list_cost_usd,
        -- USD per million tokens: the price book's price where it explains the row's estimate, else the
        -- class's average list price (the row's requests were priced at other tiers or context windows)
        case
            when split.estimated_list_usd is null or split.tokens = 0 then null
            when split.is_book_priced then split.usd_per_million
            else {{ divide_money('split.estimated_list_usd * 1000000', 'split.tokens') }}
        end as list_unit_price_usd

    from split
    inner join fact
        on split.token_spend_id = fact.token_spend_id

),

focus as (

    select
        listed.billed_cost_usd as BilledCost,
        listed.provider as BillingAccountId,
        {{ by_provider['name'] }} || ' organization' as BillingAccountName,
        'USD' as BillingCurrency,
        {{ utc_day_start('cast(' ~ dbt.dateadd('month', 1, 'listed.billing_month') ~ ' as date)') }} as BillingPeriodEnd,
        {{ utc_day_start('listed.billing_month') }} as BillingPeriodStart,
        'Usage' as ChargeCategory,
        cast(null as {{ dbt.type_string() }}) as ChargeClass,
        case
            when token_class is not null then
                model_key || ' ' || case token_class
                    {%- for c in classes %}
                    when '{{ c }}' then '{{ class_labels[c] | lower }}'
                    {%- endfor %}
                end || case when is_batch then ', batch' else '' end
            when record_type = 'web_search' then 'Web search requests'
            else 'Billed cost the usage report does not explain' || coalesce(' (' || model_key || ')', '')
        end as ChargeDescription,
        'Usage-Based' as ChargeFrequency,
        {{ utc_day_start('cast(' ~ dbt.dateadd('day', 1, 'listed.usage_date') ~ ' as date)') }} as ChargePeriodEnd,
        {{ utc_day_start('listed.usage_date') }} as ChargePeriodStart,
        cast(case
            when token_class is not null then tokens
            when record_type = 'web_search' then request_count
        end as {{ money_type() }}) as ConsumedQuantity,
        case
            when token_class is not null then 'Tokens'
            when record_type = 'web_search' then 'Requests'
        end as ConsumedUnit,
        list_cost_usd as ContractedCost,
        billed_cost_usd as EffectiveCost,
        {{ by_provider['name'] }} as HostProviderName,
        {{ by_provider['name'] }} as InvoiceIssuerName,
        list_cost_usd as ListCost,
        list_unit_price_usd as ListUnitPrice,
        cast(case
            when token_class is not null then tokens * {{ decimal_literal('0.000001') }}
            when record_type = 'web_search' then request_count * {{ decimal_literal('0.001') }}
        end as {{ money_type() }}) as PricingQuantity,
        case
            when token_class is not null then '1000000 Tokens'
            when record_type = 'web_search' then '1000 Requests'
        end as PricingUnit,
        {{ by_provider['name'] }} as ProviderName,
        {{ by_provider['name'] }} as PublisherName,
        'AI and Machine Learning' as ServiceCategory,
        {{ by_provider['service'] }} as ServiceName,
        {{ by_provider['name'] }} as ServiceProviderName,
        'Generative AI' as ServiceSubcategory,
        case
            when token_class is not null then listed.provider || '/' || model_key || '/' || token_class
            when record_type = 'web_search' then listed.provider || '/web_search'
            else listed.provider || '/' || coalesce(model_key, 'billed_without_usage')
        end as SkuId,
        case
            when token_class is not null then case token_class
                {%- for c in classes %}
                when '{{ c }}' then '{{ class_labels[c] }}'
                {%- endfor %}
            end
            when record_type = 'web_search' then 'Web Search Requests'
            else 'Billed Usage Without Usage Report'
        end as SkuMeter,
        listed.project_id as SubAccountId,
        case when listed.project_id is not null then coalesce(project_names.project_name, listed.project_id) end
            as SubAccountName,
        case when listed.project_id is not null then {{ by_provider['sub_account_type'] }} end as SubAccountType,
        {{ json_object_of_strings(tags) }} as Tags,
        token_spend_id as x_TokenSpendId,
        token_class as x_TokenClass,
        model as x_Model,
        api_key_id as x_ApiKeyId,
        is_batch as x_IsBatch,
        record_type as x_RecordType,
        attribution_method as x_AttributionMethod,
        feature as x_Feature,
        workflow as x_Workflow,
        team as x_Team,
        employee_id as x_EmployeeId,
        customer_id as x_CustomerId,
        is_unpriced as x_IsUnpriced,
        case when estimated_list_usd is not null then 'ListPrice' else 'BilledCost' end as x_ListCostSource,
        listed.usage_date

    from listed
    left join project_names
        on listed.provider = project_names.provider
        and listed.project_id = project_names.project_id
        and {{ effective_on('listed.usage_date', 'project_names') }}

)

select * from focus
