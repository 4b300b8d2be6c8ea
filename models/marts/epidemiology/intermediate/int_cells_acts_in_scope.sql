{#-
    The acts of the weeks disclosure_controlled_cells computes in this statement. The record-level
    table itself, not the marts' ephemeral handle on it: the materialisation runs the cells' query once
    per range of weeks.
-#}
select * from {{ ref('int_surveillance_acts_classified') }}  -- noqa: AM04
where {{ surveillance_cells_in_scope('week_start_date') }}
