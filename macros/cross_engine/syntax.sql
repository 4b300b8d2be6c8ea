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


{#- An ISO week's label, e.g. 2025-W01 (the ISO year of the week, not the calendar year). -#}
{% macro iso_week_label(day) -%}
    {{ return(adapter.dispatch('iso_week_label')(day)) }}
{%- endmacro %}

{% macro default__iso_week_label(day) -%}
    strftime({{ day }}, '%G-W%V')
{%- endmacro %}

{% macro spark__iso_week_label(day) -%}
    concat(
        cast(extract(yearofweek from {{ day }}) as string), '-W', lpad(cast(weekofyear({{ day }}) as string), 2, '0')
    )
{%- endmacro %}


{#- The ISO day of the week: 1 Monday ... 7 Sunday. -#}
{% macro iso_day_of_week(day) -%}
    {{ return(adapter.dispatch('iso_day_of_week')(day)) }}
{%- endmacro %}

{% macro default__iso_day_of_week(day) -%}
    isodow({{ day }})
{%- endmacro %}

{% macro spark__iso_day_of_week(day) -%}
    (weekday({{ day }}) + 1)
{%- endmacro %}


{#- Minute boundaries crossed from `start` to `stop`, as DuckDB's date_diff('minute', ...) counts them
    (10:00:59 to 10:01:00 is one minute). dbt's datediff on Spark rounds the seconds up instead. -#}
{% macro minutes_between(start, stop) -%}
    {{ return(adapter.dispatch('minutes_between')(start, stop)) }}
{%- endmacro %}

{% macro default__minutes_between(start, stop) -%}
    date_diff('minute', {{ start }}, {{ stop }})
{%- endmacro %}

{% macro spark__minutes_between(start, stop) -%}
    timestampdiff(MINUTE, date_trunc('minute', {{ start }}), date_trunc('minute', {{ stop }}))
{%- endmacro %}


{% macro text_starts_with(text, prefix) -%}
    {{ return(adapter.dispatch('text_starts_with')(text, prefix)) }}
{%- endmacro %}

{% macro default__text_starts_with(text, prefix) -%}
    starts_with({{ text }}, {{ prefix }})
{%- endmacro %}

{% macro spark__text_starts_with(text, prefix) -%}
    startswith({{ text }}, {{ prefix }})
{%- endmacro %}


{#- A join that adds one row per day from `first` to `last` (dates, both included; they may name the
    columns of the relations before it), the day as `<alias>.range` (a timestamp on DuckDB, a date on
    Spark: cast it). -#}
{% macro join_days_between(first, last, alias) -%}
    {{ return(adapter.dispatch('join_days_between')(first, last, alias)) }}
{%- endmacro %}

{% macro default__join_days_between(first, last, alias) -%}
    cross join
        range(
            {{ first }},
            {{ last }} + interval 1 day,
            interval 1 day
        ) as {{ alias }}
{%- endmacro %}

{% macro spark__join_days_between(first, last, alias) -%}
    lateral view explode(sequence(cast({{ first }} as date), cast({{ last }} as date), interval 1 day)) {{ alias }} as range
{%- endmacro %}


{#- The distinct non-NULL values of a text column of the group, sorted and joined by `separator`
    (NULL when there are none). -#}
{% macro sorted_distinct_string_agg(expression, separator) -%}
    {{ return(adapter.dispatch('sorted_distinct_string_agg')(expression, separator)) }}
{%- endmacro %}

{% macro default__sorted_distinct_string_agg(expression, separator) -%}
    string_agg(distinct {{ expression }}, {{ separator }} order by {{ expression }})
{%- endmacro %}

{% macro spark__sorted_distinct_string_agg(expression, separator) -%}
    case
        when count({{ expression }}) > 0
            then array_join(array_sort(collect_set({{ expression }})), {{ separator }})
    end
{%- endmacro %}

