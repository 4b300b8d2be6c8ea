with

vocabulary_table as (

    select * from {{ ref('stg_vocabulary__domain') }}

),

final as (

    select
        domain_id,
        domain_name,
        domain_concept_id

    from vocabulary_table

)

select * from final
