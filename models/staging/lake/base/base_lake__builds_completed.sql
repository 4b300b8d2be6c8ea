{#-
    One row per completed build: the stamp up to which the lake's changes are built everywhere, and the
    surveillance grid as that build left it. Written last: it depends on every incremental model below,
    so a build in which any of them (or a test on them) failed is skipped here; and a build of a
    selection that leaves one of them out (`--select visit_occurrence+`) adds no row
    (build_watermark_advances). Either way the watermark stays, and the next build redoes the work. Read
    by base_lake__changed_acts and int_surveillance_weeks_changed through last_completed_build() (by
    name: a ref would be a cycle). Its post-hook empties base_lake__removed_rows up to the stamp.
-#}
{{ config(
    materialized='incremental',
    schema='build_state',
    incremental_strategy='append',
    post_hook="{% if build_watermark_advances() %}delete from {{ ref('base_lake__removed_rows') }}
        where _removed_at <= {{ lake_load_stamp() }}{% endif %}",
) }}

-- depends_on: {{ ref('base_lake__removed_rows') }}
-- depends_on: {{ ref('stg_lake__acts') }}
-- depends_on: {{ ref('stg_lake__diagnoses') }}
-- depends_on: {{ ref('stg_lake__prescriptions') }}
-- depends_on: {{ ref('stg_lake__vital_signs') }}
-- depends_on: {{ ref('int_acts_typed_as_visits') }}
-- depends_on: {{ ref('int_diagnoses_mapped_to_standard') }}
-- depends_on: {{ ref('int_persons_derived_from_acts') }}
-- depends_on: {{ ref('visit_occurrence') }}
-- depends_on: {{ ref('condition_occurrence') }}
-- depends_on: {{ ref('drug_exposure') }}
-- depends_on: {{ ref('measurement') }}
-- depends_on: {{ ref('observation') }}
-- depends_on: {{ ref('person') }}
-- depends_on: {{ ref('observation_period') }}
-- depends_on: {{ ref('death') }}
-- depends_on: {{ ref('int_surveillance_acts_classified') }}
-- depends_on: {{ ref('int_surveillance_act_syndromes') }}
-- depends_on: {{ ref('int_surveillance_syndrome_counts_by_week') }}
-- depends_on: {{ ref('disclosure_controlled_cells') }}
-- depends_on: {{ ref('syndromic_indicators_by_day') }}
-- depends_on: {{ ref('syndromic_indicators_by_week') }}
-- depends_on: {{ ref('activity_by_association_day') }}
-- depends_on: {{ ref('care_pathway_by_syndrome_week') }}
-- depends_on: {{ ref('death_certificates_by_week') }}
{#- With no row to add, the grid may not exist yet (a selection of the CDM only). -#}
{%- set advances = build_watermark_advances() -%}
{%- set surveillance_grid = ref('int_surveillance_grid_by_week') if advances else
    "(select cast(null as date) as first_act_date, cast(null as date) as last_act_date, "
    ~ "cast(null as varchar) as department_code, cast(null as varchar) as region_code, "
    ~ "cast(null as varchar) as association_id) as no_grid" %}

with

grid as (

    select * from {{ surveillance_grid }}

),

final as (

    select
        {{ lake_load_stamp() }} as built_through,
        min(first_act_date) as first_act_date,
        max(last_act_date) as last_act_date,
        {{ surveillance_grid_fingerprints('grid') }}

    from grid

)

select * from final
where {{ 'true' if advances else 'false' }}
