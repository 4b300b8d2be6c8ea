with

vocabulary_table as (

    select * from {{ ref('stg_vocabulary__concept_relationship') }}

),

final as (

    select
        concept_id_1,
        concept_id_2,
        relationship_id,
        valid_start_date,
        valid_end_date,
        invalid_reason

    from vocabulary_table

)

select * from final
