#!/usr/bin/env bash
# The README's notifications example works as shown: its block, run line by line as it stands
# (its /tmp paths are the example's; the state is this test's), loads the file and runs the
# exec: hook with the message, and `notifications list` shows it sent.
. "$(dirname "$0")/lib.sh"

cd "$REPO" || fail "no repository at $REPO"
readme_lines=$(awk '/The example appends every message to a file/ { on = 1; next } on && /^```sh/ { next } on && /^```/ { exit } on && NF' README.md |
	sed 's/ *# .*$//' | grep -v '^To run it by hand:$')
assert_eq 7 "$(wc -l <<<"$readme_lines")" "the README's notifications block"
mine=(/tmp/zload-notify.db /tmp/zload-notify-hook.sh /tmp/zload-notifications.jsonl /tmp/landing/landing/notified)
rm -rf "${mine[@]}"
trap 'rm -rf "${mine[@]}"; cleanup' EXIT
n=0
while IFS= read -r line; do
	n=$((n + 1))
	eval "${line//zload /\"\$ZLOAD\" }" >"$WS/readme$n.out" 2>"$WS/readme$n.err" || fail "README: $line: $(<"$WS/readme$n.err")"
done <<<"$readme_lines"
assert_eq "stored configuration for landing/notified (1 target)" "$(<"$WS/readme3.out")" "config put of the example"
assert_contains "$(<"$WS/readme5.out")" "listed 1, queued 1" "the backfill"
batch=$(batch_ids)
assert_contains "$(<"$WS/readme6.out")" "sent     success  1/10      $batch" "notifications list"
last=$(<"$WS/readme7.out")
assert_eq "ok $batch landing/notified 4" \
	"$(json "' '.join(map(str, [j['status'], j['batchId'], j['s3Prefix'], j['targets'][0]['rows']]))" echo "$last")" \
	"the message the hook got"
assert_eq 4 "$(sql /tmp/zload-notify.db "SELECT count(*) FROM events")" "rows in the example's warehouse"
