#!/usr/bin/env bash
# The Vertica emulator's own self-test (tests/vertica/test_emulator.py): the tool every Vertica
# scenario relies on speaks the protocol as the notes describe and refuses deviations.
. "$(dirname "$0")/lib.sh"
"$PYTHON" "$REPO/tests/vertica/test_emulator.py" >"$WS/selftest.log" 2>&1 || { tail -n 40 "$WS/selftest.log"; fail "the emulator's self-test failed"; }
assert_contains "$(tail -n 1 "$WS/selftest.log")" "all passed" "self-test result"
