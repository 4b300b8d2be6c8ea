#!/usr/bin/env bash
# Fetches the jars a Maven module under spark/ pins in its pom.xml (spark/delta, spark/s3a) into its
# target/jars/ when pom.xml changed since the last fetch, and prints their paths, comma-separated
# (Spark's `spark.jars`). Usage: fetch-jars.sh <module folder> <what, for messages>.
set -euo pipefail
here="$1"
what="$2"
name="spark/$(basename "$here")"
stamp="$here/target/.pom.sha256"
want="$(sha256sum "$here/pom.xml" | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    if ! command -v mvn >/dev/null; then
        echo "Error: fetching $what ($name) needs Maven (Debian: apt-get install maven)" >&2
        exit 1
    fi
    echo "Fetching $what ($name, once per change of pom.xml)..." >&2
    rm -rf "$here/target/jars"
    # Maven's own output goes to stderr: stdout is the jars' paths only.
    (cd "$here" && mvn -q -B package 1>&2)
    echo "$want" > "$stamp"
fi
find "$here/target/jars" -name '*.jar' | LC_ALL=C sort | paste -sd, -
