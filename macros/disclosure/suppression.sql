{#-
    Complementary suppression, run as a post-hook of a table of cells that already carries primary
    suppression (`is_suppressed`). Algorithm (documented in docs/epidemiology.md):
      1. every margin in `margins` cuts the cells into groups: a parent (a total) and the children that
         add up to it, all other dimensions equal (the same definitions as the
         `disclosure_no_recoverable_cell` test);
      2. a group with exactly one suppressed cell would give it back by subtraction, and a group whose
         suppressed cells add up to less than k pins each of them (two hidden cells summing to 6 are
         each in 0..6, i.e. 1..6 to a reader who sees zeros published): in each group with one
         suppressed cell, or whose suppressed children add up to less than k under a published total
         (the protection rule of ingest/disclosure/attack.py; under a hidden total a group does not
         tell their sum), the smallest non-zero published cell is suppressed too (a zero
         only against subtraction, when nothing else is left: zeros are often known to be structural,
         a weak cover, and add nothing to a hidden sum);
         a group with every cell hidden and still adding up to less than k gets, once, the smallest
         non-zero published cell of a group sharing one of its cells;
      3. a new suppression can expose another group, in another margin or another table of cells:
         repeat until no group is exposed (a fixed point; suppressions only grow, so it ends).
         Semi-naive passes: a group's suppressed count only grows, so a group can only become exposed
         when one of its cells has just been suppressed, and every exposed group gets a pick (one of
         its own cells). The first pass looks at every group; each later pass only at the groups
         holding a cell picked by the pass before. Same picks as re-reading every group on every pass
         (the full build's passes went from ~10 s each to under 1 s after the first at one national year).
    Left joins only: the lakehouse's DuckDB runs without filter pushdown (ingest/build/dbt_plugin.py), and
    inner joins can then be planned as cross products.
    Finally every suppressed count (and contributor count) is set to NULL: the table never keeps a
    suppressed value after the build.
      relation         the cells table ({{ this }})
      margins          list of {name, group_by, child_key, parent_key, child_where, parent_where}
      count_column     the count of a cell
      id_column        unique id of a cell
      max_passes       a safety net: fail rather than publish if no fixed point is reached
      scope_where      SQL restricting the cells considered (an incremental build's recomputed ISO
                       weeks); correct only when no margin group crosses it (each group lies in the
                       scope or outside it), so the cells outside are left exactly as they were
      protection_k     the threshold k of the protection interval
      stats_relation   optional table of the information loss (cells and counts suppressed) per ISO
                       week, family, geography level, period type and age level, written before the
                       counts are nulled; read by the export's report (ingest/disclosure/attack.py)
      attacker_cell    SQL of the struct ingest/disclosure/repair.py reads for a cell (how a reader
                       of the marts sees it: count, dimensions, published value or NULL when hidden)
      attacker_group   SQL of the unit no relation crosses (the ISO week)
    After the fixed point, the audit and repair: the groups above do not see chains of margins, so
    the linear attacker itself (the `disclosure_audit_repair` function that ingest/disclosure/repair.py
    registers on dbt's connection; on Spark a script transform, suppression_statements.sql) solves
    each unit's published relations and hides the cheapest complementary cells until no hidden cell is
    pinned; then its give-back pass publishes again, most valuable first, each complementary cell the
    attacker does not need hidden (greedy picks only ever add cells). Without `attacker_cell` the macro
    refuses to run: no table of cells is published uncertified.
-#}
{% macro disclosure_suppress_complementary(
    relation, margins, count_column='cell_count', id_column='cell_id', max_passes=200, scope_where='true',
    stats_relation=none, protection_k=var('disclosure_k', 11), attacker_cell=none, attacker_group="'all'"
) %}
    {%- if not execute -%}
        {{ return('select 1') }}
    {%- endif -%}
    {%- set member_selects = [] -%}
    {%- for margin in margins -%}
        {%- set key_parts = [] -%}
        {%- for name in margin.group_by -%}
            {%- do key_parts.append("coalesce(cast(" ~ name ~ " as string), '~')") -%}
        {%- endfor -%}
        {%- set key_sql = "'" ~ margin.name ~ "', " ~ (key_parts | join(', ')) -%}
        {%- do member_selects.append(
            "select md5(concat_ws('|', " ~ key_sql ~ ", cast(" ~ margin.child_key ~ " as string))) as group_id, "
            ~ id_column ~ " as cell_id, false as is_parent from " ~ relation
            ~ " where (" ~ margin.get('child_where', 'true') ~ ") and (" ~ scope_where ~ ")"
        ) -%}
        {%- do member_selects.append(
            "select md5(concat_ws('|', " ~ key_sql ~ ", cast(" ~ margin.parent_key ~ " as string))) as group_id, "
            ~ id_column ~ " as cell_id, true as is_parent from " ~ relation
            ~ " where (" ~ margin.get('parent_where', 'true') ~ ") and (" ~ scope_where ~ ")"
        ) -%}
    {%- endfor -%}

    {#- Groups with no parent or no child cannot give a cell back: left out. -#}
    {% call statement('disclosure_members') %}
        {{ disclosure_create_work_table('disclosure_members') }}
        with raw_members as (
            {{ member_selects | join('\n            union all\n            ') }}
        )
        select group_id, cell_id, is_parent
        from raw_members
        qualify
            sum(case when is_parent then 1 else 0 end) over (partition by group_id) >= 1
            and sum(case when is_parent then 0 else 1 end) over (partition by group_id) >= 1
    {% endcall %}

    {%- set state = namespace(done=false, passes=0, added=0) -%}
    {%- for pass in range(max_passes) -%}
        {%- if not state.done -%}
            {% call statement('disclosure_picks') %}
                {{ disclosure_create_work_table('disclosure_picks') }}
                with cells_in_groups as (
                    select
                        members.group_id,
                        members.is_parent,
                        cells.{{ id_column }} as cell_id,
                        cells.{{ count_column }} as cell_count,
                        cells.is_suppressed
                    {#- filtered before the join: this DuckDB does not push filters down #}
                    from (
                        select * from {{ disclosure_work_table('disclosure_members') }}
                        {%- if pass > 0 %}
                        where group_id in (
                            select group_id from {{ disclosure_work_table('disclosure_touched') }}
                        )
                        {%- endif %}
                    ) as members
                    {#- Every member is in scope: the scope's bounds let the scan skip the rest. #}
                    left join (select * from {{ relation }} where {{ scope_where }}) as cells
                        on members.cell_id = cells.{{ id_column }}
                ),
                {#- One hidden cell, or hidden children adding up to less than k under a published
                    total: each would then be pinned inside 0..k-1, i.e. 1..k-1 to a reader who sees
                    the zeros published (the rule ingest/disclosure/attack.py checks). Under a hidden
                    total the group tells a reader nothing about the children's sum: not exposed by
                    it (a région of one département is the same hidden cell twice, and taking that
                    for a pinned pair hid its published neighbours up to France's total). #}
                exposed as (
                    select
                        group_id,
                        count(*) filter (where is_suppressed) as hidden_count
                    from cells_in_groups
                    group by group_id
                    having
                        count(*) filter (where is_suppressed) = 1
                        or (
                            count(*) filter (where is_suppressed) > 1
                            and not bool_or(is_parent and is_suppressed)
                            and sum(cell_count) filter (where is_suppressed) < {{ protection_k }}
                        )
                ),
                ranked as (
                    select
                        cells_in_groups.cell_id,
                        row_number() over (
                            partition by cells_in_groups.group_id
                            order by
                                cells_in_groups.cell_count = 0,
                                cells_in_groups.cell_count,
                                cells_in_groups.is_parent,
                                cells_in_groups.cell_id
                        ) as pick_rank
                    from cells_in_groups
                    left join exposed
                        on cells_in_groups.group_id = exposed.group_id
                    {#- Hiding a zero adds nothing to a hidden sum: a zero only against subtraction. #}
                    where
                        exposed.group_id is not null
                        and not cells_in_groups.is_suppressed
                        and (cells_in_groups.cell_count > 0 or exposed.hidden_count = 1)
                ),
                {#- An exposed group with no non-zero cell left to hide (every cell hidden and adding
                    up to less than k) cannot be fixed inside: the smallest non-zero published cell of a
                    group sharing one of its cells is hidden instead, once (the group is not touched
                    again, so no pass repeats it). #}
                stuck as (
                    select cells_in_groups.group_id
                    from cells_in_groups
                    left join exposed
                        on cells_in_groups.group_id = exposed.group_id
                    where exposed.group_id is not null
                    group by cells_in_groups.group_id
                    having
                        count(*) filter (
                            where not cells_in_groups.is_suppressed and cells_in_groups.cell_count > 0
                        ) = 0
                ),
                neighbours as (
                    select
                        stuck.group_id as stuck_group_id,
                        others.cell_id,
                        others.is_parent,
                        other_cells.{{ count_column }} as cell_count
                    from stuck
                    left join {{ disclosure_work_table('disclosure_members') }} as own
                        on stuck.group_id = own.group_id
                    left join {{ disclosure_work_table('disclosure_members') }} as shared
                        on own.cell_id = shared.cell_id
                    left join {{ disclosure_work_table('disclosure_members') }} as others
                        on shared.group_id = others.group_id
                    left join (select * from {{ relation }} where {{ scope_where }}) as other_cells
                        on others.cell_id = other_cells.{{ id_column }}
                    where
                        shared.group_id != stuck.group_id
                        and not other_cells.is_suppressed
                        and other_cells.{{ count_column }} > 0
                ),
                ranked_neighbours as (
                    select
                        cell_id,
                        row_number() over (
                            partition by stuck_group_id
                            order by cell_count, is_parent, cell_id
                        ) as pick_rank
                    from neighbours
                )
                select distinct cell_id from ranked where pick_rank = 1
                union
                select cell_id from ranked_neighbours where pick_rank = 1
            {% endcall %}
            {%- set picked = run_query(
                'select count(*) from ' ~ disclosure_work_table('disclosure_picks')
            ).columns[0].values()[0] -%}
            {%- if picked == 0 -%}
                {%- set state.done = true -%}
            {%- else -%}
                {% call statement('disclosure_complement') %}
                    {{ disclosure_hide_picked(
                        relation, disclosure_work_table('disclosure_picks'), id_column, scope_where
                    ) }}
                {% endcall %}
                {% call statement('disclosure_touched') %}
                    {{ disclosure_create_work_table('disclosure_touched') }}
                    select distinct group_id
                    from {{ disclosure_work_table('disclosure_members') }}
                    where cell_id in (select cell_id from {{ disclosure_work_table('disclosure_picks') }})
                {% endcall %}
                {%- set state.passes = state.passes + 1 -%}
                {%- set state.added = state.added + picked -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not state.done -%}
        {{ exceptions.raise_compiler_error(
            "Complementary suppression of " ~ relation ~ " found no fixed point in " ~ max_passes
            ~ " passes: nothing is published. Raise `max_passes` or coarsen the table."
        ) }}
    {%- endif -%}
    {%- if attacker_cell is none -%}
        {{ exceptions.raise_compiler_error(
            "Complementary suppression of " ~ relation ~ " needs `attacker_cell`: the linear attacker's "
            ~ "audit and repair is what certifies the hidden cells (macros/disclosure/suppression.sql)."
        ) }}
    {%- endif -%}
    {#- Hidden values are passed as NULL (`value`): the attacker sees what a reader sees. Only a
        complementary cell's count also travels (`true_value`), for the give-back pass to publish it
        again where the attacker does not need it hidden; a primary cell's never does. -#}
    {%- do disclosure_audit_repair_picks(relation, attacker_cell, attacker_group, scope_where, protection_k) -%}
    {%- set audit_changes = run_query(
        'select count(*) filter (where not is_suppressed), count(*) filter (where is_suppressed) from '
        ~ relation ~ ' where ' ~ id_column ~ ' in (select cell_id from '
        ~ disclosure_work_table('disclosure_audit_picks') ~ ') and (' ~ scope_where ~ ')'
    ).rows[0] -%}
    {% call statement('disclosure_repair') %}
        {{ disclosure_apply_audit(
            relation, disclosure_work_table('disclosure_audit_picks'), id_column, scope_where
        ) }}
    {% endcall %}
    {{ disclosure_write_certificates(relation, attacker_cell, attacker_group, scope_where, protection_k) }}
    {{ log("Complementary suppression of " ~ relation ~ ": " ~ state.added ~ " cells in "
        ~ state.passes ~ " passes, " ~ audit_changes[0] ~ " more after the linear attacker's audit, "
        ~ audit_changes[1] ~ " given back", info=true) }}
    {%- if stats_relation is not none %}
        {#- The price of the protection, aggregated before the values go: no cell's value is kept. #}
        {%- do disclosure_write_stats(stats_relation, relation, count_column, scope_where) -%}
    {%- endif %}
    {%- do disclosure_drop_work_tables(relation) -%}
    {{ disclosure_null_suppressed(relation, count_column, scope_where) }}
{% endmacro %}


{#- Complementary suppression of the cells a pass of the group rules picked. -#}
{% macro disclosure_hide_picked(relation, picks, id_column, scope_where) -%}
    {{ return(adapter.dispatch('disclosure_hide_picked')(relation, picks, id_column, scope_where)) }}
{%- endmacro %}

{% macro default__disclosure_hide_picked(relation, picks, id_column, scope_where) -%}
    update {{ relation }}
    set
        is_suppressed = true,
        suppression_reason = 'complementary'
    where
        {{ id_column }} in (select cell_id from {{ picks }})
        and ({{ scope_where }})
{%- endmacro %}


{#-
    The linear attacker's changes (ingest/disclosure/repair.py, `repair_rows`): each id it returns is a
    cell whose state it changed, a published cell it hides (complementary) or a complementary cell it
    publishes again (the give-back pass). Never a primary cell: the guard keeps one hidden whatever the
    function says (the week's certificate then does not match, and `export` audits it again).
-#}
{% macro disclosure_apply_audit(relation, picks, id_column, scope_where) -%}
    {{ return(adapter.dispatch('disclosure_apply_audit')(relation, picks, id_column, scope_where)) }}
{%- endmacro %}

{% macro default__disclosure_apply_audit(relation, picks, id_column, scope_where) -%}
    update {{ relation }}
    set
        is_suppressed = not is_suppressed,
        suppression_reason = case when is_suppressed then null else 'complementary' end
    where
        {{ id_column }} in (select cell_id from {{ picks }})
        and ({{ scope_where }})
        and (not is_suppressed or suppression_reason = 'complementary')
{%- endmacro %}


{#- Where a cells table's information-loss figures go (build_state: never published). -#}
{% macro suppression_stats_relation(model_relation) -%}
    {{- return(api.Relation.create(
        database=model_relation.database, schema='build_state',
        identifier=model_relation.identifier ~ '__suppression_stats'
    )) -}}
{%- endmacro %}


{#-
    The struct of one cell as the linear attacker reads it (ingest/disclosure/repair.py, CELL_FIELDS, in
    that order): SQL expressions for each field; a hidden cell's value is NULL. `true_value` is the count
    of a complementary cell only (NULL otherwise), for the give-back pass: never a primary cell's.
-#}
{% macro disclosure_attacker_cell(
    count, syndrome_group='null', age_class='null', geo_level='null', geo_code='null',
    parent_geo_code='null', period_type='null', period='null', iso_week='null', association_id='null',
    hour_band='null', id_column='cell_id', count_column='cell_count'
) -%}
    {%- set fields = [
        ('cell_id', id_column), ('count', count), ('syndrome_group', syndrome_group),
        ('age_class', age_class), ('geo_level', geo_level), ('geo_code', geo_code),
        ('parent_geo_code', parent_geo_code), ('period_type', period_type), ('period', period),
        ('iso_week', iso_week), ('association_id', association_id), ('hour_band', hour_band),
    ] -%}
    {%- set members = [] -%}
    {%- for name, expression in fields -%}
        {%- do members.append((name, 'cast(' ~ expression ~ ' as string)')) -%}
    {%- endfor -%}
    {%- do members.append(('value', 'cast(case when is_suppressed then null else ' ~ count_column ~ ' end as double)')) -%}
    {%- do members.append(('true_value', 'cast(case when is_suppressed and suppression_reason = '
        ~ "'complementary' then " ~ count_column ~ ' end as double)')) -%}
    {{ struct_of(members) }}
{%- endmacro %}


{% macro disclosure_cells_by_audit_unit(relation, attacker_cell, attacker_group, scope_where) -%}
    select
        {{ attacker_group }} as audit_unit,
        {{ attacker_cell }} as cell
    from {{ relation }}
    where {{ scope_where }}
{%- endmacro %}
