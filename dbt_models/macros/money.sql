{#
    Unit conversions and divisions for money. Every result is money_type(), never a float.
#}

{# decimal_literal('0.01'): an exact DECIMAL constant. A bare 0.01 is a FLOAT64 on BigQuery. #}
{% macro decimal_literal(text) -%}
    cast('{{ text }}' as {{ money_type() }})
{%- endmacro %}


{# Anthropic reports cost as a decimal STRING in cents ("123.45" = $1.2345). The text is read with 12
   decimals (fractional cents survive), multiplied by 0.01 (no division, which some engines - DuckDB -
   do in floating point) and stored as money_type(). #}
{% macro cents_to_dollars(cents_text) -%}
    cast(cast({{ cents_text }} as {{ wide_decimal_type() }}) * {{ decimal_literal('0.01') }} as {{ money_type() }})
{%- endmacro %}


{# usd_from_per_million(expr): a "tokens x USD per million tokens" sum to dollars, in DECIMAL. #}
{% macro usd_from_per_million(expr) -%}
    cast(cast({{ expr }} as {{ money_type() }}) * {{ decimal_literal('0.000001') }} as {{ money_type() }})
{%- endmacro %}


{#
    divide_money(numerator, denominator): numerator / denominator rounded to 9 decimals as money_type(),
    null when the denominator is 0 or null.

    DuckDB divides DECIMALs as DOUBLE, so its implementation divides exactly in 128-bit integers
    (nano-units, round half away from zero). Spark divides both sides as decimal(38, 9) (below).
    Engines whose decimal division stays decimal (Snowflake, BigQuery, Postgres) use the plain
    expression.
#}
{% macro divide_money(numerator, denominator) -%}
    {{ return(adapter.dispatch('divide_money', 'tokenspend')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__divide_money(numerator, denominator) -%}
    case
        when ({{ denominator }}) is null or ({{ denominator }}) = 0 then null
        else cast(round(({{ numerator }}) / ({{ denominator }}), 9) as {{ money_type() }})
    end
{%- endmacro %}

{% macro duckdb__divide_money(numerator, denominator) -%}
    {%- set n -%}
        (cast(cast(({{ numerator }}) as decimal(38, 9)) * 1000000000 as hugeint) * 1000000000)
    {%- endset -%}
    {%- set d -%}
        cast(cast(({{ denominator }}) as decimal(38, 9)) * 1000000000 as hugeint)
    {%- endset -%}
    case
        when ({{ denominator }}) is null or ({{ denominator }}) = 0 then null
        else cast(
            cast(
                sign({{ n }}) * sign({{ d }})
                * ((2 * abs({{ n }}) + abs({{ d }})) // (2 * abs({{ d }})))
            as decimal(38, 0)) * 0.000000001
        as {{ money_type() }})
    end
{%- endmacro %}

{# Spark: as DuckDB computes it: both sides as decimal(38, 9) first, the quotient rounded half away from
   zero to 9 decimals (Spark's round is HALF_UP; with spark.sql.decimalOperations.allowPrecisionLoss=false,
   set in the profile, the quotient keeps enough digits before the round). The default would divide at
   the numerator's own scale, which differs from DuckDB in the 9th decimal. #}
{% macro spark__divide_money(numerator, denominator) -%}
    case
        when ({{ denominator }}) is null or ({{ denominator }}) = 0 then null
        else cast(
            round(cast(({{ numerator }}) as decimal(38, 9)) / cast(({{ denominator }}) as decimal(38, 9)), 9)
        as {{ money_type() }})
    end
{%- endmacro %}


{# A plain ratio (shares, rates) that is not money, as a DECIMAL with 9 decimals. #}
{% macro safe_ratio(numerator, denominator) -%}
    {{ divide_money(numerator, denominator) }}
{%- endmacro %}


{#
    counterfactual_cost(q0, c0, q1, c1): a group's current tokens q1 at its prior unit cost c0 / q0 (in
    USD per million tokens, 9 decimals), as money_type(); its current cost c1 when the prior period had
    none of its tokens; 0 when it has no current tokens. The spend-change mart's one valuation step.
#}
{% macro counterfactual_cost(q0, c0, q1, c1) -%}
    cast(case
        when {{ q1 }} = 0 then 0
        when {{ q0 }} = 0 then {{ c1 }}
        else {{ usd_from_per_million(q1 ~ ' * ' ~ divide_money(c0 ~ ' * 1000000', q0)) }}
    end as {{ money_type() }})
{%- endmacro %}
