{#-
    A model's custom schema is used as is (cdm, staging, ...) rather than prefixed with the target's
    schema (main_cdm): OMOP tools expect the CDM in a schema named for it.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
