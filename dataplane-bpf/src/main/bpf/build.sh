#!/usr/bin/env bash
# Compiles every *.bpf.c beside this script into <out-dir>/<name>.bpf.o.
# Called by Maven at generate-resources; needs clang, llvm, libbpf-dev and linux-libc-dev.
set -euo pipefail

src_dir="$(cd "$(dirname "$0")" && pwd)"
out_dir="${1:?usage: build.sh <out-dir>}"
clang_bin="${CLANG:-clang}"

fail() { echo "dataplane-bpf: $*" >&2; exit 1; }

command -v "$clang_bin" >/dev/null 2>&1 \
  || fail "'$clang_bin' not found: the BPF programs need clang (apt-get install clang llvm libbpf-dev linux-libc-dev)"
[[ -f /usr/include/bpf/bpf_helpers.h ]] \
  || fail "libbpf headers not found (/usr/include/bpf/bpf_helpers.h): apt-get install libbpf-dev"
[[ -f /usr/include/linux/bpf.h ]] \
  || fail "kernel UAPI headers not found (/usr/include/linux/bpf.h): apt-get install linux-libc-dev"

# asm/types.h lives under the multiarch include directory on Debian.
multiarch="$(gcc -print-multiarch 2>/dev/null || true)"
[[ -n "$multiarch" ]] || multiarch="$(uname -m)-linux-gnu"

mkdir -p "$out_dir"
for src in "$src_dir"/*.bpf.c; do
  obj="$out_dir/$(basename "${src%.c}").o"
  "$clang_bin" -O2 -g -target bpf -mcpu=v3 -Wall -Werror \
    -I"$src_dir/include" -I"/usr/include/$multiarch" \
    -c "$src" -o "$obj" \
    || fail "compiling $(basename "$src") failed (see clang's message above)"
  # DWARF is not needed at run time; BTF (kept by -g) is.
  if command -v llvm-strip >/dev/null 2>&1; then
    llvm-strip -g "$obj"
  fi
done
