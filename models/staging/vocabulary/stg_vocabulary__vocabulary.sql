{#- One row per vocabulary, plus the project's own (UCN). -#}
{{ vocabulary_staged('vocabulary', {
    'vocabulary_id': 'varchar',
    'vocabulary_name': 'varchar',
    'vocabulary_reference': 'varchar',
    'vocabulary_version': 'varchar',
    'vocabulary_concept_id': 'integer',
}, custom='omop_custom_vocabulary') }}
