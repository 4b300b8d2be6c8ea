{#-
    One row per act with the dimensions the surveillance marts count by: the marts' handle on
    int_surveillance_acts_classified (record-level, built incrementally in the intermediate schema; see
    it for the rules). Ephemeral on purpose: nothing record-level is materialised in the marts schema.
-#}
select
    visit_occurrence_id,
    provider_id,
    association_id,
    act_type,
    outcome,
    patient_age_years,
    act_date,
    week_start_date,
    iso_week,
    age_class,
    department_code,
    region_code,
    hour_band,
    arrival_delay_minutes,
    is_coded,
    is_referred_to_emergency,
    is_hospitalised

from {{ ref('int_surveillance_acts_classified') }}
