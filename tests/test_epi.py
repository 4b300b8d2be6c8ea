"""ingest.publish.epi: the published marts as pandas DataFrames, suppressed counts as <NA> beside their flags,
from a local lake, the publication folder itself, or an S3 bucket (moto on 127.0.0.1)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ingest.exceptions import ConfigError
from ingest.lake.storage import ObjectStore
from ingest.publish.epi import MartNotFoundError, available_marts, data_dictionary, read_mart
from tests.test_report_publication import build_publication

FLU_IDF = {"syndrome_group": "grippe", "age_class": "all", "geo_level": "region", "geo_code": "11"}


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lake")
    build_publication(root)
    return root


def test_suppressed_counts_are_na_with_their_flags(lake: Path) -> None:
    weekly = read_mart("syndromic_indicators_by_week", lake=lake)
    assert str(weekly["syndrome_act_count"].dtype) == "Int64"  # not float: no NaN mixed with counts
    assert str(weekly["is_syndrome_act_count_suppressed"].dtype) == "boolean"
    assert str(weekly["week_start_date"].dtype).startswith("datetime64")
    hidden = weekly["is_syndrome_act_count_suppressed"].astype(bool)
    assert hidden.any() and (~hidden).any()
    assert weekly.loc[hidden, "syndrome_act_count"].isna().all()
    assert weekly.loc[~hidden, "syndrome_act_count"].notna().all()
    assert weekly.loc[hidden, "syndrome_share_of_coded_pct"].isna().all()


def test_chosen_counts_bring_their_flags(lake: Path) -> None:
    flu = read_mart(
        "syndromic_indicators_by_week",
        lake=lake,
        columns=["iso_week", "syndrome_act_count", "act_count"],
        filters=FLU_IDF,
    )
    assert flu.columns.tolist() == [
        "iso_week", "syndrome_act_count", "act_count", "is_syndrome_act_count_suppressed",
        "is_act_count_suppressed",
    ]  # fmt: skip
    assert len(flu) == flu["iso_week"].nunique() == 143


def test_filters_accept_lists(lake: Path) -> None:
    both = read_mart(
        "epidemic_baseline_by_week", lake=lake, filters={"geo_code": ["11", "84"], "syndrome_group": "gea"}
    )
    assert set(both["geo_code"]) == {"11", "84"} and set(both["syndrome_group"]) == {"gea"}


def test_publication_folder_or_lake_root(lake: Path) -> None:
    from_root = read_mart("epidemic_baseline_by_week", lake=lake)
    from_folder = read_mart("epidemic_baseline_by_week", lake=lake / "publication")
    pd.testing.assert_frame_equal(from_root, from_folder)


def test_default_lake_comes_from_the_environment(lake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_LAKE", str(lake))
    assert "syndromic_indicators_by_week" in available_marts()
    assert data_dictionary()["epidemic_baseline_by_week"]["observed_count"]


def test_unknown_mart_lists_what_is_published(lake: Path) -> None:
    with pytest.raises(MartNotFoundError, match=r"Mart `cells` is not in `.*publication`; published: care_"):
        read_mart("cells", lake=lake)


def test_empty_lake_says_how_to_publish(tmp_path: Path) -> None:
    with pytest.raises(MartNotFoundError, match=r"No published marts in .*run `lakehouse run`"):
        read_mart("syndromic_indicators_by_week", lake=tmp_path)
    assert not (tmp_path / "publication").exists()  # reading never creates folders


def test_unknown_column_is_named(lake: Path) -> None:
    with pytest.raises(ConfigError, match=r"has no column\(s\) `flu_count`"):
        read_mart("syndromic_indicators_by_week", lake=lake, columns=["flu_count"])
    with pytest.raises(ConfigError, match=r"has no column `region` to filter on"):
        read_mart("syndromic_indicators_by_week", lake=lake, filters={"region": "11"})


def test_mart_name_cannot_escape_the_publication(lake: Path) -> None:
    with pytest.raises(MartNotFoundError, match="is not a mart name"):
        read_mart("../raw/acts", lake=lake)


@pytest.mark.s3
def test_reads_an_s3_lake(
    lake: Path, s3_store: ObjectStore, s3_settings: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    for path in (lake / "publication").iterdir():
        s3_store.put(f"publication/{path.name}", path.read_bytes())
    monkeypatch.setenv("LAKEHOUSE_S3_ENDPOINT", s3_settings.endpoint_url)  # type: ignore[attr-defined]
    url = s3_store.uri("").rstrip("/")
    assert available_marts(lake=url) == available_marts(lake=lake)
    remote = read_mart("syndromic_indicators_by_week", lake=url, filters=FLU_IDF)
    local = read_mart("syndromic_indicators_by_week", lake=lake, filters=FLU_IDF)
    pd.testing.assert_frame_equal(remote, local)


def test_analyses_example_runs(lake: Path) -> None:
    """analyses/bulletin_week_with_pandas.py, as the docs tell an epidemiologist to run it."""
    import subprocess
    import sys

    project = Path(__file__).resolve().parent.parent
    script = project / "analyses" / "bulletin_week_with_pandas.py"
    command = [sys.executable, str(script), "--lake", str(lake), "--region", "11", "--week", "2024-W05"]
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=project)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["syndrome_act_count", "syndrome_share_of_coded_pct"]
    assert lines[2].split()[:2] == ["grippe", "1357"]  # sorted by count, the epidemic leads
    assert any(line.split()[0] == "bronchiolite" and "<NA>" in line for line in lines[2:])
