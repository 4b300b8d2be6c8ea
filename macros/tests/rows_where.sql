{#- The rows of `model` meeting `condition`: a count to report (severity warn) or to forbid. -#}
{% test rows_where(model, condition) %}
select * from {{ model }}
where {{ condition }}
{% endtest %}
