#!/usr/bin/env bash
# Delta Lake's jars (pinned in pom.xml), fetched when pom.xml changed, their paths printed comma-separated.
# Called by the Spark build (ingest/build/spark_target.py) and `./lakehouse test`; see docs/spark.md.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../fetch-jars.sh" "$here" "Delta Lake's jars"
