"""This week's syndromic picture of a région with pandas, from the published marts (what the bulletin shows
in its table), keeping suppressed counts as <NA>.

    .venv/bin/python analyses/bulletin_week_with_pandas.py --lake .lakehouse/lake --region 11
"""

from __future__ import annotations

import argparse

import pandas as pd

from ingest.publish.epi import read_mart


def week_table(lake: str, region: str, week: str | None) -> pd.DataFrame:
    weekly = read_mart(
        "syndromic_indicators_by_week",
        lake=lake,
        columns=[
            "syndrome_group",
            "iso_week",
            "week_start_date",
            "syndrome_act_count",
            "syndrome_share_of_coded_pct",
        ],
        filters={"geo_level": "region", "geo_code": region, "age_class": "all"},
    )
    week = week or weekly["iso_week"].max()
    previous = weekly.loc[weekly["iso_week"] == week, "week_start_date"].iloc[0] - pd.Timedelta(days=7)
    now = weekly[weekly["iso_week"] == week].set_index("syndrome_group")
    before = weekly[weekly["week_start_date"] == previous].set_index("syndrome_group")
    table = now[
        ["syndrome_act_count", "syndrome_share_of_coded_pct", "is_syndrome_act_count_suppressed"]
    ].copy()
    table["previous_count"] = before["syndrome_act_count"]
    # <NA> propagates: a change on a suppressed count stays unknown instead of becoming -100 %.
    table["change_pct"] = (
        100 * (table["syndrome_act_count"] - table["previous_count"]) / table["previous_count"]
    ).round(1)
    return table.sort_values("syndrome_act_count", ascending=False, na_position="last")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--lake", default=None, help="lake root holding publication/ [default: LAKEHOUSE_LAKE]"
    )
    parser.add_argument("--region", default="11")
    parser.add_argument("--week", default=None, help="ISO week, e.g. 2024-W03 [default: the latest]")
    args = parser.parse_args()
    with pd.option_context("display.width", 160, "display.max_columns", 10):
        print(week_table(args.lake, args.region, args.week))
