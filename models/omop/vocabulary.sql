with

vocabulary_table as (

    select * from {{ ref('stg_vocabulary__vocabulary') }}

),

final as (

    select
        vocabulary_id,
        vocabulary_name,
        vocabulary_reference,
        vocabulary_version,
        vocabulary_concept_id

    from vocabulary_table

)

select * from final
