{#- Race and ethnicity stay 0: recording them is forbidden in France (loi Informatique et Libertés). -#}
{#- Incremental: a build replaces the rows of the persons whose acts changed since the last build. -#}
{{ config(
    materialized='scoped_incremental',
    scope='person',
) }}
select
    person_id,
    gender_concept_id,
    year_of_birth,
    month_of_birth,
    cast(null as integer) as day_of_birth,
    cast(null as timestamp) as birth_datetime,
    0 as race_concept_id,
    0 as ethnicity_concept_id,
    location_id,
    cast(null as bigint) as provider_id,
    cast(null as bigint) as care_site_id,
    -- The keyed pseudonym (never an identifier); its first 50 characters fit the CDM column.
    left(patient_pseudonym, 50) as person_source_value,
    patient_sex as gender_source_value,
    0 as gender_source_concept_id,
    cast(null as string) as race_source_value,
    cast(null as integer) as race_source_concept_id,
    cast(null as string) as ethnicity_source_value,
    cast(null as integer) as ethnicity_source_concept_id

from {{ ref('int_persons_derived_from_acts') }}
where {{ in_scope(ref('int_persons_derived_from_acts')) }}
