{#-
    The margins of disclosure_controlled_cells: every way its cells add up. Complementary suppression
    must know all of them, within a table and between marts, or a suppressed cell stays recoverable
    through the one it was not told about. The published marts' `disclosure_no_recoverable_cell` tests
    re-check the same margins from the exported columns.
      age         the age classes (including unknown) add up to all ages
      geography   départements add up to their région, régions to France ('XX': unknown)
      time        the days of an ISO week add up to the week
      hour_band   the four hour bands add up to all bands
      network     the associations' daily acts add up to France's daily acts, all ages
      union       iCanicule is the union of its three components (seeds/surveillance/
                  syndromic_group_codes.csv: its codes are exactly theirs), their sum when no act
                  carries two of them, which is how a reader reads it. IRA has codes of its own, so it
                  only bounds its components: ingest/disclosure/attack.py checks that relation.
-#}
{% macro epidemiology_cell_margins() %}
    {%- set all_dims = [
        'family', 'syndrome_group', 'age_class', 'geo_level', 'geo_code', 'period_type', 'period_start',
        'iso_week', 'association_id', 'hour_band'
    ] -%}
    {{ return([
        {
            'name': 'age',
            'group_by': all_dims | reject('in', ['age_class']) | list,
            'child_key': "'all'",
            'parent_key': 'age_class',
            'child_where': "age_class != 'all'",
            'parent_where': "age_class = 'all'",
        },
        {
            'name': 'geography',
            'group_by': all_dims | reject('in', ['geo_level', 'geo_code']) | list,
            'child_key': "parent_geo_level || ':' || parent_geo_code",
            'parent_key': "geo_level || ':' || geo_code",
            'child_where': 'parent_geo_level is not null',
            'parent_where': 'geo_level is not null',
        },
        {
            'name': 'time',
            'group_by': all_dims | reject('in', ['period_type', 'period_start']) | list,
            'child_key': "'week'",
            'parent_key': 'period_type',
            'child_where': "period_type = 'day'",
            'parent_where': "period_type = 'week'",
        },
        {
            'name': 'hour_band',
            'group_by': all_dims | reject('in', ['hour_band']) | list,
            'child_key': "'all'",
            'parent_key': 'hour_band',
            'child_where': "hour_band != 'all'",
            'parent_where': "hour_band = 'all'",
        },
        {
            'name': 'union',
            'group_by': all_dims | reject('in', ['syndrome_group']) | list,
            'child_key': "'icanicule'",
            'parent_key': 'syndrome_group',
            'child_where': "syndrome_group in ("
                ~ "'icanicule_hyperthermie', 'icanicule_deshydratation', 'icanicule_hyponatremie')",
            'parent_where': "syndrome_group = 'icanicule'",
        },
        {
            'name': 'network',
            'group_by': ['period_type', 'period_start'],
            'child_key': "'network'",
            'parent_key': "'network'",
            'child_where': "family = 'association_acts' and hour_band = 'all'",
            'parent_where': "family = 'acts' and geo_level = 'france' and age_class = 'all'",
        },
    ]) }}
{% endmacro %}


{#-
    A cell of disclosure_controlled_cells as a reader of the marts sees it (ingest/disclosure/attack.py,
    `cells_from_marts`): the count column its family is published as, the ISO week of a week, the date
    of a day; the association marts have no age class or geography.
-#}
{% macro epidemiology_attacker_cell() %}
    {{ return(disclosure_attacker_cell(
        count="case family"
            ~ " when 'acts' then 'act_count' when 'coded_acts' then 'coded_act_count'"
            ~ " when 'syndrome_acts' then 'syndrome_act_count'"
            ~ " when 'pathway_emergency_referrals' then 'emergency_referral_count'"
            ~ " when 'pathway_hospitalisations' then 'hospitalisation_count'"
            ~ " when 'death_certificates' then 'death_certificate_count'"
            ~ " when 'association_acts' then 'act_count'"
            ~ " when 'association_emergency_referrals' then 'emergency_referral_count'"
            ~ " when 'association_hospitalisations' then 'hospitalisation_count' end",
        syndrome_group='syndrome_group',
        age_class='age_class',
        geo_level='geo_level',
        geo_code='geo_code',
        parent_geo_code='parent_geo_code',
        period_type='period_type',
        period="case when period_type = 'week' then iso_week else cast(period_start as string) end",
        iso_week='iso_week',
        association_id='association_id',
        hour_band='hour_band',
    )) }}
{% endmacro %}
