#!/usr/bin/env bash
# Builds the Vertica fuzz targets with clang (libFuzzer + ASan + UBSan) and runs each for SECONDS
# (default 20) from its seed corpus. New inputs go to build-fuzz/, never into the seeds; a crash,
# leak or hang fails the run and leaves its input in build-fuzz/crash-*.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-20}
out=${FUZZ_BUILD:-build-fuzz}
mkdir -p "$out"
flags=(-g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -Isrc
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
proto=(src/vertica/vproto.c src/vertica/verror.c src/util/buf.c src/util/err.c)
session=("${proto[@]}" src/vertica/vauth.c src/vertica/vconn.c src/vertica/vio.c src/vertica/vnet.c
         src/vertica/vquery.c src/vertica/vcopy.c)
# shellcheck disable=SC2046
clang "${flags[@]}" tests/fuzz/fuzz_vproto.c "${proto[@]}" -o "$out/fuzz_vproto"
# shellcheck disable=SC2046
clang "${flags[@]}" tests/fuzz/fuzz_vsession.c "${session[@]}" $(pkg-config --libs libssl libcrypto) -lpthread \
  -o "$out/fuzz_vsession"

status=0
for t in vproto vsession; do
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
