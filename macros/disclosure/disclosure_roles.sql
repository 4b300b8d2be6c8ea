{#-
    The disclosure role of every column of a published mart, declared once in the mart's YAML
    (`config: {meta: {disclosure: {role: ...}}}` on each column) and read from dbt's graph here, for the
    generic tests, and from manifest.json by the export (ingest/publish/export.py) and the CI check
    (ingest/publish/disclosure_check.py), so the three cannot disagree about which columns are counts.
    Roles (docs/epidemiology.md, "Disclosure roles"):
      count_of_acts, count_of_persons, count_of_doctors   primary-suppressed counts (none in 1..k-1);
                                  `suppression_flag: <column>` names the boolean that says it is NULL
      rate                        `numerator` and `denominator`: NULL when a count it is built on is
      statistic                   `of: [columns]`: a median, a flag... NULL when a count in `of` is
      duration                    weeks or days (an epidemic's length): not a head count
      model_output                a fitted value (baseline, threshold), protected where it is fitted
      public                      public reference data (INSEE population)
      dimension                   key or label
-#}
{% macro disclosure_count_roles() -%}
    {{- return(['count_of_acts', 'count_of_persons', 'count_of_doctors']) -}}
{%- endmacro %}


{#- The graph node of the relation a generic test reads (a relation, or the scoped subquery over it). -#}
{% macro disclosure_tested_node(model) -%}
    {%- if model.identifier is defined -%}
        {%- set identifier = model.identifier -%}
    {%- else -%}
        {%- set found = modules.re.search('"([^"]+)"\\."([^"]+)"\\."([^"]+)"', model | string) -%}
        {%- set identifier = found.group(3) if found else none -%}
    {%- endif -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model' and (node.alias or node.name) == identifier -%}
            {{- return(node) -}}
        {%- endif -%}
    {%- endfor -%}
    {{- exceptions.raise_compiler_error('No model found in the graph for the tested relation ' ~ model) -}}
{%- endmacro %}


{#-
    {count_columns, suppression_flags, dependent_columns} of a model, as disclosure_min_cell_size takes
    them, from its columns' declared roles.
-#}
{% macro disclosure_checks_from_roles(node) -%}
    {%- set counts = [] -%}
    {%- set flags = {} -%}
    {%- set dependents = {} -%}
    {%- set roles = {} -%}
    {%- for name, column in node.columns.items() -%}
        {%- set meta = (column.config or {}).get('meta') or column.meta or {} -%}
        {%- do roles.update({name: meta.get('disclosure') or {}}) -%}
    {%- endfor -%}
    {%- for name, role in roles.items() -%}
        {%- if role.get('role') in disclosure_count_roles() -%}
            {%- do counts.append(name) -%}
            {%- if role.get('suppression_flag') -%}
                {%- do flags.update({name: role.get('suppression_flag')}) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for name, role in roles.items() -%}
        {%- set sources = [] -%}
        {%- if role.get('role') == 'rate' -%}
            {%- set sources = [role.get('numerator'), role.get('denominator')] -%}
        {%- elif role.get('role') == 'statistic' -%}
            {%- set sources = role.get('of') or [] -%}
        {%- endif -%}
        {%- set counted = sources | select('in', counts) | list -%}
        {%- if counted -%}
            {%- do dependents.update({name: counted}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return({'count_columns': counts, 'suppression_flags': flags, 'dependent_columns': dependents}) -}}
{%- endmacro %}
