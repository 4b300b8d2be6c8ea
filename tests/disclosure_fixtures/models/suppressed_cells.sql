{#-
    The complementary-suppression engine on raw_cells: several independent tables (`family`), each
    age class x area (France > régions > départements), with primary suppression of 1..k-1 here and
    the post-hook completing it over the age and geography margins, then the linear attacker's audit
    and repair (each table read as a syndromic group of one week, as tests/test_disclosure_attack.py
    reads it).
-#}
{{ config(post_hook="{{ disclosure_suppress_complementary(this, margins=fixture_margins(), attacker_cell=fixture_attacker_cell()) }}") }}
with

raw_cells as (

    select * from {{ ref('raw_cells') }}

),

primary_suppressed as (

    select
        cell_id,
        family,
        age_class,
        geo_level,
        geo_code,
        parent_geo_level,
        parent_geo_code,
        cell_count,
        contributor_count,
        cell_count between 1 and {{ var('disclosure_k') - 1 }} as is_suppressed,
        case when cell_count between 1 and {{ var('disclosure_k') - 1 }} then 'primary_cell_size' end
            as suppression_reason

    from raw_cells

)

select * from primary_suppressed
