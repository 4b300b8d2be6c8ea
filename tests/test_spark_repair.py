"""The linear attacker's script transform on Spark (ingest/disclosure/spark_repair.py), run as Spark runs
it: a process reading `unit<TAB>cell JSON` lines, the units' cells interleaved as a partition holds them.
Its answer is the DuckDB function's: the same cells changed (repair_rows: hidden as well, or given back),
and a certificate of the unit's cells once changed. The Spark build itself is tests/test_spark_build.py."""

from __future__ import annotations

import json
import subprocess
import sys

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


def _transform(lines: list[str], k: int = K) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ingest.disclosure.spark_repair", str(k)],
        input="".join(f"{line}\n" for line in lines),
        capture_output=True,
        text=True,
        check=False,
    )


def _units() -> dict[str, list[dict]]:
    asthme = _struct_rows(_weekly(_asthme(total=40)))
    icanicule = _struct_rows(
        _weekly(
            [
                ("icanicule", "all", 30),
                ("icanicule_hyperthermie", "all", None),
                ("icanicule_deshydratation", "all", 15),
                ("icanicule_hyponatremie", "all", 12),
            ]
        )
    )
    # A field the repair does not read yet (another helper may add one): it must flow through.
    return {
        "2024-W02": [{**row, "true_value": None} for row in asthme],
        "2024-W03": [{**row, "true_value": None} for row in icanicule],
    }


def test_the_script_hides_and_certifies_what_the_duckdb_functions_do() -> None:
    units = _units()
    # Interleaved, as a Spark partition may hold them.
    lines = [
        f"{unit}\t{json.dumps(row)}"
        for pair in zip(units["2024-W02"], units["2024-W03"], strict=False)
        for unit, row in zip(units, pair, strict=True)
    ]
    lines += [f"2024-W02\t{json.dumps(row)}" for row in units["2024-W02"][len(units["2024-W03"]) :]]
    done = _transform(lines)
    assert done.returncode == 0, done.stderr
    answer = [line.split("\t") for line in done.stdout.splitlines()]
    version = attacker_version()
    expected = []
    for unit, rows in units.items():
        hidden = repair_rows(K, rows)
        assert hidden  # each week needs a complementary cell
        expected += [["change", unit, cell_id, version] for cell_id in hidden]
        after = [{**row, "value": None} if row["cell_id"] in hidden else row for row in rows]
        expected.append(["certificate", unit, certificate_of_rows(K, after), version])
    assert answer == expected
    assert ["change", "2024-W02", "asthme|75+", version] in answer
    # The certificate is the one the DuckDB post-hook stores for the table as repaired.
    leaky = _weekly(_asthme(total=40))
    repaired = _struct_rows(_after_repair(leaky, repair_rows(K, _struct_rows(leaky))))
    assert ["certificate", "2024-W02", certificate_of_rows(K, repaired), version] in answer


def test_a_cell_given_back_is_certified_as_published() -> None:
    """The give-back pass publishes 75+ (60) again: the certificate the script writes is the one the DuckDB
    post-hook stores once the table holds it published, not one of the cell hidden."""
    rows = _rows_with_truth(GREEDY_WEEK)
    done = _transform([f"2024-W05\t{json.dumps(row)}" for row in rows])
    assert done.returncode == 0, done.stderr
    answer = [line.split("\t")[:3] for line in done.stdout.splitlines()]
    assert answer[0] == ["change", "2024-W05", "asthme|75+"]
    assert repair_rows(K, _rows_with_truth(GREEDY_WEEK)) == ["asthme|75+"]  # what it certified, here too
    flipped = _published_after(GREEDY_WEEK, ["asthme|75+"])
    as_stored = _struct_rows(flipped)
    for row, (_, count, state) in zip(as_stored, GREEDY_WEEK, strict=True):
        row["true_value"] = float(count) if state == "complementary" and row["value"] is None else None
    assert answer[1] == ["certificate", "2024-W05", certificate_of_rows(K, as_stored)]
    assert answer[1][2] is not None and answer[1][2] != "\\N"


def test_a_malformed_line_fails_the_script_naming_it() -> None:
    done = _transform(["2024-W02 no tab here"])
    assert done.returncode != 0
    assert "line 1 of the cells to audit" in done.stderr
    assert done.stdout == ""
