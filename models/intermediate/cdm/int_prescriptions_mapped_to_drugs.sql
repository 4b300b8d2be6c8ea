{#-
    One row per prescription line, with the columns drug_exposure computes. The drug concept comes from
    the ATC code's 'Maps to' when the vocabulary has one (a full Athena download maps many ATC codes to
    RxNorm ingredients); otherwise 0, with the CIP13 (or ATC) code kept as source value. The exposure runs
    for the prescribed duration. Ephemeral: compiled into drug_exposure, whose scope its reads follow.
-#}
with

prescriptions as (

    select * from {{ ref('stg_lake__prescriptions') }}
    where
        {{ in_scope(ref('stg_lake__prescriptions')) }}

),

visits as (

    select * from {{ ref('int_acts_typed_as_visits') }}
    where
        {{ in_scope(ref('int_acts_typed_as_visits')) }}

),

source_codes as (

    select * from {{ ref('int_source_codes_identified') }}
    where source_vocabulary_id = 'ATC'

),

standard_map as (

    select * from {{ ref('int_concepts_mapped_to_standard') }}
    where
        source_vocabulary_id = 'ATC'
        and target_domain_id = 'Drug'

),

one_target as (

    {#- An ATC class may map to several ingredients: a prescription line stays one exposure. -#}
    select
        source_concept_id,
        min(target_concept_id) as target_concept_id

    from standard_map
    group by source_concept_id

),

type_concepts as (

    select * from {{ ref('omop_type_concepts') }}

),

final as (

    select
        {{ stable_id('drug', [
            'prescriptions.association_id', 'prescriptions.act_id', 'prescriptions.line_number'
        ]) }} as drug_exposure_id,
        visits.person_id,
        coalesce(one_target.target_concept_id, 0) as drug_concept_id,
        visits.visit_start_date as drug_exposure_start_date,
        visits.visit_start_datetime as drug_exposure_start_datetime,
        visits.visit_start_date + coalesce(prescriptions.duration_days, 1) - 1 as drug_exposure_end_date,
        type_concepts.concept_id as drug_type_concept_id,
        -- Quantity only for countable units (tablets, sachets...): a total in mg or ml is not a quantity.
        case
            when prescriptions.dose_unit in ('cp', 'gel', 'sachet', 'suppo', 'dose', 'bouffee', 'goutte')
                then cast(
                    prescriptions.dose_value * prescriptions.intakes_per_day * prescriptions.duration_days
                    as double
                )
        end as quantity,
        prescriptions.duration_days as days_supply,
        visits.provider_id,
        visits.visit_occurrence_id,
        coalesce(prescriptions.cip13_code, prescriptions.atc_code) as drug_source_value,
        coalesce(source_codes.source_concept_id, 0) as drug_source_concept_id,
        prescriptions.dose_unit as dose_unit_source_value

    from prescriptions
    inner join visits
        on
            prescriptions.association_id = visits.association_id
            and prescriptions.act_id = visits.act_id
    inner join type_concepts
        on type_concepts.role = 'prescription'
    left join source_codes
        on prescriptions.atc_code = source_codes.source_code
    left join one_target
        on source_codes.source_concept_id = one_target.source_concept_id

)

select * from final
