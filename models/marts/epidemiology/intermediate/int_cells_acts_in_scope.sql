{#-
    The acts of the weeks disclosure_controlled_cells computes in this statement (its scope, and the
    range of weeks the materialisation runs its query for): read once, counted by three families.
-#}
select * from {{ ref('int_surveillance_acts_classified') }}  -- noqa: AM04
where {{ in_scope(ref('int_surveillance_acts_classified'), column='week_start_date') }}
