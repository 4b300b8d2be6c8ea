#!/usr/bin/env bash
# Fetches Hadoop's S3 connector and the AWS SDK modules it loads (pinned in pom.xml) into target/jars/
# when pom.xml changed since the last fetch, and prints their paths, comma-separated (Spark's
# `spark.jars`). Called by the Spark build of an s3:// lake (ingest/build/spark_target.py) and
# `./lakehouse test`; see docs/scale-out.md, "A lake on S3".
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
stamp="$here/target/.pom.sha256"
want="$(sha256sum "$here/pom.xml" | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    if ! command -v mvn >/dev/null; then
        echo "Error: fetching the S3A jars (spark/s3a) needs Maven (Debian: apt-get install maven)" >&2
        exit 1
    fi
    echo "Fetching the S3A jars (spark/s3a, once per change of pom.xml)..." >&2
    rm -rf "$here/target/jars"
    # Maven's own output goes to stderr: stdout is the jars' paths only.
    (cd "$here" && mvn -q -B package 1>&2)
    echo "$want" > "$stamp"
fi
find "$here/target/jars" -name '*.jar' | LC_ALL=C sort | paste -sd, -
