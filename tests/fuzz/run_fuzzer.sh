#!/usr/bin/env bash
# Runs a libFuzzer target: first over its saved regressions (inputs that once
# crashed it), then for a bounded time from a fresh corpus seeded with them.
# A crash fails the test and leaves the input beside the build for a new
# regression file.
set -euo pipefail
bin=$1
regressions=$2
seconds=$3
if [ ! -x "$bin" ]; then
  echo "fuzzer $bin is not built; run 'make fuzz-build'"
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if compgen -G "$regressions/*" >/dev/null; then
  "$bin" -runs=0 "$regressions"/*
  cp "$regressions"/* "$work/"
fi
artifacts=$(dirname "$bin")/fuzz-artifacts/$(basename "$bin")/
mkdir -p "$artifacts"
"$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
       -artifact_prefix="$artifacts" "$work" 2>&1 | tail -n 25
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
  echo "fuzzer found a failing input; it is in $artifacts (copy it to $regressions/ once fixed)"
fi
exit "$status"
