#!/usr/bin/env bash
# Runs the integration scenarios: every tests/integration/t_*.sh, or only those named
# (run.sh t_repair duplicates ...). Each runs in its own bash process with a 120 s timeout.
# Prints "PASS name (Ns)" or "FAIL name" per test and ends with "N passed, M failed".
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
	timeout -k 10 "$timeout_secs" bash "$t" </dev/null >"$log" 2>&1
	rc=$?
	secs=$(((${EPOCHREALTIME/./} - start) / 1000000))
	if ((rc == 0)); then
		echo "PASS $name (${secs}s)"
		passed=$((passed + 1))
	else
		echo "FAIL $name"
		((rc == 124 || rc == 137)) && echo "  timed out after ${timeout_secs}s"
		sed 's/^/  | /' "$log" | tail -n 60
		failed=$((failed + 1))
	fi
	rm -f "$log"
done
echo "$passed passed, $failed failed"
((failed == 0))
