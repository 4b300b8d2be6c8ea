{{ vocabulary_staged('domain', {
    'domain_id': 'varchar',
    'domain_name': 'varchar',
    'domain_concept_id': 'integer',
}) }}
