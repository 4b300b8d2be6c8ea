{{ vocabulary_staged('concept_class', {
    'concept_class_id': 'varchar',
    'concept_class_name': 'varchar',
    'concept_class_concept_id': 'integer',
}) }}
