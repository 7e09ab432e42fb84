{#
    effective_dates_do_not_overlap: an effective-dated lookup (valid_from inclusive, valid_to exclusive,
    empty valid_to = open-ended) must have at most one row in force per key on any date, and no row may
    end before it starts. Fails on every offending pair or row. Models pick the latest valid_from when
    rows do overlap, so this test is what tells the seed's owner.
#}
{% test effective_dates_do_not_overlap(model, key_columns, valid_from='valid_from', valid_to='valid_to') %}

with

rows_in as (

    select
        {{ key_columns | join(', ') }},
        {{ valid_from }} as valid_from,
        coalesce({{ valid_to }}, {{ far_future_date() }}) as valid_to,
        row_number() over (order by {{ key_columns | join(', ') }}, {{ valid_from }}) as row_id
    from {{ model }}

),

inverted as (

    select 'valid_to is not after valid_from' as problem, {{ key_columns | join(', ') }}, valid_from, valid_to
    from rows_in
    where valid_to <= valid_from

),

overlapping as (

    select 'overlaps another row of the same key' as problem,
        {% for k in key_columns %}a.{{ k }}, {% endfor %}a.valid_from, a.valid_to
    from rows_in as a
    inner join rows_in as b
        on {% for k in key_columns %}{{ null_safe_equal('a.' ~ k, 'b.' ~ k) }} and {% endfor %}a.row_id < b.row_id
        and a.valid_from < b.valid_to
        and b.valid_from < a.valid_to

)

select * from inverted
union all
select * from overlapping

{% endtest %}
