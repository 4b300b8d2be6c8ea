{#-
    The cells of disclosure_controlled_cells counting acts (families `acts`, `coded_acts`: age class x
    geography x period, where published; `death_certificates`: age class x région and France x ISO
    week), zeros included, with their contributors (distinct doctors).
    Counting in two stages: a cell's contributor_count is its number of distinct doctors, so the acts
    cannot simply be summed up the margins. The acts are counted per doctor at the finest grain
    (doctor x age class x département x day), rolled up to (cell, doctor) (surveillance_cell_rollup),
    then to cells (surveillance_cells_counted). Death certificates are counted in the age classes of
    var('death_certificates_age_class_scheme') (seeds/surveillance/age_class_schemes.csv; under 75 and
    75+ by default): a child's death certificate is rare, and a class of 1 to k-1 beside the all-ages
    total hid France's 15-74 count every week to protect it.
-#}
with

acts as (

    select * from {{ ref('int_cells_acts_in_scope') }}

),

cell_grid as (

    select * from {{ ref('int_cells_grid') }}

),

death_age_classes as (

    select * from {{ ref('age_class_schemes') }}
    where age_class_scheme = '{{ var("death_certificates_age_class_scheme", "under_75_merged") }}'

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
        count(*) filter (where is_coded) as coded_act_count

    from acts
    group by all

),

provider_deaths as (

    select
        acts.provider_id,
        death_age_classes.published_age_class as age_class,
        acts.department_code,
        acts.region_code,
        acts.act_date,
        acts.week_start_date,
        count(*) as death_certificate_count

    from acts
    inner join death_age_classes
        on acts.age_class = death_age_classes.age_class
    where acts.outcome = 'DC'
    group by all

),

provider_acts_by_cell as (

    {{ surveillance_cell_rollup('provider_acts', ['act_count', 'coded_act_count']) }}

),

provider_deaths_by_cell as (

    {{ surveillance_cell_rollup('provider_deaths', ['death_certificate_count']) }}

),

acts_by_cell as (

    {{ surveillance_cells_counted(
        'provider_acts_by_cell',
        keys=['age_class', 'geo_level', 'geo_code', 'period_type', 'period_start'],
        measures=['act_count', 'coded_act_count'],
    ) }}

),

deaths_by_cell as (

    {{ surveillance_cells_counted(
        'provider_deaths_by_cell',
        keys=['age_class', 'geo_level', 'geo_code', 'period_type', 'period_start'],
        measures=['death_certificate_count'],
    ) }}

),

acts_grid as (

    select
        families.family,
        null as syndrome_group,
        cell_grid.*,
        null as association_id,
        null as hour_band

    from (values ('acts'), ('coded_acts')) as families (family)
    cross join cell_grid
    where cell_grid.age_class_scheme = 'detailed'

),

deaths_grid as (

    select
        'death_certificates' as family,
        null as syndrome_group,
        cell_grid.*,
        null as association_id,
        null as hour_band

    from cell_grid
    where
        cell_grid.age_class_scheme = '{{ var("death_certificates_age_class_scheme", "under_75_merged") }}'
        and cell_grid.geo_level != 'departement'
        and cell_grid.period_type = 'week'

),

{%- set cell_keys = [
    ['age_class', 'age_class'], ['geo_level', 'geo_level'], ['geo_code', 'geo_code'],
    ['period_type', 'period_type'], ['period_start', 'period_start'],
] %}

acts_cells as (

    {{ surveillance_cells_from_grid(
        'acts_grid', 'acts_by_cell',
        measures={'acts': 'act_count', 'coded_acts': 'coded_act_count'},
        join_on=cell_keys,
    ) }}

),

death_cells as (

    {{ surveillance_cells_from_grid(
        'deaths_grid', 'deaths_by_cell',
        measures={'death_certificates': 'death_certificate_count'},
        join_on=cell_keys,
    ) }}

)

select * from acts_cells
union all
select * from death_cells
