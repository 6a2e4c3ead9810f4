#!/usr/bin/env bash
# Agent benchmark: 10,000 pods and 1,000 services from the real control plane (in-process, loopback) into
# the real agent and pinned BPF maps on a private bpffs and cgroup2 (removed at the end). Needs root.
# Usage: scripts/bench-agent.sh [rounds]   (prints a Markdown report on stdout, progress on stderr)
# AGENT_JVM_FLAGS: measure the agent process with these JVM flags instead of the shipped ones.
# AGENT_MEMORY_VARIANTS: memory only: flag sets separated by '|' ("shipped" names the shipped set), measured
#   in turn for [rounds] rounds, e.g. AGENT_MEMORY_VARIANTS="shipped|shipped -Xmx48m" scripts/bench-agent.sh 2;
#   a word NAME=value in a set goes to the agent's environment (e.g. "shipped MALLOC_ARENA_MAX=2")
# AGENT_APPLY_ONLY=1: measurement 1 (10,000 endpoint changes) only.
# AGENT_JAR: run this agent jar (with its lib/ beside it) instead of the one just built, e.g. another build's.
# BENCH_JAVA_OPTS: extra flags for the benchmark JVM (the control plane; the agents are separate processes: add
#   flags for them to AGENT_JVM_FLAGS, e.g. "shipped -XX:StartFlightRecording=filename=x.jfr" to profile one).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
export JAVA_HOME
[ "$(id -u)" = 0 ] || { echo "bench-agent: needs root (mounts bpffs and cgroup2, loads BPF programs)" >&2; exit 2; }
ROUNDS=${1:-25}  # 3 of them warm-up; C2 needs more than 9 rounds to be measured warm
TMP=$(mktemp -d -t mkbench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT INT TERM

# One build: the test class path for the benchmark JVM (agent + control plane), and the packaged jar the
# agent process runs as shipped (its manifest puts target/lib/, its runtime dependencies only, on the class path).
mvn -B -q -o -pl dataplane-agent -am package -DskipTests dependency:build-classpath \
  -Dmdep.outputFile="$TMP/test.cp" -Dmdep.includeScope=test >&2
AGENT_CP="${AGENT_JAR:-$PWD/dataplane-agent/target/mocket-agent.jar}"
BENCH_CP="$PWD/dataplane-agent/target/test-classes:$PWD/dataplane-agent/target/classes:$(cat "$TMP/test.cp")"

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r)"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ), java: $("$JAVA" -version 2>&1 | head -1)"
# shellcheck disable=SC2086
AGENT_FLAGS_PROP=()
[ -z "${AGENT_JVM_FLAGS:-}" ] || AGENT_FLAGS_PROP=("-Dmocket.bench.agentJvmFlags=$AGENT_JVM_FLAGS")
[ -z "${AGENT_MEMORY_VARIANTS:-}" ] || AGENT_FLAGS_PROP+=("-Dmocket.bench.memoryVariants=$AGENT_MEMORY_VARIANTS")
[ -z "${AGENT_APPLY_ONLY:-}" ] || AGENT_FLAGS_PROP+=("-Dmocket.bench.applyOnly=true")
"$JAVA" $JVM_FLAGS ${BENCH_JAVA_OPTS:-} "${AGENT_FLAGS_PROP[@]}" -cp "$BENCH_CP" io.mocket.agent.AgentBenchmark "$AGENT_CP" "$ROUNDS"
