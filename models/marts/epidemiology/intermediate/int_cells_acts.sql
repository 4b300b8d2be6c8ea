{#-
    The cells of disclosure_controlled_cells counting acts (families `acts`, `coded_acts`: age class x
    geography x period, where published; `death_certificates`: age class x région and France x ISO
    week), zeros included, with their contributors (distinct doctors).
    Counting in two stages: a cell's contributor_count is its number of distinct doctors, so the acts
    cannot simply be summed up the margins. The acts are counted per doctor at the finest grain
    (doctor x age class x département x day), rolled up to (cell, doctor) (surveillance_cell_rollup),
    then to cells: the count is the sum, the contributors the doctors with a positive count (a row per
    doctor: a count of rows, not a distinct count).
-#}
with

acts as (

    -- The record-level table itself, not the marts' ephemeral handle on it: the materialisation runs
    -- this query once per range of weeks.
    select * from {{ ref('int_surveillance_acts_classified') }}
    where {{ surveillance_cells_in_scope('week_start_date') }}

),

age_classes as (

    select * from {{ ref('age_classes') }}

),

geographies as (

    select * from {{ ref('int_cells_geographies') }}

),

periods as (

    select * from {{ ref('int_cells_periods') }}

),

provider_acts as (

    select
        provider_id,
        age_class,
        department_code,
        region_code,
        act_date,
        week_start_date,
        count(*) as act_count,
        count(*) filter (where is_coded) as coded_act_count,
        count(*) filter (where outcome = 'DC') as death_certificate_count

    from acts
    group by all

),

provider_acts_by_cell as (

    {{ surveillance_cell_rollup('provider_acts', ['act_count', 'coded_act_count', 'death_certificate_count']) }}

),

acts_by_cell as (

    select
        age_class,
        geo_level,
        geo_code,
        period_type,
        period_start,
        sum(act_count) as act_count,
        count(*) as act_contributor_count,
        sum(coded_act_count) as coded_act_count,
        count(*) filter (where coded_act_count > 0) as coded_act_contributor_count,
        sum(death_certificate_count) as death_certificate_count,
        count(*) filter (where death_certificate_count > 0) as death_certificate_contributor_count

    from provider_acts_by_cell
    group by all

),

grid as (

    select
        families.family,
        null as syndrome_group,
        age_classes.age_class,
        geographies.geo_level,
        geographies.geo_code,
        geographies.parent_geo_level,
        geographies.parent_geo_code,
        periods.period_type,
        periods.period_start,
        periods.iso_week,
        null as association_id,
        null as hour_band

    from (values ('acts'), ('coded_acts'), ('death_certificates')) as families (family)
    cross join age_classes
    cross join geographies
    cross join periods
    where
        case
            when families.family = 'death_certificates'
                then geographies.geo_level != 'departement' and periods.period_type = 'week'
            else {{ surveillance_cell_published() }}
        end

)

{{ surveillance_cells_from_grid(
    'grid', 'acts_by_cell',
    counts={
        'acts': ['act_count', 'act_contributor_count'],
        'coded_acts': ['coded_act_count', 'coded_act_contributor_count'],
        'death_certificates': ['death_certificate_count', 'death_certificate_contributor_count'],
    },
    join_on=[
        ['age_class', 'age_class'], ['geo_level', 'geo_level'], ['geo_code', 'geo_code'],
        ['period_type', 'period_type'], ['period_start', 'period_start'],
    ],
) }}
