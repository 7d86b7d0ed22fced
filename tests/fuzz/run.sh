#!/usr/bin/env bash
# Builds the fuzz targets with clang (libFuzzer + ASan + UBSan) and runs each for SECONDS (default
# 20) from its seed corpus in tests/fuzz/corpus/NAME (tests/fuzz/make_corpus.py and make_seeds.py
# write them). New inputs go to build-fuzz/, never into the seeds; a crash, leak or hang fails the
# run and leaves its input in build-fuzz/crash-*. Optional arguments after SECONDS: the targets to
# build and run (default all).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-20}
shift || true
out=${FUZZ_BUILD:-build-fuzz}
mkdir -p "$out/obj"
# shellcheck disable=SC2207
cflags=(-g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -Isrc
        -fno-sanitize-recover=undefined -fno-omit-frame-pointer $(pkg-config --cflags jansson libxml-2.0 libpq libpcre2-8 libcurl))
san=address,undefined

# Each target NAME: the array NAME of its sources beside tests/fuzz/fuzz_NAME.c, and its libraries.
# shellcheck disable=SC2034 # the arrays are read by name (srcs_of)
vproto=(src/vertica/vproto.c src/vertica/verror.c src/util/buf.c src/util/err.c)
# shellcheck disable=SC2034
vsession=("${vproto[@]}" src/vertica/vauth.c src/vertica/vconn.c src/vertica/vio.c src/vertica/vidle.c src/vertica/vnet.c
         src/vertica/vquery.c src/vertica/vcopy.c)
# shellcheck disable=SC2034
event=(src/core/event.c src/core/model.c src/util/json_walk.c src/util/err.c)
# shellcheck disable=SC2034
lambda_event=("${event[@]}" src/runtime/lambda_event.c)
# the target registry's types bring their field tables, and with them every target's code
# shellcheck disable=SC2034
config=(src/core/config.c src/core/fields.c src/core/route.c src/core/notify_config.c src/core/model.c
        src/format/format.c src/format/rows.c src/target/target.c src/target/target_pg.c src/target/target_sqlite.c
        src/target/target_vertica.c src/target/dialect_pg.c src/target/dialect_sqlite.c src/target/dialect_vertica.c
        src/target/pg_db.c src/target/pg_ledger.c src/target/pg_session.c src/target/sql.c src/target/sqlite_db.c src/target/sqlite_ledger.c
        src/notify/notify.c src/notify/sns.c src/notify/exec.c src/notify/webhook.c src/notify/smtp.c src/notify/mail.c
        src/secret/secret.c src/secret/secret_kms.c src/secret/secret_local.c
        src/util/aws.c src/util/aws_json.c src/util/buf.c src/util/err.c src/util/fsutil.c src/util/hmac.c src/util/http.c
        src/util/quote.c src/util/secret_file.c src/util/strvec.c src/util/timeutil.c
        src/vertica/vauth.c src/vertica/vconn.c src/vertica/vcopy.c src/vertica/verror.c src/vertica/vio.c src/vertica/vidle.c
        src/vertica/vnet.c src/vertica/vproto.c src/vertica/vquery.c)
# shellcheck disable=SC2034
rows=(src/format/rows.c src/format/format.c src/util/buf.c src/util/err.c)
# shellcheck disable=SC2034
decompress=(src/format/decompress.c src/util/err.c)
# shellcheck disable=SC2034
s3_xml=(src/store/store_s3_xml.c src/util/http.c src/util/timeutil.c src/util/buf.c src/util/err.c)
# shellcheck disable=SC2034
aws_json=(src/util/aws_json.c src/intake/sqs.c src/secret/secret_kms.c src/secret/secret.c src/secret/secret_local.c
          src/core/fields.c src/util/secret_file.c src/util/fsutil.c src/util/aws.c src/util/http.c src/util/timeutil.c
          src/util/buf.c src/util/err.c)
declare -A libs=(
  [vproto]="" [vsession]="$(pkg-config --libs libssl libcrypto) -lpthread"
  [event]="$(pkg-config --libs jansson)" [lambda_event]="$(pkg-config --libs jansson)"
  [config]="$(pkg-config --libs jansson libpcre2-8 libpq sqlite3 libcurl libssl libcrypto) -lpthread"
  [rows]="$(pkg-config --libs jansson)" [decompress]="$(pkg-config --libs zlib libzstd) -lbz2"
  [s3_xml]="$(pkg-config --libs libxml-2.0 libcurl libcrypto) -lpthread"
  [aws_json]="$(pkg-config --libs jansson libcurl libcrypto) -lpthread"
)
all=(vproto vsession event lambda_event config rows decompress s3_xml aws_json)
if (($#)); then targets=("$@"); else targets=("${all[@]}"); fi

srcs_of() {
  local -n l=$1
  echo "${l[@]}"
}

# Every source once (in parallel), instrumented for the fuzzer, then each target linked.
obj() { echo "$out/obj/$(echo "${1%.c}" | tr / _).o"; }
declare -A want=()
for t in "${targets[@]}"; do
  for s in $(srcs_of "$t") tests/fuzz/fuzz_$t.c; do want[$s]=1; done
done
jobs=0
for s in "${!want[@]}"; do
  clang "${cflags[@]}" -fsanitize=fuzzer-no-link,$san -c "$s" -o "$(obj "$s")" &
  if (( ++jobs >= $(nproc) )); then wait -n; jobs=$((jobs - 1)); fi
done
while (( jobs > 0 )); do wait -n; jobs=$((jobs - 1)); done
for t in "${targets[@]}"; do
  objs=()
  for s in tests/fuzz/fuzz_$t.c $(srcs_of "$t"); do objs+=("$(obj "$s")"); done
  # shellcheck disable=SC2086
  clang -fsanitize=fuzzer,$san "${objs[@]}" ${libs[$t]} -o "$out/fuzz_$t"
done

status=0
for t in "${targets[@]}"; do
  mkdir -p "$out/corpus-$t"
  log="$out/fuzz_$t.log"
  if "$out/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$out/crash-$t-" "$out/corpus-$t" "tests/fuzz/corpus/$t" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "fuzz_$t: $runs runs in ${secs}s, $cov, corpus $(ls "$out/corpus-$t" | wc -l) inputs, no crash"
  else
    status=1
    echo "fuzz_$t: FAILED (log $log)"
    grep -E 'ERROR|SUMMARY|Test unit written|#0 |#1 |#2 |#3 ' "$log" | head -30
  fi
done
exit $status
