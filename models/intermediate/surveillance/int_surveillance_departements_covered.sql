{#-
    Which départements the network covers, week by week, from where its patients live: a département is
    covered in an ISO week when, over the 52 weeks ending with it, its residents make at least var
    `coverage_min_share_of_association_acts` (default 5 %) of the acts of one of the associations. An
    association's own territory holds most of its patients; a département whose residents appear only as
    visitors (holidays, the edge of a territory) is far below. The rule is relative to the association's
    volume, so it does not depend on the network's size or the generator's scale. It looks back only:
    the coverage of a week, and so its incidence, does not change when later weeks are landed (an
    incremental build recomputes only the changed weeks; a late act that moved a département across
    the 5 % line would show in the later weeks at the next full refresh).
    Incidence is computed over the covered départements' population only
    (int_population_covered_by_area_and_age_class). Granularity is the département (INSEE's age
    structure is by département): an association serving one city of a large département counts the
    whole département, which understates incidence there.
    Reveals only that a département holds a large share of an association's acts (hundreds of acts a
    year), never a count between 1 and k-1. Acts of unknown residence (XX) are not a département.
-#}
with

acts as (

    select * from {{ ref('int_surveillance_acts_classified') }}

),

weekly as (

    select
        week_start_date,
        association_id,
        department_code,
        count(*) as resident_act_count

    from acts
    group by all

),

weeks as (

    select distinct week_start_date from weekly

),

pairs as (

    select distinct
        association_id,
        department_code

    from weekly

),

grid as (

    {#- Every week for every (association, département) pair, so that the 52-week sums exist each week. #}
    select
        weeks.week_start_date,
        pairs.association_id,
        pairs.department_code,
        coalesce(weekly.resident_act_count, 0) as resident_act_count

    from weeks
    cross join pairs
    left join weekly
        on
            weeks.week_start_date = weekly.week_start_date
            and pairs.association_id = weekly.association_id
            and pairs.department_code = weekly.department_code

),

rolling as (

    select
        week_start_date,
        association_id,
        department_code,
        sum(resident_act_count) over (
            partition by association_id, department_code
            order by week_start_date
            range between interval 357 day preceding and current row
        ) as resident_act_count

    from grid

),

with_association_totals as (

    select
        *,
        sum(resident_act_count) over (
            partition by week_start_date, association_id
        ) as association_act_count

    from rolling

),

final as (

    select
        week_start_date,
        department_code,
        true as is_covered

    from with_association_totals
    where
        department_code != 'XX'
        and association_act_count > 0
        and resident_act_count
        >= {{ var('coverage_min_share_of_association_acts', 0.05) }} * association_act_count
    group by all

)

select * from final
