{#-
    One row per act and syndromic group it belongs to: any diagnosis of the act, at any rank, whose
    CIM-10 code starts with one of the group's prefixes or whose thesaurus code is one of the group's codes. A group restricted
    by age (bronchiolitis: under 2) ignores acts outside it, as SpF does. Record-level, in the
    intermediate schema. Incremental: a build replaces the acts changed since the last completed build.
    Left joins: see int_surveillance_acts_classified.
-#}
{{ config(
    materialized='scoped_incremental',
    scope='visit',
    scope_bound={'column': 'week_start_date', 'grain': 'week'},
) }}
with

diagnoses as (

    select * from {{ ref('int_diagnoses_mapped_to_standard') }}
    where
        {{ in_scope(ref('int_diagnoses_mapped_to_standard')) }}

),

acts as (

    select * from {{ ref('int_surveillance_acts_classified') }}
    where
        {{ in_scope(ref('int_surveillance_acts_classified')) }}

),

group_codes as (

    select * from {{ ref('syndromic_group_codes') }}

),

syndromic_groups as (

    select * from {{ ref('syndromic_groups') }}

),

matched as (

    select distinct
        diagnoses.visit_occurrence_id,
        group_codes.syndrome_group

    from diagnoses
    left join group_codes
        on
            (
                group_codes.code_system = 'icd10_prefix'
                and {{ text_starts_with('diagnoses.icd10_code', 'group_codes.code') }}
            )
            or (
                group_codes.code_system = 'thesaurus'
                and diagnoses.thesaurus_code = group_codes.code
            )
    where group_codes.syndrome_group is not null

),

within_age as (

    select
        matched.visit_occurrence_id,
        matched.syndrome_group,
        acts.week_start_date

    from matched
    left join syndromic_groups
        on matched.syndrome_group = syndromic_groups.syndrome_group
    left join acts
        on matched.visit_occurrence_id = acts.visit_occurrence_id
    where
        syndromic_groups.max_age_years is null
        or acts.patient_age_years <= syndromic_groups.max_age_years

)

select * from within_age
order by week_start_date
