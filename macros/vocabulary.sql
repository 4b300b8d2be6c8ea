{#-
    The relation a vocabulary table is read from: the curated seed shipped with the project, or, when the
    `athena_vocabulary_path` var names a folder, the file of an Athena download (tab-separated, no
    quoting, YYYYMMDD dates as text; the staging models cast them).
-#}
{% macro vocabulary_relation(table_name, columns) -%}
    {%- set athena_path = var('athena_vocabulary_path', '') -%}
    {%- if athena_path and execute -%}
        {#- A wrong folder would otherwise surface as DuckDB's bare "No files found" from deep in a model. -#}
        {%- set found = run_query("select count(*) from glob('" ~ athena_path ~ "/" ~ (table_name | upper) ~ ".csv')") -%}
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


{#-
    An Athena date (YYYYMMDD text) as a date. A 5-digit value is a spreadsheet serial day number (a
    vocabulary file that went through Excel: 25569 is 1970-01-01), seen in public vocabulary subsets.
-#}
{% macro athena_date(column) -%}
    case
        when regexp_full_match(cast({{ column }} as varchar), '\d{5}')
            then date '1899-12-30' + cast({{ column }} as integer)
        else cast(strptime(cast({{ column }} as varchar), '%Y%m%d') as date)
    end
{%- endmacro %}


{#-
    A stable surrogate key: the first 63 bits of the MD5 of the natural key parts, as a positive bigint.
    MD5 rather than DuckDB's hash(): its output is specified and identical on every engine and version,
    so a reload or another engine gives the same ids. The prefix keeps ids of different tables apart.
-#}
{% macro stable_id(prefix, parts) -%}
    cast(md5_number_upper(concat_ws('|', '{{ prefix }}'
    {%- for part in parts -%}, cast({{ part }} as varchar){%- endfor -%}
    )) >> 1 as bigint)
{%- endmacro %}


{#-
    The département of an INSEE commune code: 3 characters overseas (971-976), else the first 2
    (Corsica's 2A/2B included).
-#}
{% macro department_of_commune(column) -%}
    case
        when {{ column }} like '97%' then left({{ column }}, 3)
        else left({{ column }}, 2)
    end
{%- endmacro %}
