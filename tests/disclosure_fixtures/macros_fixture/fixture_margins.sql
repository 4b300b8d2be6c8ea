{% macro fixture_margins() %}
    {{ return([
        {
            'name': 'age', 'group_by': ['family', 'geo_level', 'geo_code'],
            'child_key': "'all'", 'parent_key': 'age_class',
            'child_where': "age_class != 'all'", 'parent_where': "age_class = 'all'",
        },
        {
            'name': 'geography', 'group_by': ['family', 'age_class'],
            'child_key': "parent_geo_level || ':' || parent_geo_code",
            'parent_key': "geo_level || ':' || geo_code",
            'child_where': 'parent_geo_level is not null', 'parent_where': 'true',
        },
    ]) }}
{% endmacro %}


{% macro fixture_attacker_cell() %}
    {{ return(disclosure_attacker_cell(
        count="'syndrome_act_count'", syndrome_group='family', age_class='age_class', geo_level='geo_level',
        geo_code='geo_code', parent_geo_code='parent_geo_code', period_type="'week'", period="'2024-W01'",
        iso_week="'2024-W01'",
    )) }}
{% endmacro %}
