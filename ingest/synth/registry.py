"""The network's association registry (seeds/network/associations.csv), rendered from the synthetic network.

Ingest refuses extract files from an association the registry does not know; dbt reads it for care sites.
In production the registry is maintained by hand; here it must equal what the generator simulates, which
`tests/test_synth_network.py` checks.
"""

from __future__ import annotations

import csv
import io

from ingest.synth.network import network

COLUMNS = [
    "association_id",
    "city",
    "dep_code",
    "reg_code",
    "base_site_id",
    "base_commune_code",
    "export_encoding",
]


def render_registry() -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMNS)
    for a in sorted(network(), key=lambda a: a.code):
        w.writerow([a.code, a.city, a.dep, a.region, a.base.code, a.base.commune_code, a.encoding])
    return out.getvalue()


if __name__ == "__main__":
    from ingest.contract import PROJECT_ROOT

    (PROJECT_ROOT / "seeds" / "network" / "associations.csv").write_text(render_registry(), encoding="utf-8")
