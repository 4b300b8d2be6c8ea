{#-
    The certificate of each audit unit (ISO week) the post-hook just repaired, in
    build_state.<cells table>__disclosure_certificates: the SHA-256 of the unit's cells as the linear
    attacker certified them (NULL if the cells in the table are not what it certified), k and the
    attacker's version (ingest/disclosure/certificate.py). `export` and `disclosure-audit` audit again
    only the weeks whose published cells no certificate matches.
-#}
{% macro disclosure_write_certificates(relation, attacker_cell, attacker_group, scope_where, protection_k) %}
    {{ return(adapter.dispatch('disclosure_write_certificates')(
        relation, attacker_cell, attacker_group, scope_where, protection_k
    )) }}
{% endmacro %}

{% macro default__disclosure_write_certificates(relation, attacker_cell, attacker_group, scope_where, protection_k) %}
    {%- set certificates = api.Relation.create(
        database=relation.database, schema='build_state',
        identifier=relation.identifier ~ '__disclosure_certificates'
    ) -%}
    {% call statement('disclosure_certificates') %}
        create schema if not exists {{ certificates.database }}.build_state;
        create table if not exists {{ certificates }} (
            audit_unit varchar,
            cells_sha256 varchar,
            disclosure_k integer,
            attacker_version varchar
        );
        delete from {{ certificates }}
        where audit_unit in (
            select distinct cast({{ attacker_group }} as varchar) from {{ relation }} where {{ scope_where }}
        );
        insert into {{ certificates }}
        select
            cast(audit_unit as varchar) as audit_unit,
            disclosure_certificate({{ protection_k }}, list(cell)) as cells_sha256,
            {{ protection_k }} as disclosure_k,
            disclosure_attacker_version() as attacker_version
        from ({{ disclosure_cells_by_audit_unit(relation, attacker_cell, attacker_group, scope_where) }}) as cells_to_certify
        group by audit_unit
    {% endcall %}
{% endmacro %}
