with

vocabulary_table as (

    select * from {{ ref('stg_vocabulary__concept') }}

),

final as (

    select
        concept_id,
        concept_name,
        domain_id,
        vocabulary_id,
        concept_class_id,
        standard_concept,
        concept_code,
        valid_start_date,
        valid_end_date,
        invalid_reason

    from vocabulary_table

)

select * from final
