"""Certificates (ingest/disclosure/certificate.py): `export` skips the weeks the build's attacker certified,
and only those. A week whose published cells changed, another k, another attacker, or a week related to
something the build did not see is audited again, and a leak in it is caught.

The build side is the DuckDB function's Python (repair_rows, then certificate_of_rows on the cells as the
table holds them); tests/test_marts_build.py checks the same on a real dbt build."""

from __future__ import annotations

import pyarrow as pa
import pytest

from ingest.disclosure.attack import (
    LinearAttackError,
    audit_published_tables,
    check_publication,
    publication_report,
)
from ingest.disclosure.certificate import attacker_version
from ingest.disclosure.repair import certificate_of_rows, repair_rows
from tests.test_disclosure_attack import (
    GREEDY_WEEK,
    K,
    _after_repair,
    _asthme,
    _published_after,
    _rows_with_truth,
    _struct_rows,
    _weekly,
)


def _certified_week() -> tuple[pa.Table, pa.Table, set[tuple[str, int, str]]]:
    """The leaky asthme week, the same week after the build's repair, and the certificate stored for it."""
    leaky = _weekly(_asthme(total=40))
    added = repair_rows(K, _struct_rows(leaky))
    repaired = _after_repair(leaky, added)
    digest = certificate_of_rows(K, _struct_rows(repaired))
    assert digest is not None
    return leaky, repaired, {(digest, K, attacker_version())}


def test_a_certified_week_is_not_audited_again() -> None:
    _, repaired, certificates = _certified_week()
    result = audit_published_tables({"weekly": repaired}, K, certificates)
    assert (result.weeks, result.certified_weeks, result.hidden_cells, result.lps) == (1, 1, 0, 0)
    assert "1 of 1 ISO weeks not audited again" in publication_report(result, [])[0]
    # Without certificates (`--full`) the same week is solved.
    assert audit_published_tables({"weekly": repaired}, K).hidden_cells == 3


def test_the_build_certifies_only_what_its_attacker_certified() -> None:
    leaky, _, _ = _certified_week()
    # The table as it would stand had the post-hook not hidden the repair's pick: no certificate.
    assert certificate_of_rows(K, _struct_rows(leaky)) is None


def test_a_week_changed_after_the_build_is_audited_and_its_leak_caught() -> None:
    leaky, _, certificates = _certified_week()
    # The repair's cell published again (by hand, or by an engine that lost it): the digest differs.
    result = audit_published_tables({"weekly": leaky}, K, certificates)
    assert result.certified_weeks == 0 and len(result.findings) == 2
    with pytest.raises(LinearAttackError, match=r"pinned inside 0\.\.6"):
        check_publication({"weekly": leaky}, K, certificates=certificates)


def test_another_k_or_another_attacker_audits_the_week_again() -> None:
    _, repaired, certificates = _certified_week()
    ((digest, k, version),) = certificates
    assert audit_published_tables({"weekly": repaired}, K + 1, certificates).certified_weeks == 0
    older = {(digest, k, "0" * 64)}  # what an attacker of another version stored
    assert audit_published_tables({"weekly": repaired}, K, older).certified_weeks == 0
    assert len(version) == 64


def test_a_share_over_a_hidden_count_is_audited_whatever_the_certificate() -> None:
    # The build's cells do not hold the marts' shares: a share beside a hidden count is a relation the
    # build did not solve, so its week is audited even when its cells match a certificate.
    table = _weekly([("grippe", "all", None)]).append_column("coded_act_count", pa.array([40], pa.int64()))
    (grippe,) = _struct_rows(table)
    coded = {**grippe, "cell_id": "coded", "count": "coded_act_count", "syndrome_group": None, "value": 40.0}
    rows = [grippe, coded]
    repair_rows(K, rows)
    digest = certificate_of_rows(K, rows)
    assert digest is not None
    certificates = {(digest, K, attacker_version())}
    assert audit_published_tables({"weekly": table}, K, certificates).certified_weeks == 1
    shared = table.append_column("syndrome_share_of_coded_pct", pa.array([12.5]))
    result = audit_published_tables({"weekly": shared}, K, certificates)
    assert result.certified_weeks == 0
    assert len(result.findings) == 1 and "recovered exactly (5)" in str(result.findings[0])


def test_the_certificate_names_the_cells_after_the_give_back() -> None:
    """The build certifies the week as published after the give-back pass (a cell published again), not
    the greedy state before it; and `export` then has nothing to solve again for that week."""
    changed = repair_rows(K, _rows_with_truth(GREEDY_WEEK))
    assert changed == ["asthme|75+"]
    final = _published_after(GREEDY_WEEK, changed)
    digest = certificate_of_rows(K, _struct_rows(final))
    assert digest is not None
    assert certificate_of_rows(K, _struct_rows(_published_after(GREEDY_WEEK, []))) is None
    result = audit_published_tables({"weekly": final}, K, {(digest, K, attacker_version())})
    assert (result.certified_weeks, result.lps) == (1, 0)
