{#-
    One row per concept: the vocabulary (curated seed or Athena download) plus the project's own
    concepts (vocabulary UCN, ids from 2,000,000,000 as OMOP reserves for local concepts), which no
    Athena download contains.
-#}
{{ vocabulary_staged('concept', {
    'concept_id': 'integer',
    'concept_name': 'varchar',
    'domain_id': 'varchar',
    'vocabulary_id': 'varchar',
    'concept_class_id': 'varchar',
    'standard_concept': 'code',
    'concept_code': 'varchar',
    'valid_start_date': 'date',
    'valid_end_date': 'date',
    'invalid_reason': 'code',
}, custom='omop_custom_concepts') }}
