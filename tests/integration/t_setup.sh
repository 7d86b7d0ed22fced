#!/usr/bin/env bash
# zload setup, the interactive wizard: answers piped in store a PostgreSQL configuration equal to
# what `config put` stores from the same answers (password masked in `config get`), and a batch
# loads through it; --add-target appends a Vertica target (the emulator) and the next batch loads
# both; input that ends early, or a "no", stores nothing. On a pseudo-terminal (tmux): the
# password is not echoed, a bad regex is asked again, empty answers take the defaults, and the
# connection test reports success for a good target and the server's error for a bad password.
# The passwords appear nowhere on the terminal, in the outputs, the logs or the process list.
. "$(dirname "$0")/lib_pg.sh"
. "$IT_DIR/lib_vertica.sh"

command -v tmux >/dev/null || fail "tmux is not installed (scripts/deps.sh installs it)"
VPW=Vt-Setup-pw-58q
BAD_VPW=Wrong-Setup-pw-93z
vemu_start v --user "dbadmin:$VPW:sha512"
pql dw "CREATE TABLE events (id int, v text)" >/dev/null
vsql "CREATE TABLE public.vevents (id int, v varchar(20))"
vsql "CREATE TABLE public.tevents (id int, v varchar(20))"
said=() # everything zload printed, searched for the passwords at the end

# setup_piped NAME [SETUP OPTIONS] < ANSWERS: runs zload setup on the answers; $RC, $OUT, $ERR.
setup_piped() {
	local name=$1
	shift
	cat >"$WS/$name.in"
	zload setup "$@" <"$WS/$name.in" >"$WS/$name.out" 2>"$WS/$name.err"
	RC=$?
	OUT=$(<"$WS/$name.out")
	ERR=$(<"$WS/$name.err")
	said+=("$OUT" "$ERR")
}

# ---- piped answers: a PostgreSQL target, tested and stored ----
pg_answers=(b/piped "" postgres 127.0.0.1 "$PGPORT" dw loader "$PG_SCRAM_PW" events "" "" "" 2 "" "" "" y y)
setup_piped piped < <(printf '%s\n' "${pg_answers[@]}")
assert_eq 0 "$RC" "piped setup exit code [$ERR]"
assert_eq "stored configuration for b/piped (1 target; 1 secret sealed by local)" "$OUT" "piped setup: stdout"
assert_contains "$ERR" "Enter the S3 Bucket & Prefix to watch for files (bucket/prefix):" "the first prompt, on stderr"
assert_contains "$ERR" "connection test: ok" "the connection test of the PostgreSQL target"
assert_contains "$ERR" "  password           ********" "the summary masks the password"
ok zload config get b/piped
from_setup=$OUT
said+=("$OUT")
assert_eq "********|$PGPORT|.*\\.csv|2|30|events" \
	"$(json "'|'.join(str(x) for x in [j['targets'][0]['password'], j['targets'][0]['port'], j['filenameFilterRegex'], j['batchSize'], j['batchTimeoutSecs'], j['targets'][0]['targetTable']])" zload config get b/piped)" \
	"config get: the password masked, the defaults and the answers"
# config put of the same answers, written by hand, stores the same configuration.
pg_config same <<EOF
{"s3Prefix": "b/piped", "filenameFilterRegex": ".*\\\\.csv",
 "targets": [{"type": "postgres", "host": "127.0.0.1", "port": @PORT@, "database": "dw", "user": "loader",
              "password": "$PG_SCRAM_PW", "targetTable": "events"}],
 "batchSize": 2, "batchTimeoutSecs": 30}
EOF
ok zload config get b/piped
assert_eq "$from_setup" "$OUT" "setup stores what config put stores from the same answers"
printf '1,a\n2,b\n' | write_file b/piped/a.csv
printf '3,c\n' | write_file b/piped/b.csv
event b piped/a.csv piped/b.csv
said+=("$OUT" "$ERR")
assert_eq 0 "$RC" "the load through the stored configuration [$ERR]"
assert_contains "$OUT" "status=complete rows=3" "the batch of two files"
assert_eq "1,a 2,b 3,c" "$(pq dw "SELECT id || ',' || v FROM events ORDER BY id" | tr '\n' ' ' | sed 's/ $//')" "rows loaded"

# ---- --add-target: a Vertica target appended ----
setup_piped nowhere --add-target b/none </dev/null
assert_eq 1 "$RC" "--add-target to a prefix with no configuration"
assert_eq 'zload: no configuration for prefix "b/none"' "$ERR" "said before any question"
vt_answers=(vertica 127.0.0.1 "$VPORT" dw dbadmin "$VPW" public.vevents "" "" "" "" y y)
setup_piped add --add-target /b/piped/ < <(printf '%s\n' "${vt_answers[@]}")
assert_eq 0 "$RC" "--add-target exit code [$ERR]"
assert_eq "stored configuration for b/piped (2 targets; 1 secret sealed by local)" "$OUT" "--add-target: stdout"
assert_not_contains "$ERR" "S3 Bucket" "--add-target asks no configuration question"
assert_not_contains "$ERR" "batch" "--add-target asks no batching question"
assert_contains "$ERR" "connection test: ok" "the connection test of the Vertica target"
assert_eq "postgres|vertica|127.0.0.1|$VPORT|dbadmin|********|public.vevents|stream" \
	"$(json "'|'.join(str(x) for x in [j['targets'][0]['type'], j['targets'][1]['type'], j['targets'][1]['clusterEndpoint'], j['targets'][1]['clusterPort'], j['targets'][1]['connectUser'], j['targets'][1]['connectPassword'], j['targets'][1]['targetTable'], j['targets'][1]['loadMode']])" zload config get b/piped)" \
	"config get: the appended target"
ok zload config get b/piped
from_setup=$OUT
said+=("$OUT")
# config add-target of the same target, written by hand, stores the same configuration.
pg_config again <"$WS/config-same.json"
printf '{"type": "vertica", "clusterEndpoint": "127.0.0.1", "clusterPort": %s, "clusterDB": "dw", "connectUser": "dbadmin", "connectPassword": "%s", "targetTable": "public.vevents", "loadMode": "stream"}' \
	"$VPORT" "$VPW" >"$WS/vt.json"
assert_exit 1 zload config add-target b/none "$WS/vt.json"
assert_eq 'zload: no configuration for prefix "b/none"' "$ERR" "config add-target to a prefix with no configuration"
printf '{"type": ' >"$WS/broken.json"
assert_exit 1 zload config add-target b/piped "$WS/broken.json"
assert_contains "$ERR" "broken.json: line 1, column" "config add-target of broken JSON"
ok zload config add-target b/piped "$WS/vt.json"
assert_eq "stored configuration for b/piped (2 targets; 1 secret sealed by local)" "$OUT" "config add-target"
ok zload config get b/piped
assert_eq "$from_setup" "$OUT" "setup --add-target stores what config add-target stores from the same answers"
printf '4,d\n' | write_file b/piped/c.csv
printf '5,e\n' | write_file b/piped/d.csv
event b piped/c.csv piped/d.csv
said+=("$OUT" "$ERR")
assert_contains "$OUT" "status=complete rows=4" "the next batch loads both targets (2 rows each)"
assert_eq 5 "$(pg_count events)" "rows in the PostgreSQL table"
assert_eq "4,d 5,e" "$(vsql "SELECT id || ',' || v FROM public.vevents ORDER BY id" | tr '\n' ' ' | sed 's/ $//')" "rows in the Vertica table"

# ---- input that ends early, or a no, stores nothing ----
setup_piped eof < <(printf '%s\n' b/eof "" postgres 127.0.0.1 "$PGPORT")
assert_eq 1 "$RC" "input ended in the middle: exit code"
assert_contains "$ERR" 'zload: the input ended before the answer to "database"; nothing stored' "input ended in the middle"
setup_piped eof2 < <(printf '%s\n' "${pg_answers[@]:0:17}" | sed 's|^b/piped$|b/eof|')
assert_eq 1 "$RC" "input ended before \"Store it?\": exit code"
assert_contains "$ERR" 'zload: the input ended before the answer to "Store it?"; nothing stored' "input ended before the last answer"
setup_piped declined < <(printf '%s\n' "${pg_answers[@]:0:16}" n n | sed 's|^b/piped$|b/eof|')
assert_eq 1 "$RC" "store declined: exit code"
assert_contains "$ERR" "zload: nothing stored" "store declined"
assert_not_contains "$ERR" "connection test" "no test when declined"
assert_exit 1 zload config get b/eof
assert_eq 'zload: no configuration for prefix "b/eof"' "$ERR" "nothing stored for b/eof"
setup_piped eof3 --add-target b/piped < <(printf '%s\n' vertica 127.0.0.1)
assert_eq 1 "$RC" "--add-target input ended: exit code"
assert_contains "$ERR" 'the input ended before the answer to "cluster port"; nothing stored' "--add-target input ended"
assert_eq 2 "$(json "len(j['targets'])" zload config get b/piped)" "still two targets"

# ---- a pseudo-terminal, driven through tmux ----
TSOCK= TTY_N=0
tty_cleanup() {
	local rc=$? sock
	for sock in "$WS"/tmux*.sock; do tmux -S "$sock" kill-server 2>/dev/null; done
	(exit "$rc")
	pg_cleanup
}
trap tty_cleanup EXIT
# screen: the whole terminal, its history included, wrapped lines joined, trailing blanks cut.
screen() { tmux -S "$TSOCK" capture-pane -p -J -S - -E - -t setup | sed 's/[[:space:]]*$//'; }
# tty_start: zload setup on a new terminal; the pane stays after it exits, saying [exit=N] and
# whether the terminal echoes again ([echo on]). Ctrl-C reaches zload with its default action.
cat >"$WS/tty.sh" <<EOF
trap true INT
env ZLOAD_STATE='$ZLOAD_STATE' ZLOAD_STORE='$ZLOAD_STORE' '$ZLOAD' setup
echo "[exit=\$?]"
if stty -a | tr ' ;' '\n\n' | grep -qx -- -echo; then echo "[echo off]"; else echo "[echo on]"; fi
sleep 600
EOF
tty_start() {
	[[ -z $TSOCK ]] || tmux -S "$TSOCK" kill-server 2>/dev/null
	TSOCK=$WS/tmux$((++TTY_N)).sock # a server of its own: a new one on the same socket may race the old one's exit
	tmux -S "$TSOCK" -f /dev/null new-session -d -s setup -x 250 -y 100 "bash $WS/tty.sh" || fail "tmux cannot start"
	TTY_SEEN=0
}
# at_prompt TEXT: the last line on screen ends with TEXT, and is a line not seen before.
at_prompt() {
	local s n last
	s=$(screen | sed '/^[[:space:]]*$/d')
	n=$(wc -l <<<"$s")
	last=$(tail -n 1 <<<"$s")
	[[ $n -gt $TTY_SEEN && $last == *"$1" ]] || return 1
	TTY_SEEN=$n
}
# wait_prompt PROMPT: waits until the terminal's last line is a new one ending with PROMPT (or
# fails, showing the screen). type_answer TEXT: types TEXT and Enter. answer PROMPT TEXT: both.
wait_prompt() {
	local deadline=$((${EPOCHREALTIME/./} + 15000000))
	until at_prompt "$1"; do
		((${EPOCHREALTIME/./} < deadline)) || fail "no prompt [$1] on the terminal: [$(screen | sed '/^[[:space:]]*$/d')]"
		sleep 0.05
	done
}
type_answer() {
	[[ -z $1 ]] || tmux -S "$TSOCK" send-keys -t setup -l -- "$1"
	tmux -S "$TSOCK" send-keys -t setup Enter
}
answer() {
	wait_prompt "$1"
	type_answer "$2"
}
# The process list, less the emulator (its --user carries the password it checks). zload must be
# in it: it is taken while zload waits for an answer.
procs() {
	local p
	p=$(ps -eo args)
	grep -qxF "$ZLOAD setup" <<<"$p" || fail "zload setup is not running: [$p]"
	grep -vF "$VEMU" <<<"$p"
}
tty_exited() { screen | grep -q '^\[exit='; }
tty_done() {
	wait_for 20 tty_exited
	SCREEN=$(screen)
	said+=("$SCREEN")
	[[ -z ${SHOW_SCREEN:-} ]] || printf '%s\n' "$SCREEN" >&2
}

tty_start
answer "(bucket/prefix):" b/tty
answer "Regex [.*\\.csv]:" "(bad"
answer "Regex [.*\\.csv]:" ""
answer "[vertica]:" ""
answer "(a Vertica node's host name or address):" 127.0.0.1
answer "Port [5433]:" "$VPORT"
answer "(optional: the server's default):" dw
answer "Username:" dbadmin
answer "(not shown; optional):" "$VPW"
answer "(table or schema.table):" public.tevents
answer "[stream]:" ""
answer "COPY options (optional):" ""
answer "before each load (optional):" ""
answer "after each load (optional):" ""
answer "before loading? [1]:" ""
answer "no limit)? [30]:" ""
answer "Successful Loads (optional):" ""
answer "Failed Loads (optional):" ""
wait_prompt "Test the connection to the target now? [Y/n]"
ps_list=$(procs)
type_answer ""
answer "Store it? [Y/n]" ""
tty_done
assert_contains "$SCREEN" "  not a valid regular expression: missing closing parenthesis at offset 4
Enter a Filename Filter Regex [.*\\.csv]:" "a bad regex: why, and the question again"
assert_contains "$SCREEN" "Enter the Database Password (not shown; optional):
Enter the Table to be Loaded" "nothing echoed after the password prompt"
assert_contains "$SCREEN" "  password           ********" "the summary masks the password"
assert_contains "$SCREEN" "connection test: ok" "the connection test of a good target"
assert_contains "$SCREEN" "stored configuration for b/tty (1 target; 1 secret sealed by local)" "stored"
assert_contains "$SCREEN" "[exit=0]" "exit code"
assert_eq ".*\\.csv|vertica|stream|1|30|********|dw" \
	"$(json "'|'.join(str(x) for x in [j['filenameFilterRegex'], j['targets'][0]['type'], j['targets'][0]['loadMode'], j['batchSize'], j['batchTimeoutSecs'], j['targets'][0]['connectPassword'], j['targets'][0]['clusterDB']])" zload config get b/tty)" \
	"empty answers took the defaults"
printf '6,f\n' | write_file b/tty/a.csv
event b tty/a.csv
said+=("$OUT" "$ERR")
assert_contains "$OUT" "status=complete rows=1" "a file loads through the configuration made on the terminal"
assert_eq 1 "$(vsql "SELECT count(*) FROM public.tevents")" "the row in Vertica"

# A wrong password: the test reports the server's error, and "Store it anyway?" defaults to no.
tty_start
for a in b/tty2 "" "" 127.0.0.1 "$VPORT" dw dbadmin; do
	answer ":" "$a"
done
answer "(not shown; optional):" "$BAD_VPW"
for a in public.tevents "" "" "" "" "" "" "" ""; do
	answer ":" "$a"
done
answer "Test the connection to the target now? [Y/n]" y
wait_prompt "Store it anyway? [y/N]"
ps_list+=$(procs)
type_answer ""
tty_done
assert_contains "$SCREEN" "connection test failed: " "the connection test of a bad password"
assert_contains "$SCREEN" "Invalid username or password" "the server's reason"
assert_contains "$SCREEN" "zload: nothing stored" "not stored"
assert_contains "$SCREEN" "[exit=1]" "exit code"
assert_exit 1 zload config get b/tty2

# Ctrl-C while the password is typed: the terminal echoes again, nothing is stored.
tty_start
for a in b/tty3 "" "" 127.0.0.1 "$VPORT" dw dbadmin; do answer ":" "$a"; done
wait_prompt "(not shown; optional):"
tmux -S "$TSOCK" send-keys -t setup -l -- "${VPW:0:5}"
tmux -S "$TSOCK" send-keys -t setup C-c
tty_done
assert_contains "$SCREEN" "[exit=130]" "killed by SIGINT"
assert_contains "$SCREEN" "[echo on]" "the terminal echoes again after Ctrl-C at the password"
assert_not_contains "$SCREEN" "${VPW:0:5}" "the part of the password typed"
assert_exit 1 zload config get b/tty3

# ---- the passwords, anywhere ----
all=$(printf '%s\n' "${said[@]}"; cat "$WS"/*.log "$WS"/*.out "$WS"/*.err 2>/dev/null)
assert_contains "$all" "connection test: ok" "the collected output"
for pw in "$PG_SCRAM_PW" "$VPW" "$BAD_VPW"; do
	assert_not_contains "$all" "$pw" "a password in zload's output, the terminal or the logs"
	assert_not_contains "$all" "${pw:0:8}" "part of a password in zload's output, the terminal or the logs"
	assert_not_contains "$ps_list" "$pw" "a password in the process list"
done
