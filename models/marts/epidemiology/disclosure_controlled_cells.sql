{#-
    Every count the epidemiology marts publish, one row per cell, after disclosure control: the single
    place where cells are suppressed, so that a cell shared by two marts (the weekly total of a day
    table, the network's daily total of the association table) is suppressed the same way in both, and
    complementary suppression sees every margin at once.
    The cells of each family are counted in their own model (models/marts/epidemiology/intermediate/,
    ephemeral, compiled into this query):
      int_cells_acts          acts, coded_acts (age class x geography x day and ISO week, where
                              published), death_certificates (age class x région and France x ISO week)
      int_cells_syndromes     syndrome_acts (syndrome x age class x geography x day and ISO week, where
                              published), pathway_emergency_referrals, pathway_hospitalisations
                              (syndrome x région and France x ISO week)
      int_cells_associations  association_acts, association_emergency_referrals,
                              association_hospitalisations (association x day x hour band, and all bands)
    The grid is dense (zero cells included) over the observed period, geographies and associations: a
    missing cell would be a known zero anyway, and zeros are needed to judge margins.
    Primary suppression: a count between 1 and k-1, or made of fewer than `disclosure_min_contributors`
    distinct doctors. Complementary suppression: the post-hook (macros/disclosure/suppression.sql),
    which also sets every suppressed count to NULL.
    Incremental by ISO week: every margin group lies within one ISO week (its days and the week), so a
    build deletes and recomputes only the weeks int_surveillance_weeks_changed lists, primary and
    complementary suppression included, and gets the cells a full build gets. The dense grid's areas,
    associations and first and last days come from every week (int_surveillance_grid_by_week).
    A year of weeks per statement: the weeks to recompute are cut into groups of at most var
    surveillance_weeks_per_statement (52) weeks; the materialisation (scoped_incremental) runs this
    query once per range, the current one in a chunk table (macros/incremental/week_chunks.sql; the
    family models' in_scope reads it, as this model's declaration says). A daily build is one range.
    Same cells either way: no cell, and no margin group, crosses an ISO week.
-#}
{%- set dims = [
    'family', 'syndrome_group', 'age_class', 'geo_level', 'geo_code', 'period_type', 'period_start',
    'association_id', 'hour_band'
] -%}
{%- set k = var('disclosure_k', 11) -%}
{%- set min_contributors = var('disclosure_min_contributors', 3) -%}
{%- set key_parts = [] -%}
{%- for dim in dims -%}
    {%- do key_parts.append("coalesce(cast(" ~ dim ~ " as string), '~')") -%}
{%- endfor -%}
{%- set cell_key = "md5(concat_ws('|', " ~ (key_parts | join(', ')) ~ "))" -%}
{{ config(
    materialized='scoped_incremental',
    scope='week',
    scope_column='period_start',
    weeks_per_statement=var('surveillance_weeks_per_statement'),
    post_hook="{{ disclosure_suppress_complementary(this, margins=epidemiology_cell_margins(), scope_where=in_own_scope(), stats_relation=suppression_stats_relation(this), attacker_cell=epidemiology_attacker_cell(), attacker_group='iso_week') }}",
) }}

with

cells as (

    select * from {{ ref('int_cells_acts') }}

    union all

    select * from {{ ref('int_cells_syndromes') }}

    union all

    select * from {{ ref('int_cells_associations') }}

)

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
    hour_band,
    cell_count,
    contributor_count,
    cell_count between 1 and {{ k - 1 }}
    or (cell_count > 0 and contributor_count < {{ min_contributors }}) as is_suppressed,
    case
        when cell_count between 1 and {{ k - 1 }} then 'primary_cell_size'
        when cell_count > 0 and contributor_count < {{ min_contributors }} then 'primary_contributors'
    end as suppression_reason

from cells
