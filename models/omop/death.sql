{#-
    One row per person whose act ended with a death certificate (outcome DC): the first such act (kept
    per person by int_persons_derived_from_acts).
    Incremental: a build replaces the rows of the persons whose acts changed since the last build.
-#}
{{ config(
    materialized='scoped_incremental',
    scope='person',
) }}
select
    person_id,
    cast(death_datetime as date) as death_date,
    death_datetime,
    {{ type_concept('death_certificate') }} as death_type_concept_id,
    cast(null as integer) as cause_concept_id,
    cast(null as string) as cause_source_value,
    cast(null as integer) as cause_source_concept_id

from {{ ref('int_persons_derived_from_acts') }}
where
    death_visit_occurrence_id is not null
    and {{ in_scope(ref('int_persons_derived_from_acts')) }}
