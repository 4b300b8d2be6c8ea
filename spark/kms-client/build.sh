#!/usr/bin/env bash
# Builds the KMS client jar (Maven, Java 17) when its sources changed since the last build, and prints
# the jar's path. Called by `./lakehouse test` and by the Spark tests; see docs/spark.md.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
jar="$here/target/lakehouse-kms-client-0.1.0.jar"
stamp="$here/target/.sources.sha256"
want="$(cd "$here" && find pom.xml src -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1)"
if [[ ! -f "$jar" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    if ! command -v mvn >/dev/null; then
        echo "Error: building spark/kms-client needs Maven and Java 17 (Debian: apt-get install maven openjdk-17-jdk-headless)" >&2
        exit 1
    fi
    echo "Building the Spark KMS client (spark/kms-client, once per change)..." >&2
    # Maven's own output goes to stderr: stdout is the jar's path only.
    (cd "$here" && mvn -q -B package -DskipTests 1>&2)
    echo "$want" > "$stamp"
fi
echo "$jar"
