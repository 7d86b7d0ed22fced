#!/usr/bin/env bash
# The Runtime API stand-in itself (tests/lambda/check_runtime_api.sh): a good exchange and every
# deviation it must refuse and record.
. "$(dirname "$0")/lib.sh"
assert_exit 0 bash "$REPO/tests/lambda/check_runtime_api.sh"
assert_contains "$OUT" "runtime_api.py: all checks passed" "check_runtime_api.sh"
