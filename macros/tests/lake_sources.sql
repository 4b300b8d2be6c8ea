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
    network.latest_date - latest_by_association.latest_date as lag_days

from latest_by_association
cross join network
where network.latest_date - latest_by_association.latest_date > {{ max_lag_days }}
{% endtest %}


{#- Diagnosis coding rate: per association and ISO week, the share of acts with at least one coded
    diagnosis (weeks with fewer than `min_acts` acts are not judged). -#}
{% test diagnosis_coding_rate_by_week(model, diagnoses, min_rate=0.5, min_acts=20) %}
with

acts as (

    select distinct
        association_id,
        act_id,
        date_trunc('week', start_at) as act_week

    from {{ model }}

),

coded as (

    select distinct
        association_id,
        act_id

    from {{ diagnoses }}

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
