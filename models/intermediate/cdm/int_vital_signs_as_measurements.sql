{#-
    One row per vital sign value measured during an act, as LOINC with its UCUM unit: the columns
    measurement computes. Ephemeral: compiled into measurement, whose scope its reads follow.
-#}
with

vital_signs as (

    select * from {{ ref('stg_lake__vital_signs') }}
    where
        {{ in_scope(ref('stg_lake__vital_signs')) }}

),

visits as (

    select * from {{ ref('int_acts_typed_as_visits') }}
    where
        {{ in_scope(ref('int_acts_typed_as_visits')) }}

),

vital_sign_concepts as (

    select * from {{ ref('omop_vital_sign_concepts') }}

),

type_concepts as (

    select * from {{ ref('omop_type_concepts') }}

),

unpivoted as (

    {#- The SQL standard's unpivot, which both engines read; NULL values are left out. -#}
    select
        association_id,
        act_id,
        measured_at,
        vital_sign,
        value_as_number
    from (
        select
            association_id,
            act_id,
            measured_at,
            cast(temperature_c as double) as temperature_c,
            cast(heart_rate_bpm as double) as heart_rate_bpm,
            cast(spo2_pct as double) as spo2_pct,
            cast(systolic_bp_mmhg as double) as systolic_bp_mmhg,
            cast(diastolic_bp_mmhg as double) as diastolic_bp_mmhg,
            cast(respiratory_rate_pm as double) as respiratory_rate_pm,
            cast(weight_kg as double) as weight_kg
        from vital_signs
    ) as measured
    unpivot (
        value_as_number for vital_sign in (
            temperature_c, heart_rate_bpm, spo2_pct, systolic_bp_mmhg,
            diastolic_bp_mmhg, respiratory_rate_pm, weight_kg
        )
    )

),

final as (

    select
        {{ stable_id('measurement', [
            'unpivoted.association_id', 'unpivoted.act_id', 'unpivoted.measured_at', 'unpivoted.vital_sign'
        ]) }} as measurement_id,
        visits.person_id,
        vital_sign_concepts.measurement_concept_id,
        cast(unpivoted.measured_at as date) as measurement_date,
        unpivoted.measured_at as measurement_datetime,
        {{ time_of_day('unpivoted.measured_at') }} as measurement_time,
        type_concepts.concept_id as measurement_type_concept_id,
        unpivoted.value_as_number,
        vital_sign_concepts.unit_concept_id,
        visits.provider_id,
        visits.visit_occurrence_id,
        unpivoted.vital_sign as measurement_source_value,
        vital_sign_concepts.unit_source_value,
        cast(unpivoted.value_as_number as string) as value_source_value

    from unpivoted
    inner join visits
        on
            unpivoted.association_id = visits.association_id
            and unpivoted.act_id = visits.act_id
    inner join vital_sign_concepts
        on unpivoted.vital_sign = vital_sign_concepts.vital_sign
    inner join type_concepts
        on type_concepts.role = 'ehr'

)

select * from final
