#!/usr/bin/env bash
# Installs what the build and tests need on a fresh Debian machine, skipping what is already there.
# Debian packages come from apt; the buf CLI (a grpcurl equivalent used by the reflection test) from npm
# into .tools/ of the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."

# What must exist -> the Debian package that provides it.
declare -A NEED=(
  [cmd:mvn]=maven
  [cmd:curl]=curl
  [cmd:npm]=npm
  [cmd:python3]=python3
  [cmd:clang]=clang                               # BPF programs (-target bpf)
  [cmd:llvm-strip]=llvm
  [file:/usr/include/bpf/libbpf.h]=libbpf-dev
  [file:/usr/include/linux/bpf.h]=linux-libc-dev
  [lib:libbpf.so.1]=libbpf1                       # loaded at run time through FFM
  [cmd:ip]=iproute2                               # network namespaces in the data-path tests
)
# `install-deps.sh bench` adds what the data-path benchmark compares against and loads with.
if [ "${1:-}" = bench ]; then
  NEED+=([cmd:wrk]=wrk [cmd:iperf3]=iperf3 [cmd:haproxy]=haproxy [cmd:nft]=nftables)
fi
missing=()
for need in "${!NEED[@]}"; do
  kind=${need%%:*} what=${need#*:}
  case $kind in
    cmd) command -v "$what" >/dev/null 2>&1 && continue ;;
    file) [ -e "$what" ] && continue ;;
    lib) ldconfig -p 2>/dev/null | grep -q "$what" && continue ;;
  esac
  missing+=("${NEED[$need]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "Missing packages: ${missing[*]}. Install them (apt-get install ${missing[*]}) or run make as root." >&2
    exit 1
  fi
  echo "Installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

BUF_VERSION=1.75.0
if [ ! -x .tools/node_modules/.bin/buf ] || [ "$(.tools/node_modules/.bin/buf --version 2>/dev/null)" != "$BUF_VERSION" ]; then
  echo "Installing buf $BUF_VERSION into .tools/"
  mkdir -p .tools
  npm install --silent --no-audit --no-fund --prefix .tools "@bufbuild/buf@$BUF_VERSION" >/dev/null
fi
