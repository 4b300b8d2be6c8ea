select
    location_id,
    cast(null as string) as address_1,
    cast(null as string) as address_2,
    city,
    cast(null as string) as state,
    cast(null as string) as zip,
    county,
    location_source_value,
    cast(null as integer) as country_concept_id,
    'FR' as country_source_value,
    cast(null as double) as latitude,
    cast(null as double) as longitude

from {{ ref('int_locations_of_persons_and_sites') }}
