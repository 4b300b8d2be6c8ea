"""The source extract contract, loaded from its versioned YAML file into frozen dataclasses."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

import yaml

from ingest.exceptions import ContractError
from ingest.settings import PROJECT_ROOT

ColumnType = Literal["string", "code", "integer", "decimal", "date", "time"]
Identifying = Literal["drop", "pseudonym", "generalise"]

CONTRACT_DIR = Path(__file__).parent / "contract"
DEFAULT_CONTRACT = CONTRACT_DIR / "extract_contract_v1.yaml"
# Seeds are the single home of the network's code lists, shared with dbt; paths in the contract are
# relative to the project root.
_TYPES = {"string", "code", "integer", "decimal", "date", "time"}
_IDENTIFYING = {"drop", "pseudonym", "generalise"}


@dataclass(frozen=True)
class Column:
    source: str
    name: str
    type: ColumnType
    required: bool
    description: str
    pattern: str | None = None
    codes: frozenset[str] | None = None
    min: float | None = None
    max: float | None = None
    identifying: Identifying | None = None

    @property
    def ignored(self) -> bool:
        """Free text that no rule checks and that never lands (a note, an address, a phone number): the
        readers skip it, so its values are never copied out of the file's bytes."""
        return self.identifying == "drop" and not self.required and self.pattern is None


@dataclass(frozen=True)
class Entity:
    name: str
    dataset: str
    description: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]

    @property
    def source_names(self) -> tuple[str, ...]:
        return tuple(c.source for c in self.columns)

    @property
    def read_names(self) -> tuple[str, ...]:
        """The columns a reader keeps: all but the ignored ones."""
        return tuple(c.source for c in self.columns if not c.ignored)

    def column(self, source: str) -> Column:
        for c in self.columns:
            if c.source == source:
                return c
        raise KeyError(source)


@dataclass(frozen=True)
class Contract:
    name: str
    version: str
    file_name_pattern: re.Pattern[str]
    delimiter: str
    encodings: tuple[str, ...]
    entities: dict[str, Entity] = field(default_factory=dict)
    associations: frozenset[str] | None = None  # the network's registry; None accepts any
    # Longest period a file named <A>_<first>_<last>_<entity>.csv may cover, in days (both ends included).
    max_period_days: int = 1

    def entity_for_dataset(self, dataset: str) -> Entity:
        for e in self.entities.values():
            if e.dataset == dataset:
                return e
        raise KeyError(dataset)


def _load_codes(spec: str, root: Path, where: str) -> frozenset[str]:
    rel, _, column = spec.partition(":")
    path = root / rel
    try:
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise ContractError(f"{where}: code list `{rel}` cannot be read ({e.strerror})") from e
    if not rows or column not in rows[0]:
        raise ContractError(f"{where}: code list `{rel}` has no column `{column}`")
    return frozenset(r[column] for r in rows if r[column])


def _column(raw: dict, root: Path, where: str) -> Column:
    where = f"{where}.{raw.get('source', '?')}"
    for k in ("source", "name", "type", "description"):
        if k not in raw:
            raise ContractError(f"{where}: missing `{k}`")
    if raw["type"] not in _TYPES:
        raise ContractError(f"{where}: unknown type `{raw['type']}`")
    ident = raw.get("identifying")
    if ident is not None and ident not in _IDENTIFYING:
        raise ContractError(f"{where}: unknown identifying mode `{ident}`")
    codes: frozenset[str] | None = None
    if "codes" in raw:
        codes = frozenset(str(c) for c in raw["codes"])
    elif "codes_from" in raw:
        codes = _load_codes(raw["codes_from"], root, where)
    if raw["type"] == "code" and codes is None:
        raise ContractError(f"{where}: a code column needs `codes` or `codes_from`")
    pattern = raw.get("pattern")
    if pattern is not None:
        re.compile(pattern)
    return Column(
        source=raw["source"],
        name=raw["name"],
        type=raw["type"],
        required=bool(raw.get("required", False)),
        description=raw["description"],
        pattern=pattern,
        codes=codes,
        min=raw.get("min"),
        max=raw.get("max"),
        identifying=ident,
    )


def load_contract(path: Path = DEFAULT_CONTRACT, *, root: Path = PROJECT_ROOT) -> Contract:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ContractError(f"contract `{path}` cannot be read: {e}") from e
    entities: dict[str, Entity] = {}
    for name, raw in doc["entities"].items():
        where = f"{doc['contract']} v{doc['version']} `{name}`"
        cols = tuple(_column(c, root, where) for c in raw["columns"])
        sources = [c.source for c in cols]
        if len(set(sources)) != len(sources):
            raise ContractError(f"{where}: duplicate source column")
        missing_key = [k for k in raw["key"] if k not in sources]
        if missing_key:
            raise ContractError(f"{where}: key column(s) {missing_key} not in columns")
        entities[name] = Entity(
            name=name,
            dataset=raw["dataset"],
            description=raw["description"],
            key=tuple(raw["key"]),
            columns=cols,
        )
    return Contract(
        name=doc["contract"],
        version=str(doc["version"]),
        file_name_pattern=re.compile(doc["file_name_pattern"]),
        delimiter=doc["delimiter"],
        encodings=tuple(doc["encodings"]),
        entities=entities,
        max_period_days=int(doc.get("max_period_days", 1)),
        associations=(
            _load_codes(doc["associations_from"], root, f"{doc['contract']} v{doc['version']}")
            if "associations_from" in doc
            else None
        ),
    )


@cache
def default_contract() -> Contract:
    return load_contract()
