{#
    unique_combination_of_columns: fails on every combination of the columns that occurs more than once.
    Nulls count as a value (two rows with the same nulls are duplicates), which is what a grain means.
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

select
    {{ combination_of_columns | join(', ') }},
    count(*) as row_count
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1

{% endtest %}
