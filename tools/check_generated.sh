#!/usr/bin/env bash
# Fails when the committed codec differs from what the generator makes of the
# specs. Skips (exit 0, with a note) when the specs are not beside the repo.
set -euo pipefail
specs=${1:-../shared/kafka-protocol}
root=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -d "$specs" ]; then
  echo "check_generated: no spec folder at $specs; nothing to compare"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 "$root/tools/gen_protocol.py" "$specs" "$tmp"
if ! diff -r -q "$tmp" "$root/src/protocol/generated" >/dev/null; then
  diff -r "$tmp" "$root/src/protocol/generated" | head -50
  echo "check_generated: src/protocol/generated is out of date; run 'make generate' and commit"
  exit 1
fi
echo "check_generated: src/protocol/generated matches $specs"
