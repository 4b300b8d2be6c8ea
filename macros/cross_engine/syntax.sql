{#- Spellings the two engines do not share. -#}

{% macro star_except(columns) -%}
    {{ return(adapter.dispatch('star_except')(columns)) }}
{%- endmacro %}

{% macro default__star_except(columns) -%}
    * exclude ({{ columns | join(', ') }})
{%- endmacro %}

{% macro spark__star_except(columns) -%}
    * except ({{ columns | join(', ') }})
{%- endmacro %}


{% macro time_of_day(column) -%}
    {{ return(adapter.dispatch('time_of_day')(column)) }}
{%- endmacro %}

{% macro default__time_of_day(column) -%}
    strftime({{ column }}, '%H:%M:%S')
{%- endmacro %}

{% macro spark__time_of_day(column) -%}
    date_format({{ column }}, 'HH:mm:ss')
{%- endmacro %}


{% macro athena_date(column) -%}
    {#- Athena delivers dates as YYYYMMDD text, some as a day number since 1899-12-30 (a spreadsheet's). -#}
    {{ return(adapter.dispatch('athena_date')(column)) }}
{%- endmacro %}

{% macro default__athena_date(column) -%}
    case
        when regexp_full_match(cast({{ column }} as varchar), '\d{5}')
            then date '1899-12-30' + cast({{ column }} as integer)
        else cast(strptime(cast({{ column }} as varchar), '%Y%m%d') as date)
    end
{%- endmacro %}

{% macro spark__athena_date(column) -%}
    case
        when cast({{ column }} as string) rlike '^[0-9]{5}$'
            then date_add(date '1899-12-30', cast({{ column }} as int))
        else to_date(cast({{ column }} as string), 'yyyyMMdd')
    end
{%- endmacro %}
