{#-
    Shared by the family models of disclosure_controlled_cells (models/marts/epidemiology/intermediate/
    int_cells_*.sql). They are ephemeral: compiled into the cells table's query, which the
    materialisation (scoped_incremental) runs once per range of weeks; their inputs are read through
    in_scope, on the cells table's declaration (scope_owner).
-#}

{#-
    The cells of the acts' two families of counts (age class x geography x period), rolled up from rows
    per doctor at the finest grain (age class x département x day, région and ISO week riding along):
    one hash table per age level x geography level x period type, with only that level's columns.
    Written as rollups because sqlfluff cannot parse `grouping sets`: (région, département) stands for
    the département (one région each), (week, day) for the day (one week each); the week is a plain
    key, so no all-time level is made (Spark resolves no `grouping()` in HAVING of a column it does not
    select). `measures`: the summed columns.
-#}
{% macro surveillance_cell_rollup(relation, measures, keys=[]) -%}
    select
        {%- for key in keys %}
        {{ key }},
        {%- endfor %}
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
        case when grouping(act_date) = 0 then act_date else week_start_date end as period_start,
        provider_id,
        {%- for measure in measures %}
        sum({{ measure }}) as {{ measure }}{{ ',' if not loop.last }}
        {%- endfor %}

    from {{ relation }}
    group by
        {%- for key in keys %}
        {{ key }},
        {%- endfor %}
        provider_id,
        rollup (age_class),
        rollup (region_code, department_code),
        week_start_date,
        rollup (act_date)
{%- endmacro %}


{#-
    Where a count of acts by age class x geography x period is published (the grid of the acts,
    coded acts and syndrome families): every week; daily series only where they survive disclosure
    control, France by age class and régions all ages. A day's count by département, or by région
    and age class, is mostly below k, and every such cell hidden cascaded through the day -> week, age
    and geography margins into weekly and national cells (docs/epidemiology.md, information loss).
-#}
{% macro surveillance_cell_published(geo_level='geographies.geo_level', age_class='age_classes.age_class',
    period_type='periods.period_type') -%}
    (
        {{ period_type }} = 'week'
        or {{ geo_level }} = 'france'
        or ({{ geo_level }} = 'region' and {{ age_class }} = 'all')
    )
{%- endmacro %}


{#-
    Cells from rows per (cell, doctor): each measure summed, with its contributors (the doctors with a
    positive count: a row per doctor, so a count of rows, not a distinct count).
-#}
{% macro surveillance_cells_counted(relation, keys, measures) -%}
    select
        {%- for key in keys %}
        {{ key }},
        {%- endfor %}
        {%- for measure in measures %}
        sum({{ measure }}) as {{ measure }},
        count(*) filter (where {{ measure }} > 0) as {{ measure }}_contributors{{ ',' if not loop.last }}
        {%- endfor %}

    from {{ relation }}
    group by all
{%- endmacro %}


{#-
    One family model's cells: its grid (one row per published cell, zeros included) left-joined to its
    counted cells on the dimensions (null matching null), each cell's count and contributors read from
    the measure its family names (`measures`: family -> measure of surveillance_cells_counted).
-#}
{% macro surveillance_cells_from_grid(grid, counted, measures, join_on) -%}
    select
        grid.family,
        {%- for column in [
            'syndrome_group', 'age_class', 'geo_level', 'geo_code', 'parent_geo_level', 'parent_geo_code'
        ] %}
        cast(grid.{{ column }} as string) as {{ column }},
        {%- endfor %}
        grid.period_type,
        grid.period_start,
        grid.iso_week,
        cast(grid.association_id as string) as association_id,
        cast(grid.hour_band as string) as hour_band,
        {%- for column, suffix in [('cell_count', ''), ('contributor_count', '_contributors')] %}
        cast(coalesce(case grid.family
            {%- for family, measure in measures.items() %}
            when '{{ family }}' then {{ counted }}.{{ measure }}{{ suffix }}
            {%- endfor %}
        end, 0) as bigint) as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}

    from {{ grid }} as grid
    left join {{ counted }}
        on
            {%- for column in join_on %}
            {{ 'and ' if not loop.first }}grid.{{ column[0] }} is not distinct from {{ counted }}.{{ column[1] }}
            {%- endfor %}
{%- endmacro %}


{#- Whether the ISO week of `day` is in a surveillance period (`periods`: the relation holding its
    first_iso_week and last_iso_week), which wraps over the new year when first > last. -#}
{% macro in_surveillance_period(day, periods) -%}
    case
        when {{ periods }}.first_iso_week <= {{ periods }}.last_iso_week
            then weekofyear({{ day }}) between {{ periods }}.first_iso_week and {{ periods }}.last_iso_week
        else
            weekofyear({{ day }}) >= {{ periods }}.first_iso_week
            or weekofyear({{ day }}) <= {{ periods }}.last_iso_week
    end
{%- endmacro %}


{#- A mart's published counts, one column per family of cells (`families`: family -> count column),
    each with its suppression flag (is_<count column>_suppressed). -#}
{% macro cells_pivoted_by_family(families) -%}
    {%- for family, count_column in families.items() %}
        max(cell_count) filter (where family = '{{ family }}') as {{ count_column }},
    {%- endfor %}
    {%- for family, count_column in families.items() %}
        bool_or(is_suppressed) filter (where family = '{{ family }}')
            as is_{{ count_column }}_suppressed{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}


{#- The home-visit delays of a group of acts (`quantiles`: column -> quantile of
    arrival_delay_minutes), with what published_delay judges them by: how many, and by how many
    doctors. -#}
{% macro delay_statistics(quantiles) -%}
        count(arrival_delay_minutes) as delay_count,
        count(distinct provider_id) filter (where arrival_delay_minutes is not null) as delay_doctor_count,
    {%- for column, quantile in quantiles.items() %}
        percentile_cont({{ quantile }}) within group (order by arrival_delay_minutes) as {{ column }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}


{#- A delay statistic (of delay_statistics, in the CTE `delays`), published only when the count of its
    cell is (`published_count` not NULL) and it summarises at least k delays by at least
    `disclosure_min_contributors` doctors: a median of two delays, or of one doctor's visits, would
    describe individuals. -#}
{% macro published_delay(statistic, published_count) -%}
    case
        when
            {{ published_count }} is not null
            and delays.delay_count >= {{ var('disclosure_k', 11) }}
            and delays.delay_doctor_count >= {{ var('disclosure_min_contributors', 3) }}
            then round({{ statistic }})
    end
{%- endmacro %}


{#- A percentage of two published counts, NULL when either is suppressed or the denominator is 0. -#}
{% macro share_pct(numerator, denominator, digits=2) -%}
    round(cast(100 as double) * {{ numerator }} / nullif({{ denominator }}, 0), {{ digits }})
{%- endmacro %}
