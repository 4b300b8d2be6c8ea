{{ vocabulary_staged('concept_relationship', {
    'concept_id_1': 'integer',
    'concept_id_2': 'integer',
    'relationship_id': 'varchar',
    'valid_start_date': 'date',
    'valid_end_date': 'date',
    'invalid_reason': 'code',
}) }}
