{#-
    The cells of disclosure_controlled_cells counting an association's acts (families
    `association_acts`, `association_emergency_referrals`, `association_hospitalisations`: association x
    day x hour band, and all bands), zeros included, counted per doctor then rolled up (each doctor's
    acts once in their hour band and once in all bands).
-#}
with

acts as (

    select * from {{ ref('int_cells_acts_in_scope') }}

),

grid_extent as (

    select * from {{ ref('int_surveillance_grid_by_week') }}

),

periods as (

    select * from {{ ref('int_cells_periods') }}
    where period_type = 'day'

),

associations as (

    select distinct association_id
    from grid_extent

),

hour_bands as (

    select bands.hour_band
    from (values ('day'), ('evening'), ('night'), ('weekend_holiday'), ('all')) as bands (hour_band)

),

provider_association_acts as (

    select
        association_id,
        act_date,
        hour_band,
        provider_id,
        count(*) as act_count,
        count(*) filter (where is_referred_to_emergency) as emergency_referral_count,
        count(*) filter (where is_hospitalised) as hospitalisation_count

    from acts
    group by all

),

{# Each doctor's acts counted once in their hour band and once in all bands. #}
provider_association_acts_by_cell as (

    select
        association_id,
        act_date,
        case when grouping(hour_band) = 1 then 'all' else hour_band end as hour_band,
        provider_id,
        sum(act_count) as act_count,
        sum(emergency_referral_count) as emergency_referral_count,
        sum(hospitalisation_count) as hospitalisation_count

    from provider_association_acts
    group by
        association_id,
        act_date,
        provider_id,
        rollup(hour_band)

),

association_acts_by_cell as (

    {{ surveillance_cells_counted(
        'provider_association_acts_by_cell',
        keys=['association_id', 'act_date', 'hour_band'],
        measures=['act_count', 'emergency_referral_count', 'hospitalisation_count'],
    ) }}

),

grid as (

    select
        families.family,
        null as syndrome_group,
        null as age_class,
        null as geo_level,
        null as geo_code,
        null as parent_geo_level,
        null as parent_geo_code,
        periods.period_type,
        periods.period_start,
        periods.iso_week,
        associations.association_id,
        hour_bands.hour_band

    from (
        values ('association_acts'), ('association_emergency_referrals'), ('association_hospitalisations')
    ) as families (family)
    cross join associations
    cross join periods
    cross join hour_bands

)

{{ surveillance_cells_from_grid(
    'grid', 'association_acts_by_cell',
    measures={
        'association_acts': 'act_count',
        'association_emergency_referrals': 'emergency_referral_count',
        'association_hospitalisations': 'hospitalisation_count',
    },
    join_on=[['association_id', 'association_id'], ['period_start', 'act_date'], ['hour_band', 'hour_band']],
) }}
