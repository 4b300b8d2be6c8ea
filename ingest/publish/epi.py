"""Read the published marts into pandas, for epidemiologists.

Only `publication/` is read: the disclosure-controlled aggregates that `lakehouse export` wrote (no key
store, no warehouse, no dbt needed). Counts come back as nullable integers (`Int64`), so a suppressed
count is `<NA>`, never a float NaN mixed with real values, and the `is_<count>_suppressed` flags are kept
beside them (selected automatically when their count is):

    >>> from ingest.publish.epi import read_mart
    >>> flu = read_mart(
    ...     "syndromic_indicators_by_week",
    ...     lake="/path/to/lake",  # default: LAKEHOUSE_LAKE, else $LAKEHOUSE_HOME/lake
    ...     columns=["iso_week", "week_start_date", "syndrome_act_count", "syndrome_share_of_coded_pct"],
    ...     filters={"syndrome_group": "grippe", "age_class": "all", "geo_level": "region", "geo_code": "11"},
    ... )  # doctest: +SKIP
    >>> flu.columns.tolist()  # doctest: +SKIP
    ['iso_week', 'week_start_date', 'syndrome_act_count', 'syndrome_share_of_coded_pct',
     'is_syndrome_act_count_suppressed']
    >>> flu.plot(x="week_start_date", y="syndrome_act_count")  # doctest: +SKIP

A suppressed count means "withheld" (fewer than k = 11 acts, or hidden so that such a count cannot be
recomputed), not zero: never fill it with 0 before summing. `available_marts()` lists what was published;
`data_dictionary()` gives every column's description.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingest import settings
from ingest.exceptions import ConfigError, ObjectNotFoundError

__all__ = ["PUBLICATION_PREFIX", "MartNotFoundError", "available_marts", "data_dictionary", "read_mart"]

PUBLICATION_PREFIX = "publication"
_MART_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

FilterValue = str | int | float | bool | Sequence[str | int | float | bool]


class MartNotFoundError(ConfigError):
    """The publication area or the mart asked for does not exist."""


class _Publication:
    """The publication/ folder of a lake: a local folder, or an S3 prefix read through the object store."""

    def __init__(self, lake: str | Path | None) -> None:
        root = str(lake) if lake is not None else settings.lake_url()
        self.root = root.rstrip("/")
        self._store: Any = None
        if self.root.startswith("s3://"):
            from ingest.lake.storage import open_store

            self._store = open_store(self.root)
        else:
            path = Path(self.root.removeprefix("file://")).expanduser()
            # Accept the publication folder itself as well as the lake root: analysts often cd into it.
            self.folder = path if (path / "_export.json").is_file() else path / PUBLICATION_PREFIX

    def where(self) -> str:
        return f"{self.root}/{PUBLICATION_PREFIX}" if self._store is not None else str(self.folder)

    def names(self) -> list[str]:
        if self._store is not None:
            files = [p.rsplit("/", 1)[-1] for p in self._store.list(PUBLICATION_PREFIX)]
        elif self.folder.is_dir():
            files = [p.name for p in self.folder.iterdir()]
        else:
            files = []
        return sorted(f.removesuffix(".parquet") for f in files if f.endswith(".parquet"))

    def read_bytes(self, name: str) -> bytes:
        if self._store is not None:
            return self._store.get(f"{PUBLICATION_PREFIX}/{name}")
        return (self.folder / name).read_bytes()

    def parquet_source(self, name: str) -> Any:
        # Local files are opened by path, so pyarrow reads only the columns and row groups it needs.
        if self._store is not None:
            return io.BytesIO(self.read_bytes(f"{name}.parquet"))
        return str(self.folder / f"{name}.parquet")


def available_marts(*, lake: str | Path | None = None) -> list[str]:
    """The marts in `publication/` of the lake (default: LAKEHOUSE_LAKE, else $LAKEHOUSE_HOME/lake)."""
    return _Publication(lake).names()


def data_dictionary(*, lake: str | Path | None = None) -> dict[str, dict[str, str]]:
    """{mart: {column: description}} from the exported `data_dictionary.json`."""
    publication = _Publication(lake)
    try:
        entries = json.loads(publication.read_bytes("data_dictionary.json"))
    except (FileNotFoundError, ObjectNotFoundError) as exc:
        raise MartNotFoundError(
            f"No data dictionary in `{publication.where()}`: run `lakehouse export` (or `lakehouse run`)"
        ) from exc
    return {e["name"]: {c["name"]: c["description"] for c in e["columns"]} for e in entries}


def _suppression_flag(column: str) -> str:
    return f"is_{column}_suppressed"


def _with_flags(columns: Sequence[str], schema: pa.Schema) -> list[str]:
    """The columns asked for, plus the suppression flag of every count among them (if the mart has one)."""
    chosen = list(dict.fromkeys(columns))
    for column in list(chosen):
        flag = _suppression_flag(column)
        if flag in schema.names and flag not in chosen:
            chosen.append(flag)
    return chosen


def _filter_expression(filters: Mapping[str, FilterValue], schema: pa.Schema, mart: str) -> pc.Expression:
    expression: pc.Expression | None = None
    for column, wanted in filters.items():
        if column not in schema.names:
            raise ConfigError(f"Mart `{mart}` has no column `{column}` to filter on")
        values = [wanted] if isinstance(wanted, str | int | float | bool) else list(wanted)
        term = pc.field(column).isin(values)
        expression = term if expression is None else expression & term
    assert expression is not None
    return expression


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow → pandas keeping NULLs as <NA> (Int64, Float64, boolean, string); dates as datetime64."""
    frame = table.to_pandas(
        types_mapper={
            pa.int64(): pd.Int64Dtype(),
            pa.int32(): pd.Int32Dtype(),
            pa.float64(): pd.Float64Dtype(),
            pa.bool_(): pd.BooleanDtype(),
            pa.string(): pd.StringDtype(),
            pa.large_string(): pd.StringDtype(),
        }.get,
        # datetime64 rather than datetime.date objects: plotting, resampling and `.dt` work directly.
        date_as_object=False,
    )
    for field in table.schema:
        if pa.types.is_date(field.type):
            frame[field.name] = frame[field.name].astype("datetime64[ms]")
    return frame


def read_mart(
    name: str,
    *,
    lake: str | Path | None = None,
    columns: Sequence[str] | None = None,
    filters: Mapping[str, FilterValue] | None = None,
) -> pd.DataFrame:
    """One published mart as a DataFrame, suppression flags kept.

    name     a mart of publication/ (see `available_marts()`), e.g. "syndromic_indicators_by_week"
    lake     lake root (folder, file:// or s3://bucket/prefix) or the publication folder itself;
             default LAKEHOUSE_LAKE, else $LAKEHOUSE_HOME/lake. S3 uses LAKEHOUSE_S3_ENDPOINT and AWS_*.
    columns  only these columns; the `is_<count>_suppressed` flag of each chosen count is added
    filters  {column: value or list of values}, all must match (pushed down to the Parquet reader)
    """
    if not _MART_NAME.match(name):
        raise MartNotFoundError(f"`{name}` is not a mart name (lower-case letters, digits and _)")
    publication = _Publication(lake)
    published = publication.names()
    if name not in published:
        if not published:
            raise MartNotFoundError(
                f"No published marts in `{publication.where()}`: run `lakehouse run` (or `lakehouse build` "
                "then `lakehouse export`), or point LAKEHOUSE_LAKE (or lake=) at the lake root"
            )
        raise MartNotFoundError(
            f"Mart `{name}` is not in `{publication.where()}`; published: {', '.join(published)}"
        )
    source = publication.parquet_source(name)
    schema = pq.read_schema(source)
    if isinstance(source, io.BytesIO):
        source.seek(0)
    if columns is not None:
        unknown = [c for c in columns if c not in schema.names]
        if unknown:
            raise ConfigError(f"Mart `{name}` has no column(s) {', '.join(f'`{c}`' for c in unknown)}")
        columns = _with_flags(columns, schema)
    expression = _filter_expression(filters, schema, name) if filters else None
    return to_pandas(pq.read_table(source, columns=columns, filters=expression))
