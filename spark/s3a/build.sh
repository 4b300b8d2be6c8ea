#!/usr/bin/env bash
# Hadoop's S3 connector and the AWS SDK modules it loads (pinned in pom.xml), fetched when pom.xml
# changed, their paths printed comma-separated. Called by the Spark build of an s3:// lake
# (ingest/build/spark_target.py) and `./lakehouse test`; see docs/scale-out.md, "A lake on S3".
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../fetch-jars.sh" "$here" "the S3A jars"
