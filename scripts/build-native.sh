#!/usr/bin/env bash
# Build orchestrator/native/libloopback_bind.so (the bind shim for TFF's worker), if out of date.
set -euo pipefail
cd "$(dirname "$0")/.."
src=orchestrator/native/loopback_bind.c
out=orchestrator/native/libloopback_bind.so
if [ ! -f "$out" ] || [ "$src" -nt "$out" ]; then
  cc=${CC:-cc}
  command -v "$cc" >/dev/null || { echo "wakeword setup: a C compiler (cc) is needed to build $out: apt-get install gcc" >&2; exit 1; }
  "$cc" -O2 -Wall -Wextra -Werror -shared -fPIC -o "$out.tmp" "$src" -ldl
  mv "$out.tmp" "$out"
  echo "wakeword setup: built $out"
fi
