{#-
    One row per act and syndromic group it belongs to: the marts' handle on int_surveillance_act_syndromes
    (record-level, built incrementally in the intermediate schema; see it for the rules). Ephemeral.
-#}
select
    visit_occurrence_id,
    syndrome_group,
    week_start_date

from {{ ref('int_surveillance_act_syndromes') }}
