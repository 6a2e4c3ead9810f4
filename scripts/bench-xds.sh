#!/usr/bin/env bash
# Runs the control plane's xDS scale benchmark (io.mocket.controlplane.bench.XdsScaleBenchmark) and prints
# its results table. Arguments go to the benchmark, e.g.:
#   scripts/bench-xds.sh --clients=1000 --changes=200
#   scripts/bench-xds.sh --help
# The server runs in this JVM, the clients in a child JVM on the same machine, both on loopback only.
# BENCH_HEAP sets the server JVM's -Xmx (default 2g); BENCH_JVM_OPTS adds flags (e.g. a JFR recording).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
export JAVA_HOME  # lib.sh found the JDK 25; Maven must run on it too
CP_FILE=control-plane/target/bench.classpath

# Compile the test sources (the benchmark lives there) and write the test classpath of the control plane.
# -am builds the api module in the same reactor, so nothing has to be installed in the local repository.
echo "Compiling the benchmark (mvn test-compile) ..." >&2
mvn -B -ntp -q -pl control-plane -am test-compile dependency:build-classpath \
  -Dmdep.outputFile=target/bench.classpath -Dmdep.includeScope=test >&2
[ -s "$CP_FILE" ] || { echo "no classpath written to $CP_FILE: see the Maven output above" >&2; exit 1; }

CP="control-plane/target/test-classes:control-plane/target/classes:$(cat "$CP_FILE")"
# shellcheck disable=SC2086 # JVM_FLAGS and BENCH_JVM_OPTS are word lists
exec "$JAVA_HOME/bin/java" $JVM_FLAGS -Xmx"${BENCH_HEAP:-2g}" -XX:+UseG1GC ${BENCH_JVM_OPTS:-} \
  -cp "$CP" io.mocket.controlplane.bench.XdsScaleBenchmark "$@"
