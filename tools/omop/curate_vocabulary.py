"""Write the curated OMOP vocabulary seeds (seeds/vocabulary/vocabulary_<table>.csv) from an Athena download.

The project ships only the concepts its models use, so that a fresh clone builds and tests without a
licensed Athena bundle: gender, visit, type and status concepts, LOINC vital signs and UCUM units, the
CIM-10 codes of the network thesaurus and of `curated_icd10_codes.txt` (plus their 3-character parents,
used when a French extension code is not in WHO ICD-10) with their 'Maps to' targets, the ATC codes of the
drug seed, and the vocabulary/domain/class/relationship rows those rows reference. Concepts missing from
the Athena folder given (e.g. the public subset in /work/shared/reference/omop_vocab) come from
`curated_concepts.csv`, each with the evidence for its id.

The seeds keep Athena's layout (tab-separated, YYYYMMDD dates, no quoting), so the same staging models
read them and a full Athena download alike.

    python -m tools.omop.curate_vocabulary --athena /path/to/athena [--project-dir .]
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterable
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONCEPT_COLUMNS = [
    "concept_id", "concept_name", "domain_id", "vocabulary_id", "concept_class_id",
    "standard_concept", "concept_code", "valid_start_date", "valid_end_date", "invalid_reason",
]  # fmt: skip
# Concepts the models use by id (besides mapped codes): keep in step with seeds/omop/*.csv.
CORE_CONCEPT_IDS = [
    0, 8507, 8532, 9202, 581476, 5083, 32817, 32838, 32815, 32902, 32908, 756265,
    38004446, 38004477, 38004510,
    3020891, 3027018, 40762499, 3004249, 3012888, 3024171, 3025315,
    586323, 8876, 8554, 8541, 9529,
]  # fmt: skip
RELATIONSHIPS = ("Maps to", "Mapped from", "Is a", "Subsumes")


def read_athena(path: Path) -> list[dict[str, str]]:
    # Athena files are tab-separated without quoting: concept names may contain '"'.
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE, quotechar=None))


def write_athena(path: Path, columns: list[str], rows: Iterable[dict[str, str]]) -> int:
    rows = list(rows)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(
            handle,
            fieldnames=columns,
            delimiter="\t",
            quoting=csv.QUOTE_NONE,
            quotechar=None,
            lineterminator="\n",
            extrasaction="ignore",
            escapechar=None,
        )
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def icd10_codes(project_dir: Path) -> set[str]:
    codes = {
        line.strip()
        for line in (HERE / "curated_icd10_codes.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    thesaurus = project_dir / "seeds" / "network" / "diagnosis_thesaurus.csv"
    if thesaurus.exists():
        with thesaurus.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                code = (row.get("icd10_code") or "").strip().upper().replace(".", "")
                if code:
                    codes.add(code if len(code) <= 3 else f"{code[:3]}.{code[3:]}")
    return codes | {code[:3] for code in codes}


def atc_codes(project_dir: Path) -> set[str]:
    drugs = project_dir / "seeds" / "network" / "drugs.csv"
    if not drugs.exists():
        return set()
    with drugs.open(encoding="utf-8", newline="") as handle:
        return {row["atc_code"].strip() for row in csv.DictReader(handle) if row.get("atc_code")}


# Athena's metadata concepts follow a fixed pattern (name = the row's name, vocabulary and class = the
# table's kind, code 'OMOP generated'): when a partial download lacks one, it is rebuilt from its row.
_META_KIND = {
    "vocabulary_concept_id": ("Vocabulary", "vocabulary_name"),
    "domain_concept_id": ("Domain", "domain_name"),
    "concept_class_concept_id": ("Concept Class", "concept_class_name"),
    "relationship_concept_id": ("Relationship", "relationship_name"),
}


def metadata_concept(concept_id: str, row: dict[str, str], column: str) -> dict[str, str]:
    kind, name_column = _META_KIND[column]
    return {
        "concept_id": concept_id,
        "concept_name": row[name_column],
        "domain_id": "Metadata",
        "vocabulary_id": kind,
        "concept_class_id": kind,
        "standard_concept": "",
        "concept_code": "OMOP generated",
        "valid_start_date": "19700101",
        "valid_end_date": "20991231",
        "invalid_reason": "",
    }


def curate(athena: Path, project_dir: Path) -> dict[str, int]:
    concepts = {row["concept_id"]: row for row in read_athena(athena / "CONCEPT.csv")}
    with (HERE / "curated_concepts.csv").open(encoding="utf-8", newline="") as handle:
        curated = {row["concept_id"]: row for row in csv.DictReader(handle)}

    wanted_codes = icd10_codes(project_dir)
    wanted_atc = atc_codes(project_dir)
    keep: set[str] = {str(i) for i in CORE_CONCEPT_IDS}
    for concept_id, row in concepts.items():
        if row["vocabulary_id"] == "ICD10" and row["concept_code"] in wanted_codes:
            keep.add(concept_id)
        elif row["vocabulary_id"] == "ATC" and row["concept_code"] in wanted_atc:
            keep.add(concept_id)

    relationships = read_athena(athena / "CONCEPT_RELATIONSHIP.csv")
    sources = set(keep)
    for rel in relationships:
        if rel["concept_id_1"] in sources and rel["relationship_id"] == "Maps to":
            keep.add(rel["concept_id_2"])

    rows = {cid: concepts[cid] for cid in keep if cid in concepts}
    for cid in keep - rows.keys():
        if cid not in curated:
            raise SystemExit(f"concept {cid} is neither in `{athena}` nor in curated_concepts.csv")
        rows[cid] = curated[cid]

    kept_relationships = [
        r for r in relationships
        if r["concept_id_1"] in rows and r["concept_id_2"] in rows and r["relationship_id"] in RELATIONSHIPS
    ]  # fmt: skip

    def meta(file: str, key: str, wanted: set[str]) -> list[dict[str, str]]:
        return sorted((r for r in read_athena(athena / file) if r[key] in wanted), key=lambda r: r[key])

    # Twice: the metadata concepts (FK targets of the vocabulary tables) bring vocabularies and classes
    # of their own ('Domain', 'Vocabulary', ...), whose rows must be there too.
    for _ in range(2):
        vocabulary_rows = meta("VOCABULARY.csv", "vocabulary_id", {r["vocabulary_id"] for r in rows.values()})
        domain_rows = meta("DOMAIN.csv", "domain_id", {r["domain_id"] for r in rows.values()})
        class_rows = meta(
            "CONCEPT_CLASS.csv", "concept_class_id", {r["concept_class_id"] for r in rows.values()}
        )
        relationship_rows = meta(
            "RELATIONSHIP.csv", "relationship_id", {r["relationship_id"] for r in kept_relationships}
        )
        for meta_rows, column in (
            (vocabulary_rows, "vocabulary_concept_id"),
            (domain_rows, "domain_concept_id"),
            (class_rows, "concept_class_concept_id"),
            (relationship_rows, "relationship_concept_id"),
        ):
            for meta_row in meta_rows:
                meta_id = meta_row[column]
                if meta_id in concepts:
                    rows.setdefault(meta_id, concepts[meta_id])
                elif meta_id not in rows:
                    rows[meta_id] = metadata_concept(meta_id, meta_row, column)
    ancestors = [
        r for r in read_athena(athena / "CONCEPT_ANCESTOR.csv")
        if r["ancestor_concept_id"] in rows and r["descendant_concept_id"] in rows
    ]  # fmt: skip
    present = {(r["ancestor_concept_id"], r["descendant_concept_id"]) for r in ancestors}
    for cid, row in rows.items():
        if row["standard_concept"] == "S" and (cid, cid) not in present:
            ancestors.append(
                {"ancestor_concept_id": cid, "descendant_concept_id": cid,
                 "min_levels_of_separation": "0", "max_levels_of_separation": "0"}
            )  # fmt: skip

    out = project_dir / "seeds" / "vocabulary"
    out.mkdir(parents=True, exist_ok=True)
    by_id = sorted(rows.values(), key=lambda r: int(r["concept_id"]))
    counts = {
        "concept": write_athena(out / "vocabulary_concept.csv", CONCEPT_COLUMNS, by_id),
        "concept_relationship": write_athena(
            out / "vocabulary_concept_relationship.csv",
            [
                "concept_id_1",
                "concept_id_2",
                "relationship_id",
                "valid_start_date",
                "valid_end_date",
                "invalid_reason",
            ],
            sorted(
                kept_relationships,
                key=lambda r: (int(r["concept_id_1"]), int(r["concept_id_2"]), r["relationship_id"]),
            ),
        ),
        "concept_ancestor": write_athena(
            out / "vocabulary_concept_ancestor.csv",
            [
                "ancestor_concept_id",
                "descendant_concept_id",
                "min_levels_of_separation",
                "max_levels_of_separation",
            ],
            sorted(ancestors, key=lambda r: (int(r["ancestor_concept_id"]), int(r["descendant_concept_id"]))),
        ),
        "vocabulary": write_athena(
            out / "vocabulary_vocabulary.csv",
            [
                "vocabulary_id",
                "vocabulary_name",
                "vocabulary_reference",
                "vocabulary_version",
                "vocabulary_concept_id",
            ],
            vocabulary_rows,
        ),
        "domain": write_athena(
            out / "vocabulary_domain.csv", ["domain_id", "domain_name", "domain_concept_id"], domain_rows
        ),
        "concept_class": write_athena(
            out / "vocabulary_concept_class.csv",
            ["concept_class_id", "concept_class_name", "concept_class_concept_id"],
            class_rows,
        ),
        "relationship": write_athena(
            out / "vocabulary_relationship.csv",
            [
                "relationship_id",
                "relationship_name",
                "is_hierarchical",
                "defines_ancestry",
                "reverse_relationship_id",
                "relationship_concept_id",
            ],
            relationship_rows,
        ),
    }
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--athena", type=Path, required=True, help="folder of an Athena download")
    parser.add_argument("--project-dir", type=Path, default=Path.cwd())
    args = parser.parse_args(argv)
    counts = curate(args.athena, args.project_dir)
    for table, count in counts.items():
        print(f"{table}: {count} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
