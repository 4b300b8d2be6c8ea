{#-
    The cells of disclosure_controlled_cells counting acts (families `acts`, `coded_acts`: age class x
    geography x period, where published; `death_certificates`: age class x région and France x ISO
    week), zeros included, with their contributors (distinct doctors).
    Counting in two stages: a cell's contributor_count is its number of distinct doctors, so the acts
    cannot simply be summed up the margins. The acts are counted per doctor at the finest grain
    (doctor x age class x département x day), rolled up to (cell, doctor) (surveillance_cell_rollup),
    then to cells (surveillance_cells_counted).
-#}
with

acts as (

    select * from {{ ref('int_cells_acts_in_scope') }}

),

cell_grid as (

    select * from {{ ref('int_cells_grid') }}

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

    {{ surveillance_cell_rollup(
        'provider_acts', ['act_count', 'coded_act_count', 'death_certificate_count'],
    ) }}

),

acts_by_cell as (

    {{ surveillance_cells_counted(
        'provider_acts_by_cell',
        keys=['age_class', 'geo_level', 'geo_code', 'period_type', 'period_start'],
        measures=['act_count', 'coded_act_count', 'death_certificate_count'],
    ) }}

),

grid as (

    select
        families.family,
        null as syndrome_group,
        cell_grid.*,
        null as association_id,
        null as hour_band

    from (values ('acts'), ('coded_acts'), ('death_certificates')) as families (family)
    cross join cell_grid
    where
        families.family != 'death_certificates'
        or (cell_grid.geo_level != 'departement' and cell_grid.period_type = 'week')

)

{{ surveillance_cells_from_grid(
    'grid', 'acts_by_cell',
    measures={
        'acts': 'act_count', 'coded_acts': 'coded_act_count', 'death_certificates': 'death_certificate_count',
    },
    join_on=[
        ['age_class', 'age_class'], ['geo_level', 'geo_level'], ['geo_code', 'geo_code'],
        ['period_type', 'period_type'], ['period_start', 'period_start'],
    ],
) }}
