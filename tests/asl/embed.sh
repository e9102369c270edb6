#!/bin/sh
# Regenerate stdlib/asl_lib.c from stdlib/asl_runtime.lua (the Lua source of
# the `asl` runtime, embedded as a C string). `--check` only compares.
set -e
cd "$(dirname "$0")/../.."
out=$(mktemp)
{
  echo '/* asl_lib.c — GENERATED from stdlib/asl_runtime.lua by tests/asl/embed.sh; do not edit. */'
  echo '#include "asl_lib.h"'
  echo ''
  echo 'const char std_asl_lua_src[] ='
  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/    "/' -e 's/$/\\n"/' stdlib/asl_runtime.lua
  echo '    ;'
} > "$out"
if [ "$1" = "--check" ]; then
  cmp -s "$out" stdlib/asl_lib.c || { rm -f "$out"; echo "stdlib/asl_lib.c is out of date (run tests/asl/embed.sh)"; exit 1; }
  rm -f "$out"
else
  mv "$out" stdlib/asl_lib.c
fi
