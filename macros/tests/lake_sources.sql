{#-
    Source tests on the landed feeds (severity warn by default in the sources YAML: they flag an
    association to call, they do not stop a build).
-#}

{#- Freshness per association: each association's latest extract is at most `max_lag_days` behind the
    network's latest one (relative, so replaying old extracts does not fail it). -#}
{% test lake_freshness_by_association(model, date_column='extract_date', max_lag_days=3) %}
with

latest_by_association as (

    select
        association_id,
        max({{ date_column }}) as latest_date

    from {{ model }}
    group by association_id

),

network as (

    select max(latest_date) as latest_date
    from latest_by_association

)

select
    latest_by_association.association_id,
    latest_by_association.latest_date,
    {{ days_between('latest_by_association.latest_date', 'network.latest_date') }} as lag_days

from latest_by_association
cross join network
where {{ days_between('latest_by_association.latest_date', 'network.latest_date') }} > {{ max_lag_days }}
{% endtest %}


{#- Whole days from one date to a later one: DuckDB subtracts dates to an integer, Spark to an interval. -#}
{% macro days_between(earlier, later) -%}
    {{ return(adapter.dispatch('days_between')(earlier, later)) }}
{%- endmacro %}

{% macro default__days_between(earlier, later) -%}
    {{ later }} - {{ earlier }}
{%- endmacro %}

{% macro spark__days_between(earlier, later) -%}
    datediff({{ later }}, {{ earlier }})
{%- endmacro %}


{#- Diagnosis coding rate: per association and ISO week, the share of acts with at least one coded
    diagnosis (weeks with fewer than `min_acts` acts are not judged). On an incremental build (var
    test_scope = 'changed', no --full-refresh) only the weeks of the acts this build changed are judged
    (base_lake__changed_acts: the others were judged when they last changed), read through literal
    bounds on the landed start (timestamp_s) and extract dates so that the row groups of other periods
    are skipped: a diagnosis is never extracted before its act's file, which ingest dates at most
    ACT_DAYS_AFTER_EXTRACT (1) day before the act (ingest/records/validate.py). -#}
{% test diagnosis_coding_rate_by_week(model, diagnoses, min_rate=0.5, min_acts=20) %}
{%- set changed = ref('base_lake__changed_acts') -%}
{%- set bounds = none -%}
{%- if execute and var('test_scope', 'changed') == 'changed' and not flags.FULL_REFRESH
    and adapter.get_relation(
        database=changed.database, schema=changed.schema, identifier=changed.identifier
    ) is not none -%}
    {%- set bounds = run_query(
        "select cast(cast(date_trunc('week', min(act_date)) as date) as string), "
        ~ "cast(max(act_date) + 1 as string), "
        ~ "cast(cast(date_trunc('week', min(act_date)) as date) - 1 as string) from " ~ changed
    ).rows[0] -%}
{%- endif %}
{#- DuckDB's second-precision timestamp, as start_at is landed; Spark has one kind without zone. -#}
{%- set start_type = 'timestamp' if target.type == 'spark' else 'timestamp_s' %}
with

acts as (

    select distinct
        association_id,
        act_id,
        date_trunc('week', start_at) as act_week

    from {{ model }}
    {%- if bounds is not none and bounds[0] is none %}
    where false
    {%- elif bounds is not none %}
    where
        start_at >= cast('{{ bounds[0] }}' as {{ start_type }})
        and start_at < cast('{{ bounds[1] }}' as {{ start_type }})
        and cast(date_trunc('week', start_at) as date) in (
            select cast(date_trunc('week', act_date) as date) from {{ changed }}
        )
    {%- endif %}

),

coded as (

    select distinct
        association_id,
        act_id

    from {{ diagnoses }}
    {%- if bounds is not none and bounds[0] is none %}
    where false
    {%- elif bounds is not none %}
    where extract_date >= cast('{{ bounds[2] }}' as date)
    {%- endif %}

),

rates as (

    select
        acts.association_id,
        acts.act_week,
        count(*) as act_count,
        count(coded.act_id) * 1.0 / count(*) as coding_rate

    from acts
    left join coded
        on
            acts.association_id = coded.association_id
            and acts.act_id = coded.act_id
    group by acts.association_id, acts.act_week

)

select *
from rates
where
    act_count >= {{ min_acts }}
    and coding_rate < {{ min_rate }}
{% endtest %}
