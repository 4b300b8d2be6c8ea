{#-
    Every count the epidemiology marts publish, one row per cell, after disclosure control: the single
    place where cells are counted and suppressed, so that a cell shared by two marts (the weekly total
    of a day table, the network's daily total of the association table) is suppressed the same way in
    both, and complementary suppression sees every margin at once.
    Families of cells (`family`):
      acts, coded_acts, syndrome_acts         age class x geography x day and ISO week
      association_acts, association_emergency_referrals, association_hospitalisations
                                              association x day x hour band (and all bands)
      pathway_emergency_referrals, pathway_hospitalisations
                                              syndrome x région and France x ISO week
      death_certificates                      age class x région and France x ISO week
    The grid is dense (zero cells included) over the observed period, geographies and associations: a
    missing cell would be a known zero anyway, and zeros are needed to judge margins.
    Joins are left joins (with explicit filters) for the reason given in
    int_acts_classified_for_surveillance.
    Primary suppression: a count between 1 and k-1, or made of fewer than `disclosure_min_contributors`
    distinct doctors. Complementary suppression: the post-hook (macros/disclosure/suppression.sql),
    which also sets every suppressed count to NULL.
    Incremental by ISO week: every margin group lies within one ISO week (its days and the week), so a
    build deletes and recomputes only the weeks int_surveillance_weeks_changed lists, primary and
    complementary suppression included, and gets the cells a full build gets. The dense grid's areas,
    associations and first and last days come from every week (int_surveillance_grid_by_week).
    A year of weeks per statement: the weeks to recompute are cut into groups of at most var
    surveillance_weeks_per_statement (52) weeks; the materialisation (scoped_incremental) runs this
    query once per range, the current one in a chunk table (macros/incremental/week_chunks.sql).
    Counting ten years at once (a full refresh) spilled tens of GB; a year fits in memory. A daily build
    is one range. Same cells either way: no cell, and no margin group, crosses an ISO week.
-#}
{%- set dims = [
    'family', 'syndrome_group', 'age_class', 'geo_level', 'geo_code', 'period_type', 'period_start',
    'association_id', 'hour_band'
] -%}
{%- set k = var('disclosure_k', 11) -%}
{%- set min_contributors = var('disclosure_min_contributors', 3) -%}
{%- set key_parts = [] -%}
{%- for dim in dims -%}
    {%- do key_parts.append("coalesce(cast(" ~ dim ~ " as varchar), '~')") -%}
{%- endfor -%}
{%- set cell_key = "md5(concat_ws('|', " ~ (key_parts | join(', ')) ~ "))" -%}
{#-
    Daily series only where they survive disclosure control: France by age class, régions all ages. A
    day's count by département, or by région and age class, is mostly below k, and every such cell
    hidden cascaded through the day -> week, age and geography margins into weekly and national cells
    (docs/epidemiology.md, information loss). Weekly series keep every area and age class.
-#}
{%- set published_day_geography -%}
    (
        periods.period_type = 'week'
        or geographies.geo_level = 'france'
        or (geographies.geo_level = 'region' and age_classes.age_class = 'all')
    )
{%- endset -%}
{{ config(
    materialized='scoped_incremental',
    scope='week',
    scope_column='period_start',
    weeks_per_statement=var('surveillance_weeks_per_statement'),
    post_hook="{{ disclosure_suppress_complementary(this, margins=epidemiology_cell_margins(), scope_where=in_incremental_scope([\"cast(date_trunc('week', period_start) as date)\"], changed_week_starts()) ~ ' and ' ~ changed_period_bound('period_start', scope='weeks'), stats_relation=suppression_stats_relation(this), attacker_cell=epidemiology_attacker_cell(), attacker_group='iso_week') }}",
) }}
with

acts as (

    -- The record-level table itself, not the marts' ephemeral handle on it: the post-hook runs this
    -- query again per range of weeks, outside the compiled model where dbt's ephemeral CTEs live.
    select * from {{ ref('int_surveillance_acts_classified') }}
    where
        {{ in_incremental_scope(['week_start_date'], changed_week_starts()) }}
        and {{ changed_period_bound('week_start_date', scope='weeks') }}
        and {{ in_current_week_chunk(this, 'week_start_date') }}

),

grid_extent as (

    select * from {{ ref('int_surveillance_grid_by_week') }}

),

act_syndromes as (

    select * from {{ ref('int_surveillance_act_syndromes') }}
    where
        {{ in_incremental_scope(['week_start_date'], changed_week_starts()) }}
        and {{ changed_period_bound('week_start_date', scope='weeks') }}
        and {{ in_current_week_chunk(this, 'week_start_date') }}

),

syndromic_groups as (

    select * from {{ ref('syndromic_groups') }}

),

age_classes as (

    select * from {{ ref('age_classes') }}

),

hour_bands as (

    select bands.hour_band
    from (values ('day'), ('evening'), ('night'), ('weekend_holiday'), ('all')) as bands (hour_band)

),

days as (

    select cast(range as date) as period_start
    from
        range(
            (select min(first_act_date) from grid_extent),
            (select max(last_act_date) from grid_extent) + interval 1 day,
            interval 1 day
        )
    where
        {{ in_incremental_scope(["cast(date_trunc('week', range) as date)"], changed_week_starts()) }}
        and {{ in_current_week_chunk(this, "cast(date_trunc('week', range) as date)") }}

),

periods as (

    select
        'day' as period_type,
        period_start,
        strftime(period_start, '%G-W%V') as iso_week

    from days

    union all

    select distinct
        'week' as period_type,
        cast(date_trunc('week', period_start) as date) as period_start,
        strftime(period_start, '%G-W%V') as iso_week

    from days

),

associations as (

    select distinct association_id
    from grid_extent

),

geographies as (

    select distinct
        'departement' as geo_level,
        department_code as geo_code,
        'region' as parent_geo_level,
        region_code as parent_geo_code

    from grid_extent

    union all

    select distinct
        'region' as geo_level,
        region_code as geo_code,
        'france' as parent_geo_level,
        'FR' as parent_geo_code

    from grid_extent

    union all

    select
        'france' as geo_level,
        'FR' as geo_code,
        cast(null as varchar) as parent_geo_level,
        cast(null as varchar) as parent_geo_code

),

{#-
    Counting, in two stages. A cell's contributor_count is its number of distinct doctors, so the acts
    cannot simply be summed up the margins; fanning every act out 12 ways and grouping by the cell's
    strings with count(distinct provider_id) was the cost of the model (~123 M rows a year). Instead:
      1. the acts are counted per doctor at the finest grain any cell needs (doctor x age class x
         département x day; doctor x association x day x hour band); a few acts per row;
      2. those rows are rolled up to (cell, doctor) with ROLLUPs (grouping sets: one hash table per age
         level x geography level x period type, with only that level's columns, and no fanned-out copy
         of the rows): the week cells are rolled up from the doctor-day rows, not from the acts again.
         Written as rollups because sqlfluff cannot parse `grouping sets`: (région, département) stands
         for the département (one région each), (week, day) for the day (one week each), and the
         rollup's all-time level, which no cell has, is dropped by `having`;
      3. (cell, doctor) rows are rolled up to cells: the count is the sum, the contributors are the
         doctors with a positive count (a row per doctor, so a count of rows, not a distinct count).
    Only rows with a positive count reach `counted`, as before, so zero cells still come from the grid.
-#}
{%- set by_cell_dims -%}
        case when grouping(age_class) = 1 then 'all' else age_class end as age_class,
        case
            when grouping(department_code) = 0 then 'departement'
            when grouping(region_code) = 0 then 'region'
            else 'france'
        end as geo_level,
        case
            when grouping(department_code) = 0 then department_code
            when grouping(region_code) = 0 then region_code
            else 'FR'
        end as geo_code,
        case when grouping(act_date) = 0 then 'day' else 'week' end as period_type,
        case when grouping(act_date) = 0 then act_date else week_start_date end as period_start
{%- endset -%}
{%- set by_cell_grouping_sets -%}
        rollup (age_class),
        rollup (region_code, department_code),
        rollup (week_start_date, act_date)
{%- endset %}
{# Stage 1: acts per doctor at the finest grain (région and ISO week ride along: one per département, day). #}
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

provider_syndrome_acts as (

    select
        acts.provider_id,
        act_syndromes.syndrome_group,
        acts.age_class,
        acts.department_code,
        acts.region_code,
        acts.act_date,
        acts.week_start_date,
        count(*) as syndrome_act_count,
        count(*) filter (where acts.outcome = 'URG') as emergency_referral_count,
        count(*) filter (where acts.outcome = 'HOSP') as hospitalisation_count

    from acts
    left join act_syndromes
        on acts.visit_occurrence_id = act_syndromes.visit_occurrence_id
    where act_syndromes.syndrome_group is not null
    group by all

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

{#
    Stage 2: one row per (cell, doctor): age level (its class, all) x geography level (département,
    région, France) x period type (day, week), i.e. the 12 ways the acts used to be fanned out.
#}
provider_acts_by_cell as (

    select
        {{ by_cell_dims }},
        provider_id,
        sum(act_count) as act_count,
        sum(coded_act_count) as coded_act_count,
        sum(death_certificate_count) as death_certificate_count

    from provider_acts
    group by
        provider_id,
        {{ by_cell_grouping_sets }}
    having grouping(week_start_date) = 0

),

provider_syndrome_acts_by_cell as (

    select
        syndrome_group,
        {{ by_cell_dims }},
        provider_id,
        sum(syndrome_act_count) as syndrome_act_count,
        sum(emergency_referral_count) as emergency_referral_count,
        sum(hospitalisation_count) as hospitalisation_count

    from provider_syndrome_acts
    group by
        syndrome_group,
        provider_id,
        {{ by_cell_grouping_sets }}
    having grouping(week_start_date) = 0

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

{#
    Stage 3: cells. Every (cell, doctor) row has at least one act, but not necessarily a coded act, a
    death certificate or an outcome: a doctor contributes to those counts only when positive.
#}
acts_by_cell as (

    select
        age_class,
        geo_level,
        geo_code,
        period_type,
        period_start,
        cast(sum(act_count) as bigint) as act_count,
        count(*) as act_contributor_count,
        cast(sum(coded_act_count) as bigint) as coded_act_count,
        count(*) filter (where coded_act_count > 0) as coded_act_contributor_count,
        cast(sum(death_certificate_count) as bigint) as death_certificate_count,
        count(*) filter (where death_certificate_count > 0) as death_certificate_contributor_count

    from provider_acts_by_cell
    group by all

),

syndrome_acts_by_cell as (

    select
        syndrome_group,
        age_class,
        geo_level,
        geo_code,
        period_type,
        period_start,
        cast(sum(syndrome_act_count) as bigint) as syndrome_act_count,
        count(*) as syndrome_act_contributor_count,
        cast(sum(emergency_referral_count) as bigint) as emergency_referral_count,
        count(*) filter (where emergency_referral_count > 0) as emergency_referral_contributor_count,
        cast(sum(hospitalisation_count) as bigint) as hospitalisation_count,
        count(*) filter (where hospitalisation_count > 0) as hospitalisation_contributor_count

    from provider_syndrome_acts_by_cell
    group by all

),

association_acts_by_cell as (

    select
        association_id,
        act_date,
        hour_band,
        cast(sum(act_count) as bigint) as act_count,
        count(*) as act_contributor_count,
        cast(sum(emergency_referral_count) as bigint) as emergency_referral_count,
        count(*) filter (where emergency_referral_count > 0) as emergency_referral_contributor_count,
        cast(sum(hospitalisation_count) as bigint) as hospitalisation_count,
        count(*) filter (where hospitalisation_count > 0) as hospitalisation_contributor_count

    from provider_association_acts_by_cell
    group by all

),

{#
    One row per non-empty cell of each family. Joined to the grid on the dimensions (null matching null,
    as the md5 of the coalesced dimensions did), so no md5 is computed per counted cell.
#}
counted as (

    select
        'acts' as family,
        cast(null as varchar) as syndrome_group,
        age_class,
        geo_level,
        geo_code,
        period_type,
        period_start,
        cast(null as varchar) as association_id,
        cast(null as varchar) as hour_band,
        act_count as cell_count,
        act_contributor_count as contributor_count

    from acts_by_cell

    union all

    select
        'coded_acts' as family,
        null as syndrome_group,
        age_class,
        geo_level,
        geo_code,
        period_type,
        period_start,
        null as association_id,
        null as hour_band,
        coded_act_count as cell_count,
        coded_act_contributor_count as contributor_count

    from acts_by_cell
    where coded_act_count > 0

    union all

    select
        'death_certificates' as family,
        null as syndrome_group,
        age_class,
        geo_level,
        geo_code,
        period_type,
        period_start,
        null as association_id,
        null as hour_band,
        death_certificate_count as cell_count,
        death_certificate_contributor_count as contributor_count

    from acts_by_cell
    where
        death_certificate_count > 0
        and geo_level != 'departement'
        and period_type = 'week'

    union all

    select
        'syndrome_acts' as family,
        syndrome_group,
        age_class,
        geo_level,
        geo_code,
        period_type,
        period_start,
        null as association_id,
        null as hour_band,
        syndrome_act_count as cell_count,
        syndrome_act_contributor_count as contributor_count

    from syndrome_acts_by_cell

    union all

    select
        'pathway_emergency_referrals' as family,
        syndrome_group,
        age_class,
        geo_level,
        geo_code,
        period_type,
        period_start,
        null as association_id,
        null as hour_band,
        emergency_referral_count as cell_count,
        emergency_referral_contributor_count as contributor_count

    from syndrome_acts_by_cell
    where
        emergency_referral_count > 0
        and age_class = 'all'
        and geo_level != 'departement'
        and period_type = 'week'

    union all

    select
        'pathway_hospitalisations' as family,
        syndrome_group,
        age_class,
        geo_level,
        geo_code,
        period_type,
        period_start,
        null as association_id,
        null as hour_band,
        hospitalisation_count as cell_count,
        hospitalisation_contributor_count as contributor_count

    from syndrome_acts_by_cell
    where
        hospitalisation_count > 0
        and age_class = 'all'
        and geo_level != 'departement'
        and period_type = 'week'

    union all

    select
        'association_acts' as family,
        null as syndrome_group,
        null as age_class,
        null as geo_level,
        null as geo_code,
        'day' as period_type,
        act_date as period_start,
        association_id,
        hour_band,
        act_count as cell_count,
        act_contributor_count as contributor_count

    from association_acts_by_cell

    union all

    select
        'association_emergency_referrals' as family,
        null as syndrome_group,
        null as age_class,
        null as geo_level,
        null as geo_code,
        'day' as period_type,
        act_date as period_start,
        association_id,
        hour_band,
        emergency_referral_count as cell_count,
        emergency_referral_contributor_count as contributor_count

    from association_acts_by_cell
    where emergency_referral_count > 0

    union all

    select
        'association_hospitalisations' as family,
        null as syndrome_group,
        null as age_class,
        null as geo_level,
        null as geo_code,
        'day' as period_type,
        act_date as period_start,
        association_id,
        hour_band,
        hospitalisation_count as cell_count,
        hospitalisation_contributor_count as contributor_count

    from association_acts_by_cell
    where hospitalisation_count > 0

),

grid as (

    {#- acts and coded acts: age class x geography x period -#}
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

    from (values ('acts'), ('coded_acts')) as families (family)
    cross join age_classes
    cross join geographies
    cross join periods
    where {{ published_day_geography }}

    union all

    select
        'syndrome_acts' as family,
        syndromic_groups.syndrome_group,
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

    from syndromic_groups
    cross join age_classes
    cross join geographies
    cross join periods
    where {{ published_day_geography }}

    union all

    select
        families.family,
        syndromic_groups.syndrome_group,
        'all' as age_class,
        geographies.geo_level,
        geographies.geo_code,
        geographies.parent_geo_level,
        geographies.parent_geo_code,
        periods.period_type,
        periods.period_start,
        periods.iso_week,
        null as association_id,
        null as hour_band

    from (values ('pathway_emergency_referrals'), ('pathway_hospitalisations')) as families (family)
    cross join syndromic_groups
    cross join geographies
    cross join periods
    where
        geographies.geo_level != 'departement'
        and periods.period_type = 'week'

    union all

    select
        'death_certificates' as family,
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

    from age_classes
    cross join geographies
    cross join periods
    where
        geographies.geo_level != 'departement'
        and periods.period_type = 'week'

    union all

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
    where periods.period_type = 'day'

),

cells as (

    select
        {{ cell_key }} as cell_id,
        family,
        syndrome_group,
        age_class,
        geo_level,
        geo_code,
        parent_geo_level,
        parent_geo_code,
        period_type,
        period_start,
        iso_week,
        association_id,
        hour_band

    from grid

),

primary_suppressed as (

    select
        cells.*,
        coalesce(counted.cell_count, 0) as cell_count,
        coalesce(counted.contributor_count, 0) as contributor_count,
        coalesce(
            counted.cell_count between 1 and {{ k - 1 }}
            or (counted.cell_count > 0 and counted.contributor_count < {{ min_contributors }}),
            false
        ) as is_suppressed,
        case
            when counted.cell_count between 1 and {{ k - 1 }} then 'primary_cell_size'
            when counted.cell_count > 0 and counted.contributor_count < {{ min_contributors }}
                then 'primary_contributors'
        end as suppression_reason

    from cells
    left join counted
        on
            cells.family is not distinct from counted.family
            and cells.syndrome_group is not distinct from counted.syndrome_group
            and cells.age_class is not distinct from counted.age_class
            and cells.geo_level is not distinct from counted.geo_level
            and cells.geo_code is not distinct from counted.geo_code
            and cells.period_type is not distinct from counted.period_type
            and cells.period_start is not distinct from counted.period_start
            and cells.association_id is not distinct from counted.association_id
            and cells.hour_band is not distinct from counted.hour_band

)

select * from primary_suppressed
