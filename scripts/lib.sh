# Shared shell helpers for demo and test scripts (sourced).
JVM_FLAGS="--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow"
# The JDK 25 that make found (exported as JAVA_HOME); the default java may be older.
JAVA_HOME=${JAVA_HOME:-$("$(dirname "${BASH_SOURCE[0]}")/find-jdk.sh")} || exit 1
JAVA="$JAVA_HOME/bin/java"
BUF="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.tools/node_modules/.bin/buf"

# A free TCP port on loopback.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_ready URL SECONDS PID: polls URL until HTTP 200, the process dies, or the deadline passes.
wait_ready() {
  local url=$1 deadline=$((SECONDS + $2)) pid=$3
  while [ $SECONDS -lt $deadline ]; do
    kill -0 "$pid" 2>/dev/null || { echo "control plane exited before it was ready" >&2; return 1; }
    curl -fs -o /dev/null "$url" && return 0
    sleep 0.3
  done
  echo "control plane not ready at $url after $2 s" >&2
  return 1
}
