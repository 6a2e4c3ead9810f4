#!/usr/bin/env bash
# Data-path benchmark: short-connection HTTP req/s, latency percentiles and iperf3 throughput between two
# pods of a namespace cluster on this kernel, over four paths side by side (direct pod IP, Mocket BPF
# socket LB, nftables DNAT, haproxy hop). Writes integration-tests/BENCHMARKS-datapath.md.
#
#   integration-tests/bench-datapath.sh [DatapathBenchmark options, e.g. --rounds 7 --seconds 5]
#
# Needs root, JDK 25, and: wrk iperf3 haproxy nftables iproute2 (apt-get install). Every namespace, mount
# and pin it creates is named mkdpb<6 hex digits> and removed at the end, on error and on Ctrl-C; a later run
# also removes what a killed run left.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" -eq 0 ] || { echo "run as root: the benchmark builds network namespaces and loads BPF programs" >&2; exit 1; }
missing=()
for need in wrk:wrk iperf3:iperf3 haproxy:haproxy nft:nftables ip:iproute2 ss:iproute2; do
  command -v "${need%%:*}" >/dev/null 2>&1 || missing+=("${need#*:}")
done
[ ${#missing[@]} -eq 0 ] || { echo "missing packages: apt-get install ${missing[*]}" >&2; exit 1; }

# Installed before anything runs: bash acts on a signal only after its foreground command ends, and one
# that arrives during the build must still stop the script rather than start the benchmark.
pid=
stop() {
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null # the JVM's shutdown hook removes the cluster
    wait "$pid"
  fi
  exit 130
}
trap stop INT TERM

JAVA_HOME=${JAVA_HOME:-$(scripts/find-jdk.sh)}
export JAVA_HOME
mvn -B -q -ntp -pl integration-tests -am package -DskipTests

cp="integration-tests/target/classes:dataplane-bpf/target/classes"
out="integration-tests/BENCHMARKS-datapath.md"
"$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$cp" io.mocket.it.DatapathBenchmark \
  --output "$out" --command "integration-tests/bench-datapath.sh $*" "$@" &
pid=$!
wait "$pid"
echo "results in $out"
