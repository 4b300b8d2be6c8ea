{% macro vocabulary_relation(table_name, columns) -%}
    {%- set athena_path = var('athena_vocabulary_path', '') -%}
    {%- if athena_path and execute -%}
        {#- A wrong folder would otherwise surface as DuckDB's bare "No files found" from deep in a model. -#}
        {%- set count_files -%}
            select count(*) from glob('{{ athena_path }}/{{ table_name | upper }}.csv')
        {%- endset -%}
        {%- set found = run_query(count_files) -%}
        {%- if found.columns[0].values()[0] == 0 -%}
            {{ exceptions.raise_compiler_error(
                "athena_vocabulary_path `" ~ athena_path ~ "` has no " ~ (table_name | upper) ~ ".csv: unzip "
                ~ "the Athena download there (tab-separated files), or drop the var to use the curated seeds"
            ) }}
        {%- endif -%}
    {%- endif -%}
    {%- if athena_path -%}
        read_csv(
            '{{ athena_path }}/{{ table_name | upper }}.csv',
            delim = '\t',
            quote = '',
            escape = '',
            header = true,
            columns = {
            {%- for name, type in columns.items() %}
                '{{ name }}': '{{ type }}'{{ ',' if not loop.last }}
            {%- endfor %}
            }
        )
    {%- else -%}
        {{ ref('vocabulary_' ~ table_name) }}
    {%- endif -%}
{%- endmacro %}


{% macro vocabulary_staged(table_name, columns, custom=none) -%}
    {#- Athena delivers dates as YYYYMMDD text and empty codes as empty strings. -#}
    {%- set read_types = {} -%}
    {%- for name, type in columns.items() -%}
        {%- do read_types.update({name: 'integer' if type == 'integer' else 'varchar'}) -%}
    {%- endfor -%}
    select
    {%- for name, type in columns.items() %}
        {% if type == 'date' -%}
            {{ athena_date(name) }}
        {%- elif type == 'code' -%}
            nullif(cast({{ name }} as string), '')
        {%- else -%}
            cast({{ name }} as {{ 'string' if type == 'varchar' else type }})
        {%- endif %} as {{ name }}{{ ',' if not loop.last }}
    {%- endfor %}
    from (
        {#- By name, as both engines spell it: the columns listed on both sides. -#}
        select {{ columns.keys() | join(', ') }} from {{ vocabulary_relation(table_name, read_types) }}
        {%- if custom %}
        union all
        select {{ columns.keys() | join(', ') }} from {{ ref(custom) }}
        {%- endif %}
    ) as source
{%- endmacro %}


{% macro stable_id(prefix, parts) -%}
    {%- set natural_key -%}
        concat_ws('|', '{{ prefix }}'{%- for part in parts -%}, cast({{ part }} as string){%- endfor -%})
    {%- endset -%}
    {{ md5_upper_bigint(natural_key) }}
{%- endmacro %}


{% macro department_of_commune(column) -%}
    case
        when {{ column }} like '97%' then left({{ column }}, 3)
        else left({{ column }}, 2)
    end
{%- endmacro %}


{% macro type_concept(role) -%}
    (select concept_id from {{ ref('omop_type_concepts') }} where role = '{{ role }}')
{%- endmacro %}
