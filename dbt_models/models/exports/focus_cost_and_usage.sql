-- The token-spend fact in the FinOps FOCUS format (FOCUS 1.2, with the provider columns of 1.3): one row
-- per fact row (marts.fct_token_spend) and token class with tokens, and one row for a fact row whose cost
-- carries no tokens (web_search, unmatched_billed): the rows of int_spend_token_classes, which splits each
-- fact row's billed cost and list estimate over its classes (exactly: the classes of a fact row sum to its
-- cost_usd, so BilledCost per day and provider ties to the provider's cost report). Written to Parquet and
-- CSV by the export (dagster_project/export). FOCUS columns first, then the x_ columns FOCUS reserves for
-- extensions.
--
-- ListCost: the product's list-price estimate of the class; ListUnitPrice = ListCost / PricingQuantity,
-- the price book's price where one price explains the class's tokens. A row with no list price (an
-- unpriced model, web search, a bill line with no usage) has ListUnitPrice null and, as FOCUS requires of
-- a charge with no unit price, ListCost = BilledCost; x_ListCostSource says which, so an unpriced model is
-- never listed at $0. ContractedCost = ListCost (the price book is the organisation's price; no negotiated
-- discount is modelled apart from it); EffectiveCost = BilledCost (no commitment to amortise).
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

-- the fact by token class (int_spend_token_classes: the one split of billed cost and estimate)
classes as (

    select
        *,
        cast({{ dbt.date_trunc('month', 'usage_date') }} as date) as billing_month
    from {{ ref('int_spend_token_classes') }}
    where {{ in_rebuild_scope('usage_date') }}

),

project_names as (

    select provider, project_id, project_name, valid_from, valid_to
    from {{ ref('project_owners') }}

),

listed as (

    select
        classes.*,
        cost_usd as billed_cost_usd,
        estimated_cost_usd as estimated_list_usd,
        coalesce(estimated_cost_usd, cost_usd) as list_cost_usd,
        -- USD per million tokens: the price book's price where it explains the row's estimate, else the
        -- class's average list price (the row's requests were priced at other tiers or context windows)
        case
            when estimated_cost_usd is null or tokens = 0 then null
            when is_book_priced then usd_per_million
            else {{ divide_money('estimated_cost_usd * 1000000', 'tokens') }}
        end as list_unit_price_usd

    from classes

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
