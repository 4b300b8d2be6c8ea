{{ vocabulary_staged('relationship', {
    'relationship_id': 'varchar',
    'relationship_name': 'varchar',
    'is_hierarchical': 'varchar',
    'defines_ancestry': 'varchar',
    'reverse_relationship_id': 'varchar',
    'relationship_concept_id': 'integer',
}) }}
