#!/usr/bin/env bash
# Inspection test with a real gRPC client nobody here wrote (buf curl, a grpcurl equivalent): the
# packaged control plane, started on examples/cluster, must answer server reflection (list the ADS
# service, resolve istio.workload.Address) and let a reflection client decode the Any payloads of a
# delta xDS response. Loopback only; the server is stopped on exit, also on failure.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
JAR=$1
XDS_PORT=$(free_port)
ADMIN_PORT=$(free_port)
LOG=$(mktemp -t mocket-reflection-XXXX.log)

"$JAVA" $JVM_FLAGS -jar "$JAR" --mocket.source=file:examples/cluster --mocket.xds.port="$XDS_PORT" \
  --mocket.xds.address=127.0.0.1 --server.port="$ADMIN_PORT" --server.address=127.0.0.1 > "$LOG" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -f "$LOG"' EXIT INT TERM
wait_ready "http://127.0.0.1:$ADMIN_PORT/health/readiness" 90 "$PID" || { tail -50 "$LOG"; exit 1; }

passed=0 failed=0
check() { # check NAME EXPECTED-REGEX OUTPUT
  if grep -Ezq -- "$2" <<<"$3"; then passed=$((passed + 1)); echo "ok   $1"
  else failed=$((failed + 1)); echo "FAIL $1: expected /$2/ in:"; head -30 <<<"$3"; fi
}
URL="http://127.0.0.1:$XDS_PORT"
CURL=("$BUF" curl --protocol grpc --http2-prior-knowledge)

out=$("${CURL[@]}" --list-methods "$URL" 2>&1)
check "reflection lists the delta ADS method" 'envoy\.service\.discovery\.v3\.AggregatedDiscoveryService/DeltaAggregatedResources' "$out"
check "reflection lists the SotW ADS method" 'envoy\.service\.discovery\.v3\.AggregatedDiscoveryService/StreamAggregatedResources' "$out"
check "reflection lists the index lookups" 'mocket\.v1\.Index/GetAddress' "$out"

out=$("${CURL[@]}" --reflect-protocol grpc-v1alpha --list-methods "$URL" 2>&1)
check "v1alpha reflection answers too" 'DeltaAggregatedResources' "$out"

out=$("${CURL[@]}" -d '{"typeUrl":"type.googleapis.com/istio.workload.Address"}' \
  "$URL/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources" 2>&1)
check "delta response decodes Address payloads through reflection" '"@type": "type.googleapis.com/istio.workload.Address"' "$out"
check "decoded workloads carry their uid" '"uid": "Kubernetes//Pod/' "$out"
check "decoded services carry their hostname" '"hostname": "[a-z0-9-]+\.[a-z0-9-]+\.svc\.cluster\.local"' "$out"

out=$("${CURL[@]}" -d '{"typeUrl":"type.googleapis.com/istio.security.Authorization"}' \
  "$URL/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources" 2>&1)
check "delta response decodes Authorization payloads" '"@type": "type.googleapis.com/istio.security.Authorization"' "$out"

out=$("${CURL[@]}" -d '{"typeUrl":"type.googleapis.com/no.such.Type"}' \
  "$URL/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources" 2>&1)
check "an unknown type URL gets invalid_argument naming it" 'invalid_argument.*no\.such\.Type' "$out"

out=$("${CURL[@]}" -d '{"name":"default/nope"}' "$URL/mocket.v1.Index/GetAddress" 2>&1)
check "lookup of a missing name is not_found" 'not_found' "$out"

echo
echo "reflection: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
