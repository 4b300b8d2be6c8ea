with

vocabulary_table as (

    select * from {{ ref('stg_vocabulary__concept_class') }}

),

final as (

    select
        concept_class_id,
        concept_class_name,
        concept_class_concept_id

    from vocabulary_table

)

select * from final
