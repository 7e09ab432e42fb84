{#
    Incremental by day: the models that carry one row per request or per usage row (and the fact built
    from them) rebuild only the days a build must touch. The ONE mechanism, used by every such model:

      int_raw_day_fingerprints  per raw table and day: row count and latest _loaded_at; plus one row
                                for the seeds that re-price or re-attribute history and one for the
                                project's code (models and macros)
      int_rebuild_days          the days to rebuild now: days whose fingerprint differs from the one
                                committed by the last complete build (new, re-delivered or removed
                                rows), the days of other copies of a request seen on such a day, the
                                days of every request in a task tree that such a day touches, and the
                                last TOKENSPEND_LOOKBACK_DAYS days; every day when the seeds or code
                                changed (or nothing was committed yet)
      replace_days              the incremental strategy: delete the days in scope, insert them again,
                                in one transaction (Spark: replace the days' partitions, not atomic;
                                macros/spark_incremental.sql)
      commit_rebuild_state      on-run-end: the fingerprints become the committed state, only when every
                                incremental model was built successfully in this run

    A failed or partial build commits nothing, so the next build takes the same days again (replacing a
    day is idempotent). See DECISIONS.md "Incremental by day".
#}


{#
    rebuild_scope(kind): the days in scope, as a subquery for `column in (...)`.
      'all'  days to rebuild for any reason (models that read seeds: prices, owners, tags)
      'raw'  days whose raw data changed, plus the lookback (models that read only raw data)
#}
{% macro rebuild_scope(kind='all') -%}
    select usage_date from {{ ref('int_rebuild_days') }}
    {%- if kind == 'raw' %} where is_raw_change{% endif %}
{%- endmacro %}


{#
    in_rebuild_scope(column, kind): a predicate that keeps the rows of the days in scope on an
    incremental run, and every row on a full build.
#}
{% macro in_rebuild_scope(column, kind='all') -%}
    {%- if is_incremental() -%}
        ({{ column }} in ({{ rebuild_scope(kind) }}))
    {%- else -%}
        (1 = 1)
    {%- endif -%}
{%- endmacro %}


{#
    incremental_by_day(kind): the config of a model incremental by usage_date. Use as
    {{ config(**incremental_by_day('all')) }} (or 'raw'), with `-- depends_on: {{ ref('int_rebuild_days') }}`.
    Its strategy deletes every day in scope, whether or not the new rows cover it (a day whose rows were
    all removed upstream is emptied), and inserts the rebuilt rows, in one transaction.
#}
{% macro incremental_by_day(kind='all') -%}
    {%- set model_config = {
        'materialized': 'incremental',
        'incremental_strategy': 'replace_raw_days' if kind == 'raw' else 'replace_days',
        'on_schema_change': 'fail',
    } -%}
    {%- do model_config.update(adapter.dispatch('incremental_by_day_config', 'tokenspend')()) -%}
    {{ return(model_config) }}
{%- endmacro %}

{#
    should_full_refresh(): dbt's rule (the --full-refresh flag, or a model's full_refresh config), plus one
    for the models incremental by day: such a model is rebuilt whole when the project's code changed since
    the last complete build (code_changed_since_commit). A code change (an upgrade of tokenspend, an edited
    model or macro) puts every day in scope anyway, and it is the one thing that changes a model's columns,
    so rebuilding whole gives the new columns in order with their contract, at the cost of the every-day
    rebuild the change needed: an upgrade needs no full refresh by hand. dbt calls this macro from the
    incremental materialization and from is_incremental(); the project's own definition wins over dbt's.
    A model whose config says full_refresh: false keeps that.
#}
{% macro should_full_refresh() -%}
    {%- set dbt_says = dbt.should_full_refresh() -%}
    {%- if dbt_says or config.get('full_refresh') is not none -%}
        {{ return(dbt_says) }}
    {%- endif -%}
    {{ return(config.get('incremental_strategy') in ('replace_days', 'replace_raw_days') and code_changed_since_commit()) }}
{%- endmacro %}


{# code_changed_since_commit(): the last complete build committed another code fingerprint, or none. #}
{% macro code_changed_since_commit() -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set state = rebuild_state_relation() -%}
    {%- if adapter.get_relation(state.database, state.schema, state.identifier) is none -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set committed = run_query(
        "select count(*) from " ~ state ~ " where source_name = 'code' and fingerprint = '" ~ code_fingerprint() ~ "'"
    ) -%}
    {{ return(committed.columns[0].values()[0] == 0) }}
{%- endmacro %}


{# What an engine adds to that config. Spark's parquet tables have no DELETE: each day is a partition,
   replaced whole (spark__replace_days_sql in macros/spark_incremental.sql; the table format is set for
   the whole project in dbt_project.yml). #}
{% macro default__incremental_by_day_config() -%}
    {{ return({}) }}
{%- endmacro %}

{% macro spark__incremental_by_day_config() -%}
    {#- the hook is rendered when it runs: '{' ~ '{' keeps it from being rendered here -#}
    {{ return({
        'partition_by': ['usage_date'],
        'post_hook': ['{' ~ '{ spark_uncache_rebuilt_rows() }' ~ '}'],
    }) }}
{%- endmacro %}


{# The strategies: replace the days in scope ('all') or the days whose raw data changed ('raw'). #}
{% macro get_incremental_replace_days_sql(arg_dict) -%}
    {{ return(adapter.dispatch('replace_days_sql', 'tokenspend')(arg_dict, 'all')) }}
{%- endmacro %}

{% macro get_incremental_replace_raw_days_sql(arg_dict) -%}
    {{ return(adapter.dispatch('replace_days_sql', 'tokenspend')(arg_dict, 'raw')) }}
{%- endmacro %}

{% macro default__replace_days_sql(arg_dict, kind) -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ arg_dict['target_relation'] }}
    where usage_date in ({{ rebuild_scope(kind) }});

    insert into {{ arg_dict['target_relation'] }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{%- endmacro %}


{# The table that keeps the committed fingerprints between builds (outside dbt's models on purpose). #}
{% macro rebuild_state_relation() -%}
    {#- Spark has no database above the schema: target.database is undefined there -#}
    {{ return(api.Relation.create(database=target.database | default(none), schema='ops', identifier='rebuild_state')) }}
{%- endmacro %}


{# on-run-start: make sure the state table exists (empty on a new warehouse: the first build is full). #}
{% macro create_rebuild_state() -%}
    {% if execute %}
        {% do run_query('create schema if not exists ' ~ rebuild_state_relation().without_identifier()) %}
        {% do run_query(
            'create table if not exists ' ~ rebuild_state_relation() ~ ' ('
            ~ 'source_name ' ~ dbt.type_string() ~ ', usage_date date, row_count ' ~ dbt.type_bigint()
            ~ ', fingerprint ' ~ dbt.type_string() ~ ')'
        ) %}
    {% endif %}
{%- endmacro %}


{#
    on-run-end: commit the fingerprints the build started from, when the fingerprints, the scope and
    every incremental model of the project were built successfully in this run.
#}
{% macro commit_rebuild_state(results) -%}
    {% if execute %}
        {%- set needed = [] -%}
        {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.package_name == project_name -%}
            {%- if node.config.materialized == 'incremental' or node.name in ('int_raw_day_fingerprints', 'int_rebuild_days') -%}
                {%- do needed.append(node.unique_id) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set succeeded = [] -%}
        {%- for result in results if result.status == 'success' -%}
            {%- do succeeded.append(result.node.unique_id) -%}
        {%- endfor -%}
        {%- set missing = needed | reject('in', succeeded) | list -%}
        {% if missing | length == 0 %}
            {% set state = rebuild_state_relation() %}
            {%- set node = graph.nodes['model.' ~ project_name ~ '.int_raw_day_fingerprints'] -%}
            {%- set fingerprints = api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias) -%}
            {% do adapter.dispatch('replace_rebuild_state', 'tokenspend')(state, fingerprints) %}
        {% endif %}
    {% endif %}
{%- endmacro %}


{# replace_rebuild_state(state, fingerprints): the committed fingerprints become the current ones, at once. #}
{% macro default__replace_rebuild_state(state, fingerprints) -%}
    {% do run_query('begin') %}
    {% do run_query('delete from ' ~ state) %}
    {% do run_query(
        'insert into ' ~ state ~ ' (source_name, usage_date, row_count, fingerprint) '
        ~ 'select source_name, usage_date, row_count, fingerprint from ' ~ fingerprints
    ) %}
    {% do run_query('commit') %}
{%- endmacro %}

{# Spark: no transactions and no DELETE on parquet tables; one INSERT OVERWRITE replaces the whole table. #}
{% macro spark__replace_rebuild_state(state, fingerprints) -%}
    {% do run_query(
        'insert overwrite table ' ~ state ~ ' '
        ~ 'select source_name, usage_date, row_count, fingerprint from ' ~ fingerprints
    ) %}
{%- endmacro %}


{#
    code_fingerprint(): a hash of every model and macro of this project, and of the settings that change
    what a model computes from the same rows (the OpenTelemetry tag map), so a build after either changes
    (an upgrade of tokenspend) re-derives history instead of mixing old and new logic.
#}
{% macro code_fingerprint() -%}
    {%- set parts = [] -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values() | sort(attribute='unique_id') if node.resource_type == 'model' and node.package_name == project_name -%}
            {%- do parts.append(node.unique_id ~ ':' ~ node.checksum.checksum) -%}
        {%- endfor -%}
        {%- for name in tokenspend.keys() | sort -%}
            {%- do parts.append(name ~ ':' ~ local_md5(tokenspend[name].macro.macro_sql)) -%}
        {%- endfor -%}
        {#- settings that change what a model computes from the same rows -#}
        {%- do parts.append('otel_tag_map:' ~ otel_tag_map() | tojson) -%}
    {%- endif -%}
    {{ return(local_md5(parts | join('|'))) }}
{%- endmacro %}


{#
    history_seeds(): the seeds whose change re-prices or re-attributes history. Catalogues, budgets and
    baselines are read only by the marts, which are rebuilt on every build.
#}
{% macro history_seeds() -%}
    {{ return(['price_book', 'price_book_generated', 'api_key_owners', 'project_owners', 'employees', 'tag_aliases',
               'tag_corrections']) }}
{%- endmacro %}


{#
    raw_day_columns(): each raw table that feeds the models, with the expression that gives its rows'
    usage date. request_raw_tables() names those that hold request-level events (their copies and tasks
    widen the scope).
#}
{% macro raw_day_columns() -%}
    {{ return({
        'request_events': 'cast(occurred_at as date)',
        'litellm_spend_logs': 'cast(start_time as date)',
        'otel_spans': 'cast(start_time as date)',
        'outcome_events': 'cast(completed_at as date)',
        'openai_usage_completions': 'cast(bucket_start as date)',
        'openai_usage_embeddings': 'cast(bucket_start as date)',
        'openai_costs': 'cast(bucket_start as date)',
        'anthropic_usage_messages': 'cast(bucket_start as date)',
        'anthropic_cost_report': 'cast(bucket_start as date)',
    }) }}
{%- endmacro %}


{% macro request_raw_tables() -%}
    {{ return(['request_events', 'litellm_spend_logs', 'otel_spans']) }}
{%- endmacro %}


{# lookback_days(): TOKENSPEND_LOOKBACK_DAYS (default 3): trailing days every build rebuilds. #}
{% macro lookback_days() -%}
    {%- set value = (env_var('TOKENSPEND_LOOKBACK_DAYS', '') | trim) or '3' -%}
    {%- if not value.isdigit() -%}
        {{ exceptions.raise_compiler_error('TOKENSPEND_LOOKBACK_DAYS must be a whole number of days, got ' ~ value) }}
    {%- endif -%}
    {{ return(value | int) }}
{%- endmacro %}
