{#-
    The same 63-bit surrogate key on every engine: the first eight bytes of the MD5 of the text, read as
    a little-endian unsigned integer (DuckDB's md5_number_upper), shifted right by one bit so that it is
    a positive bigint. The DuckDB form is the one the warehouse's ids were always computed with.
-#}
{% macro md5_upper_bigint(text) -%}
    {{ return(adapter.dispatch('md5_upper_bigint')(text)) }}
{%- endmacro %}

{% macro default__md5_upper_bigint(text) -%}
    cast(md5_number_upper({{ text }}) >> 1 as bigint)
{%- endmacro %}

{% macro spark__md5_upper_bigint(text) -%}
    {#- Spark has no md5_number_upper: the first 16 hex digits, byte pairs reversed (little-endian), read
        as a signed 64-bit integer (conv to base -10) and shifted without sign. -#}
    shiftrightunsigned(cast(conv(
        array_join(reverse(split(regexp_replace(substr(md5({{ text }}), 1, 16), '(..)', '$1,'), ',')), ''),
        16, -10
    ) as bigint), 1)
{%- endmacro %}
