#!/usr/bin/env bash
# Runs the integration scenarios: every tests/integration/t_*.sh, or only those named
# (run.sh t_repair duplicates ...). Each runs in its own bash process with a 120 s timeout
# (ZLOAD_TEST_TIMEOUT), or the one its file asks for in a line "# test-timeout: SECONDS".
# Prints "PASS name (Ns)" (and the lines of its output that start with "REPORT ") or "FAIL name"
# (and the end of its output) per test, and ends with "N passed, M failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
export ZLOAD=${ZLOAD:-$here/../../build/zload}
timeout_secs=${ZLOAD_TEST_TIMEOUT:-120}

tests=()
if (($#)); then
	for name; do
		name=$(basename "$name" .sh)
		[[ $name == t_* ]] || name=t_$name
		if [[ ! -f $here/$name.sh ]]; then
			echo "run.sh: no test $name" >&2
			exit 2
		fi
		tests+=("$here/$name.sh")
	done
else
	tests=("$here"/t_*.sh)
fi

passed=0 failed=0
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	log=$(mktemp /tmp/zload-it-log.XXXXXX)
	start=${EPOCHREALTIME/./}
	secs_allowed=$(sed -n 's/^# test-timeout: \([0-9][0-9]*\)$/\1/p' "$t" | head -n 1)
	[[ -n ${ZLOAD_TEST_TIMEOUT:-} || -z $secs_allowed ]] && secs_allowed=$timeout_secs
	timeout -k 10 "$secs_allowed" bash "$t" </dev/null >"$log" 2>&1
	rc=$?
	secs=$(((${EPOCHREALTIME/./} - start) / 1000000))
	if ((rc == 0)); then
		echo "PASS $name (${secs}s)"
		sed -n 's/^REPORT /  /p' "$log"
		passed=$((passed + 1))
	else
		echo "FAIL $name"
		((rc == 124 || rc == 137)) && echo "  timed out after ${secs_allowed}s"
		sed 's/^/  | /' "$log" | tail -n 60
		failed=$((failed + 1))
	fi
	rm -f "$log"
done
echo "$passed passed, $failed failed"
((failed == 0))
