{#-
    One row per association and per site (dispatch base or walk-in centre). The CDM has no care-site
    hierarchy: care_site_source_value says which is which ('association:<id>' or 'site:<code>').
    Ephemeral: compiled into care_site.
-#}
with

care_sites as (

    select * from {{ ref('stg_lake__care_sites') }}

),

acts_by_week as (

    select * from {{ ref('int_act_sites_and_doctors_by_week') }}

),

visit_concepts as (

    select * from {{ ref('omop_visit_concepts') }}

),

associations as (

    select association_id from acts_by_week
    union
    select association_id from care_sites

),

sites_in_acts as (

    select distinct
        association_id,
        care_site_id

    from acts_by_week

),

all_sites as (

    {#- A site named by acts but absent from every snapshot still gets a row: visits point to it. -#}
    select
        coalesce(care_sites.care_site_id, sites_in_acts.care_site_id) as care_site_id,
        care_sites.care_site_name,
        care_sites.care_site_type,
        care_sites.commune_code

    from care_sites
    full outer join sites_in_acts
        on care_sites.care_site_id = sites_in_acts.care_site_id
    qualify row_number() over (
        partition by coalesce(care_sites.care_site_id, sites_in_acts.care_site_id)
        order by care_sites.care_site_name nulls last
    ) = 1

),

site_rows as (

    select
        {{ stable_id('care_site', ['all_sites.care_site_id']) }} as care_site_id,
        all_sites.care_site_name,
        -- A centre is where outpatient visits happen; a dispatch base is not a place of care.
        case when all_sites.care_site_type = 'CENTRE' then visit_concepts.visit_concept_id end
            as place_of_service_concept_id,
        case
            when all_sites.commune_code is not null
                then {{ stable_id('location', ["'commune'", 'all_sites.commune_code']) }}
        end as location_id,
        'site:' || all_sites.care_site_id as care_site_source_value,
        all_sites.care_site_type as place_of_service_source_value

    from all_sites
    left join visit_concepts
        on visit_concepts.act_type = 'CONS'

),

association_rows as (

    select
        {{ stable_id('association', ['association_id']) }} as care_site_id,
        'Association ' || association_id as care_site_name,
        cast(null as integer) as place_of_service_concept_id,
        cast(null as bigint) as location_id,
        'association:' || association_id as care_site_source_value,
        'ASSOCIATION' as place_of_service_source_value

    from associations

),

final as (

    select * from association_rows
    union all
    select * from site_rows

)

select * from final
