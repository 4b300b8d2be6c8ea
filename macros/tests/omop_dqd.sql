{#-
    OHDSI Data Quality Dashboard checks as dbt generic tests (the SQL of each check re-expressed for
    DuckDB). Each returns the violating rows only when they exceed `threshold_pct` percent of the
    table's rows with a value, the DQD failure threshold generated from its CSVs; 0 means any row fails.
-#}

{% macro _omop_over_threshold(model, column_name, violations_sql, threshold_pct) %}
with

violations as (

    {{ violations_sql }}

),

denominator as (

    select count(*) as row_count
    from {{ model }}
    where {{ column_name }} is not null

)

select violations.*
from violations
where
    (select count(*) from violations) * 100.0
    / greatest((select row_count from denominator), 1) > {{ threshold_pct }}
{% endmacro %}


{#- fkDomain and isStandardValidConcept: the concept belongs to the domain and is standard and valid. 0 is allowed. -#}
{% test omop_concept_conformance(model, column_name, domain_id=none, standard_valid=true, threshold_pct=0) %}
{% set violations %}
    select checked.{{ column_name }} as concept_id
    from {{ model }} as checked
    left join {{ ref('concept') }} as concept
        on checked.{{ column_name }} = concept.concept_id
    where
        checked.{{ column_name }} != 0
        and (
            concept.concept_id is null
            {%- if domain_id %}
            or concept.domain_id != '{{ domain_id }}'
            {%- endif %}
            {%- if standard_valid %}
            or concept.standard_concept is distinct from 'S'
            or concept.invalid_reason is not null
            {%- endif %}
        )
{% endset %}
{{ _omop_over_threshold(model, column_name, violations, threshold_pct) }}
{% endtest %}


{#- plausibleValueLow / plausibleValueHigh. -#}
{% test omop_plausible_value(model, column_name, low=none, high=none, threshold_pct=0) %}
{% set violations %}
    select {{ column_name }} as value
    from {{ model }}
    where
        false
        {%- if low is not none %}
        or {{ column_name }} < {{ low }}
        {%- endif %}
        {%- if high is not none %}
        or {{ column_name }} > {{ high }}
        {%- endif %}
{% endset %}
{{ _omop_over_threshold(model, column_name, violations, threshold_pct) }}
{% endtest %}


{#- plausibleStartBeforeEnd. -#}
{% test omop_start_before_end(model, column_name, end_column, threshold_pct=0) %}
{% set violations %}
    select {{ column_name }} as start_value, {{ end_column }} as end_value
    from {{ model }}
    where {{ column_name }} > {{ end_column }}
{% endset %}
{{ _omop_over_threshold(model, column_name, violations, threshold_pct) }}
{% endtest %}


{#- plausibleAfterBirth: no event before the person's birth (first day of the birth month when only the month is known). -#}
{% test omop_after_birth(model, column_name, threshold_pct=0) %}
{% set violations %}
    select checked.person_id, checked.{{ column_name }} as event_value
    from {{ model }} as checked
    inner join {{ ref('person') }} as person
        on checked.person_id = person.person_id
    where
        cast(checked.{{ column_name }} as date) < coalesce(
            cast(person.birth_datetime as date),
            make_date(
                person.year_of_birth,
                coalesce(person.month_of_birth, 1),
                coalesce(person.day_of_birth, 1)
            )
        )
{% endset %}
{{ _omop_over_threshold(model, column_name, violations, threshold_pct) }}
{% endtest %}


{#- plausibleBeforeDeath: no event more than 60 days after death (the DQD allowance). -#}
{% test omop_before_death(model, column_name, threshold_pct=0) %}
{% set violations %}
    select checked.person_id, checked.{{ column_name }} as event_value
    from {{ model }} as checked
    inner join {{ ref('death') }} as death
        on checked.person_id = death.person_id
    where cast(checked.{{ column_name }} as date) > death.death_date + 60
{% endset %}
{{ _omop_over_threshold(model, column_name, violations, threshold_pct) }}
{% endtest %}


{#- withinVisitDates: the event falls within a week of its visit's start and end dates. -#}
{% test omop_within_visit_dates(model, column_name, threshold_pct=0) %}
{% set violations %}
    select checked.visit_occurrence_id, checked.{{ column_name }} as event_value
    from {{ model }} as checked
    inner join {{ ref('visit_occurrence') }} as visit
        on checked.visit_occurrence_id = visit.visit_occurrence_id
    where
        cast(checked.{{ column_name }} as date) < visit.visit_start_date - 7
        or cast(checked.{{ column_name }} as date) > visit.visit_end_date + 7
{% endset %}
{{ _omop_over_threshold(model, column_name, violations, threshold_pct) }}
{% endtest %}


{#-
    cdmDatatype for varchar(n): DuckDB does not enforce lengths, so the contract cannot. One scan for every
    varchar column of a table (`lengths`: {column: n}); one row per column with values too long
    (column_name, max_length, rows_too_long).
-#}
{% test omop_max_lengths(model, lengths) %}
with

too_long as (

    select
        {%- for column, length in lengths.items() %}
        sum(case when length({{ column }}) > {{ length }} then 1 else 0 end) as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ model }}

)

{% for column, length in lengths.items() -%}
select
    '{{ column }}' as column_name,
    {{ length }} as max_length,
    {{ column }} as rows_too_long
from too_long
where {{ column }} > 0
{{ 'union all' if not loop.last }}
{% endfor %}
{% endtest %}


{#- plausibleGender: sex-specific concepts only for persons of that sex. -#}
{% test omop_plausible_gender(model, concept_column, male_only=[], female_only=[], threshold_pct=5) %}
{% set male_concept, female_concept = 8507, 8532 %}
{% set violations %}
    select checked.person_id, checked.{{ concept_column }} as concept_id
    from {{ model }} as checked
    inner join {{ ref('person') }} as person
        on checked.person_id = person.person_id
    where
        {%- if male_only %}
        (checked.{{ concept_column }} in ({{ male_only | join(', ') }}) and person.gender_concept_id != {{ male_concept }})
        {%- else %}
        false
        {%- endif %}
        {%- if female_only %}
        or (checked.{{ concept_column }} in ({{ female_only | join(', ') }}) and person.gender_concept_id != {{ female_concept }})
        {%- endif %}
{% endset %}
{{ _omop_over_threshold(model, concept_column, violations, threshold_pct) }}
{% endtest %}


{#- plausibleUnitConceptIds: a measurement of a concept carries one of the units the DQD accepts. -#}
{% test omop_plausible_unit(model, units_by_concept, threshold_pct=5) %}
{% set violations %}
    select measurement_concept_id, unit_concept_id
    from {{ model }}
    where
        false
        {%- for concept_id, units in units_by_concept.items() %}
        or (measurement_concept_id = {{ concept_id }} and coalesce(unit_concept_id, 0) not in ({{ units | join(', ') }}))
        {%- endfor %}
{% endset %}
{{ _omop_over_threshold(model, 'measurement_concept_id', violations, threshold_pct) }}
{% endtest %}


{#-
    The per-table forms of the column checks above, generated for the CDM tables (one scan or one query
    and one dbt node per table instead of one per column; dbt's per-node work is most of a daily build).
    `columns` maps each column to the arguments its single-column test takes; each returns one row per
    failing column (column_name, failing rows, rows judged), under the same thresholds.
-#}

{#- isForeignKey: every non-null value is in the referenced table's field (dbt's relationships test). -#}
{% test omop_foreign_keys(model, columns) %}
{% for column, reference in columns.items() -%}
select
    '{{ column }}' as column_name,
    count(*) as orphan_rows
from {{ model }} as child
where
    child.{{ column }} is not null
    and not exists (
        select 1 from {{ ref(reference['to']) }} as parent
        where parent.{{ reference['field'] }} = child.{{ column }}
    )
having count(*) > 0
{{ 'union all' if not loop.last }}
{% endfor %}
{% endtest %}


{% macro _omop_columns_over_threshold(model, columns, violation_conditions) %}
with

counts as (

    select
        {%- for column in columns %}
        sum(case when {{ violation_conditions[column] }} then 1 else 0 end) as {{ column }}__violations,
        count({{ column }}) as {{ column }}__rows{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ model }}

)

{{ _omop_failing_columns(columns) }}
{% endmacro %}


{#- plausibleValueLow / plausibleValueHigh over several columns in one scan. -#}
{% test omop_plausible_values(model, columns) %}
{%- set conditions = {} -%}
{%- for column, arguments in columns.items() -%}
    {%- set bounds = [] -%}
    {%- if arguments.get('low') is not none -%}
        {%- do bounds.append(column ~ ' < ' ~ arguments['low']) -%}
    {%- endif -%}
    {%- if arguments.get('high') is not none -%}
        {%- do bounds.append(column ~ ' > ' ~ arguments['high']) -%}
    {%- endif -%}
    {%- do conditions.update({column: '(' ~ (bounds | join(' or ') or 'false') ~ ')'}) -%}
{%- endfor -%}
{{ _omop_columns_over_threshold(model, columns, conditions) }}
{% endtest %}


{#- fkDomain and isStandardValidConcept over several concept columns: one join to concept per column. -#}
{% test omop_concept_conformances(model, columns) %}
{% for column, arguments in columns.items() -%}
{%- set domain_id = arguments.get('domain_id') -%}
select
    '{{ column }}' as column_name,
    count(*) filter (where violation) as violations,
    count(*) as row_count
from (
    select
        checked.{{ column }} != 0
        and (
            concept.concept_id is null
            {%- if domain_id %}
            or concept.domain_id != '{{ domain_id }}'
            {%- endif %}
            {%- if arguments.get('standard_valid', true) %}
            or concept.standard_concept is distinct from 'S'
            or concept.invalid_reason is not null
            {%- endif %}
        ) as violation
    from {{ model }} as checked
    left join {{ ref('concept') }} as concept
        on checked.{{ column }} = concept.concept_id
    where checked.{{ column }} is not null
) as judged
having count(*) filter (where violation) * 100.0 / greatest(count(*), 1) > {{ arguments.get('threshold_pct', 0) }}
{{ 'union all' if not loop.last }}
{% endfor %}
{% endtest %}


{#-
    plausibleAfterBirth and plausibleBeforeDeath over several date columns of a table. A row's violations
    are counted as the single-column tests count them (one per matching person or death row: death has
    no key, a person may have two), against the rows with a value in that column. An equi-join on
    person_id, not a correlated subquery per row: Spark plans the subquery as a nested loop over the
    table.
-#}
{% macro _omop_dated_over_threshold(model, columns, reference, violation_conditions) %}
with

violations as (

    select
        {%- for column in columns %}
        count(*) filter (where {{ violation_conditions[column] }}) as {{ column }}__violations
        {{- ',' if not loop.last }}
        {%- endfor %}
    from {{ model }} as checked
    inner join {{ reference }} as {{ reference.identifier }}
        on checked.person_id = {{ reference.identifier }}.person_id

),

judged as (

    select
        {%- for column in columns %}
        count({{ column }}) as {{ column }}__rows{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ model }}

),

counts as (

    select *
    from violations
    cross join judged

)

{{ _omop_failing_columns(columns) }}
{% endmacro %}


{#- The failing columns of `counts` (<column>__violations, <column>__rows), each over its threshold. -#}
{% macro _omop_failing_columns(columns) %}
{% for column, arguments in columns.items() -%}
select
    '{{ column }}' as column_name,
    {{ column }}__violations as violations,
    {{ column }}__rows as row_count
from counts
where
    {{ column }}__violations * 100.0 / greatest({{ column }}__rows, 1)
    > {{ arguments.get('threshold_pct', 0) }}
{{ 'union all' if not loop.last }}
{% endfor %}
{% endmacro %}


{#- omop_after_birth for every dated column of a CDM table in one test. -#}
{% test omop_after_births(model, columns) %}
{%- set conditions = {} -%}
{%- for column in columns -%}
    {%- set condition -%}
        cast(checked.{{ column }} as date) < coalesce(
            cast(person.birth_datetime as date),
            make_date(person.year_of_birth, coalesce(person.month_of_birth, 1), coalesce(person.day_of_birth, 1))
        )
    {%- endset -%}
    {%- do conditions.update({column: condition}) -%}
{%- endfor -%}
{{ _omop_dated_over_threshold(model, columns, ref('person'), conditions) }}
{% endtest %}


{#- omop_before_death for every dated column of a CDM table in one test. -#}
{% test omop_before_deaths(model, columns) %}
{%- set conditions = {} -%}
{%- for column in columns -%}
    {%- do conditions.update({column: 'cast(checked.' ~ column ~ ' as date) > death.death_date + 60'}) -%}
{%- endfor -%}
{{ _omop_dated_over_threshold(model, columns, ref('death'), conditions) }}
{% endtest %}
