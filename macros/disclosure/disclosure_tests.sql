{#-
    Generic tests of statistical disclosure control. Each returns the offending rows (or one row per
    offending column), so a leak fails the build. They read the published relation only: what they
    check is what a reader of the export could exploit.
-#}


{#-
    Minimum cell size (primary suppression): no count between 1 and k-1 (k = var `disclosure_k`,
    default 11, the French norm for health data), no negative count; each count's suppression flag says
    exactly whether the count is NULL; no rate or statistic is published when a count it is built on
    is suppressed (a rate times a public denominator gives the count back).
      count_columns      counts to check
      suppression_flags  {count column: its boolean flag column}
      dependent_columns  {derived column: [count columns it is computed from]}
    Without count_columns, all three come from the columns' declared disclosure roles
    (macros/disclosure/disclosure_roles.sql), the declaration the export checks too.
-#}
{% test disclosure_min_cell_size(model, count_columns=none, suppression_flags=none, dependent_columns=none, k=none) %}
{%- set k = k if k is not none else var('disclosure_k', 11) -%}
{%- if count_columns is none and execute -%}
    {%- set declared = disclosure_checks_from_roles(disclosure_tested_node(model)) -%}
    {%- set count_columns = declared.count_columns -%}
    {%- set suppression_flags = declared.suppression_flags -%}
    {%- set dependent_columns = declared.dependent_columns -%}
{%- endif -%}
{%- set count_columns = count_columns or [] -%}
{%- set checks = [] -%}
{%- for column in count_columns -%}
    {%- do checks.append(
        "select '" ~ column ~ "' as column_name, 'count between 1 and " ~ (k - 1) ~ "' as violation, "
        ~ "count(*) as row_count from checked where " ~ column ~ " between 1 and " ~ (k - 1)
    ) -%}
    {%- do checks.append(
        "select '" ~ column ~ "' as column_name, 'negative count' as violation, "
        ~ "count(*) as row_count from checked where " ~ column ~ " < 0"
    ) -%}
{%- endfor -%}
{%- for column, flag in (suppression_flags or {}).items() -%}
    {%- do checks.append(
        "select '" ~ flag ~ "' as column_name, 'flag disagrees with a NULL count' as violation, "
        ~ "count(*) as row_count from checked where (" ~ column ~ " is null) != coalesce(" ~ flag ~ ", false)"
    ) -%}
{%- endfor -%}
{%- for column, sources in (dependent_columns or {}).items() -%}
    {%- do checks.append(
        "select '" ~ column ~ "' as column_name, 'published although built on a suppressed count' as violation, "
        ~ "count(*) as row_count from checked where " ~ column ~ " is not null and ("
        ~ (sources | join(' is null or ')) ~ " is null)"
    ) -%}
{%- endfor -%}
{%- if not checks -%}
    {%- do checks.append("select null as column_name, null as violation, 0 as row_count") -%}
{%- endif %}
with

checked as (

    select * from {{ model }}

),

violations as (

    {{ checks | join('\n    union all\n    ') }}

)

select *
from violations
where row_count > 0
{% endtest %}


{#-
    No recoverable suppressed cell (complementary suppression), across one margin of a table or
    between two tables published at different granularity. A margin group is a parent cell (a total)
    and the child cells that add up to it, all other dimensions (`group_by`) being equal. If exactly one
    cell of a group is suppressed (NULL), parent minus the published children gives it back: that group
    is returned. A missing child row counts as a published zero (the reader can assume so).
      count_columns  counts checked, each on its own (same names in both relations)
      group_by       columns fixed within a group (present in both relations)
      child_key      SQL on a child row naming its parent (e.g. `'all'`, `iso_week`,
                     `'region:' || parent_geo_code`)
      parent_key     SQL on a parent row giving the name children use (e.g. `age_class`,
                     `geo_level || ':' || geo_code`)
      child_where, parent_where   which rows are children and parents
      parent_model   relation holding the parents (default: the tested model itself)
    Limits: a cell pinned by combining several margins at once (a system of equations) is not detected;
    see docs/epidemiology.md.
-#}
{% test disclosure_no_recoverable_cell(
    model, count_columns, child_key, parent_key, group_by=[], child_where='true', parent_where='true',
    parent_model=none
) %}
{%- set parents = parent_model if parent_model is not none else model -%}
{%- set keys = group_by + ['margin_key'] -%}
with

{% for column in count_columns -%}
members_{{ loop.index }} as (

    select
        {% for name in group_by %}{{ name }}, {% endfor %}
        cast({{ child_key }} as varchar) as margin_key,
        false as is_parent,
        {{ column }} is null as is_suppressed

    from {{ model }}
    where {{ child_where }}

    union all

    select distinct
        {% for name in group_by %}{{ name }}, {% endfor %}
        cast({{ parent_key }} as varchar) as margin_key,
        true as is_parent,
        {{ column }} is null as is_suppressed

    from {{ parents }}
    where {{ parent_where }}

),

exposed_{{ loop.index }} as (

    select
        '{{ column }}' as count_column,
        {{ keys | join(', ') }},
        count(*) filter (where not is_parent) as child_cells

    from members_{{ loop.index }}
    group by {{ keys | join(', ') }}
    having
        count(*) filter (where is_parent) >= 1
        and count(*) filter (where not is_parent) >= 1
        and count(*) filter (where is_suppressed) = 1

),

{% endfor -%}
exposed as (

    {% for column in count_columns -%}
    select * from exposed_{{ loop.index }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from exposed
{% endtest %}


{#-
    k-anonymity of a record-level output: every combination of the quasi-identifiers (age, sex,
    commune, date, ...) is shared by at least k rows, so no row can be singled out by what an
    attacker may know about a person.
-#}
{% test disclosure_k_anonymity(model, quasi_identifiers, k=none) %}
{%- set k = k if k is not none else var('disclosure_k', 11) -%}
select
    {{ quasi_identifiers | join(', ') }},
    count(*) as row_count

from {{ model }}
group by {{ quasi_identifiers | join(', ') }}
having count(*) < {{ k }}
{% endtest %}


{#-
    Contributor threshold (doctors and associations protected): no published count made of fewer than
    `min_contributors` distinct doctors (var `disclosure_min_contributors`, default 3, the threshold
    rule of business statistics), so no figure describes one or two doctors' activity.
-#}
{% test disclosure_min_contributors(model, count_column, contributor_column, min_contributors=none) %}
{%- set minimum = min_contributors if min_contributors is not none else var('disclosure_min_contributors', 3) -%}
select *
from {{ model }}
where
    {{ count_column }} > 0
    and coalesce({{ contributor_column }}, 0) < {{ minimum }}
{% endtest %}
