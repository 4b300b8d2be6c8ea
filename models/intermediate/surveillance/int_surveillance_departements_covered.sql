{#-
    Which départements the network covers, per calendar year, from where its patients live: a
    département is covered in a year when its residents make at least var
    `coverage_min_share_of_association_acts` (default 5 %) of the acts of one of the associations that
    year. An association's own territory holds most of its patients; a département whose residents
    appear only as visitors (holidays, the edge of a territory) is far below. The rule is relative to the
    association's volume, so it does not depend on the network's size or the generator's scale.
    Incidence is computed over the covered départements' population only
    (int_population_covered_by_area_and_age_class). Granularity is the département (INSEE's age
    structure is by département): an association serving one city of a large département counts the
    whole département, which understates incidence there.
    Reveals only that a département holds a large share of an association's yearly acts (hundreds of
    acts), never a count between 1 and k-1. Acts of unknown residence (XX) are not a département.
-#}
with

acts as (

    select * from {{ ref('int_surveillance_acts_classified') }}

),

resident_acts as (

    select
        year(act_date) as coverage_year,
        association_id,
        department_code,
        count(*) as resident_act_count

    from acts
    group by all

),

by_association as (

    select
        *,
        sum(resident_act_count) over (partition by coverage_year, association_id) as association_act_count

    from resident_acts

),

final as (

    select
        coverage_year,
        department_code,
        true as is_covered

    from by_association
    where
        department_code != 'XX'
        and resident_act_count >= {{ var('coverage_min_share_of_association_acts', 0.05) }} * association_act_count
    group by all

)

select * from final
