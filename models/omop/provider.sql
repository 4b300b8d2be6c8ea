select
    provider_id,
    cast(null as string) as provider_name,
    cast(null as string) as npi,
    cast(null as string) as dea,
    specialty_concept_id,
    care_site_id,
    cast(null as integer) as year_of_birth,
    gender_concept_id,
    provider_source_value,
    specialty_source_value,
    0 as specialty_source_concept_id,
    gender_source_value,
    0 as gender_source_concept_id

from {{ ref('int_doctors_from_rosters_and_acts') }}
