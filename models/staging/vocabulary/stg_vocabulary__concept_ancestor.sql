{{ vocabulary_staged('concept_ancestor', {
    'ancestor_concept_id': 'integer',
    'descendant_concept_id': 'integer',
    'min_levels_of_separation': 'integer',
    'max_levels_of_separation': 'integer',
}) }}
