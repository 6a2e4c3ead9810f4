#!/usr/bin/env bash
# Runs the control plane on the example cluster (examples/cluster, no Kubernetes needed), shows what it
# serves, and keeps serving until Ctrl-C (or for DEMO_SECONDS seconds when that is set).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
JAR=$1
XDS_PORT=${XDS_PORT:-15110}
ADMIN_PORT=${ADMIN_PORT:-15114}

"$JAVA" $JVM_FLAGS -jar "$JAR" --mocket.source=file:examples/cluster --mocket.xds.port="$XDS_PORT" \
  --server.port="$ADMIN_PORT" --mocket.xds.address=127.0.0.1 --server.address=127.0.0.1 > demo.log 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null || true' EXIT INT TERM
echo "Starting the Mocket control plane on examples/cluster (log: demo.log) ..."
if ! wait_ready "http://127.0.0.1:$ADMIN_PORT/health/readiness" 90 "$PID"; then
  tail -40 demo.log >&2
  exit 1
fi

echo
echo "== Ready. What the index holds (GET /debug/index):"
curl -s "http://127.0.0.1:$ADMIN_PORT/debug/index"; echo
echo
echo "== One workload by its IP alias, over gRPC (mocket.v1.Index/GetAddress):"
"$BUF" curl --protocol grpc --http2-prior-knowledge -d '{"name":"/10.244.1.10"}' \
  "http://127.0.0.1:$XDS_PORT/mocket.v1.Index/GetAddress"
echo
echo "== The first delta push a ztunnel-style client gets for Authorization:"
"$BUF" curl --protocol grpc --http2-prior-knowledge \
  -d '{"typeUrl":"type.googleapis.com/istio.security.Authorization"}' \
  "http://127.0.0.1:$XDS_PORT/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources" | head -60
cat <<TXT

== Inspect it yourself (grpcurl users: the same with grpcurl -plaintext 127.0.0.1:$XDS_PORT ...):
  grpcurl -plaintext 127.0.0.1:$XDS_PORT list
  grpcurl -plaintext 127.0.0.1:$XDS_PORT describe istio.workload.Address
  grpcurl -plaintext -d '{"type_url":"type.googleapis.com/istio.workload.Address"}' \\
      127.0.0.1:$XDS_PORT envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources
  $BUF curl --protocol grpc --http2-prior-knowledge --list-methods http://127.0.0.1:$XDS_PORT
  curl http://127.0.0.1:$ADMIN_PORT/debug/clients     # connected clients and their ACKed versions
  curl http://127.0.0.1:$ADMIN_PORT/metrics           # Prometheus
  edit examples/cluster/*.yaml and watch the pushes (the directory is watched)

Serving on xDS 127.0.0.1:$XDS_PORT and admin 127.0.0.1:$ADMIN_PORT. Ctrl-C stops.
TXT
if [ -n "${DEMO_SECONDS:-}" ]; then
  sleep "$DEMO_SECONDS"
else
  wait $PID
fi
