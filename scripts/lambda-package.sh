#!/usr/bin/env bash
# Packages a zload binary for AWS Lambda (runtime provided.al2023, or any custom runtime):
#
#   scripts/lambda-package.sh BINARY ZIP
#
# The zip holds, at its root:
#   bootstrap                  the binary (stripped); run as "bootstrap" with no command it is
#                              `zload lambda` (src/main.c)
#   lib/                       every shared library ldd lists for it, glibc and the dynamic
#                              loader included, so it needs nothing from the Lambda image; and
#                              the libraries zload loads on first use (src/lazy/lazy.c), with
#                              theirs
#   certs/ca-certificates.crt  Debian's CA bundle; bootstrap sets SSL_CERT_FILE to it when neither
#                              SSL_CERT_FILE nor CURL_CA_BUNDLE is set
#
# Lambda unpacks the zip at /var/task (TASK_ROOT), so bootstrap's ELF interpreter is set to
# TASK_ROOT/lib/ld-linux-x86-64.so.2 and its DT_RPATH (not RUNPATH: RPATH also applies to the
# libraries' own dependencies, and it comes before the LD_LIBRARY_PATH Lambda sets) to
# TASK_ROOT/lib. Needs patchelf, zip and ldd (scripts/deps.sh installs them).
set -euo pipefail

if (($# != 2)); then
	echo "usage: $0 BINARY ZIP" >&2
	exit 2
fi
bin=$1 zip_out=$2
task_root=${TASK_ROOT:-/var/task}
ca_bundle=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
[[ -x $bin ]] || { echo "lambda-package: no executable $bin (run make)" >&2; exit 1; }
[[ -r $ca_bundle ]] || { echo "lambda-package: no CA bundle at $ca_bundle (apt-get install ca-certificates)" >&2; exit 1; }
for tool in patchelf zip ldd strip ldconfig; do
	command -v "$tool" >/dev/null || { echo "lambda-package: $tool not found (run make deps)" >&2; exit 1; }
done

stage=$(mktemp -d /tmp/zload-lambda.XXXXXX)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/lib" "$stage/certs"

# The libraries zload dlopens on first use (zl_lazy_sonames in src/lazy/lazy.c; ldd cannot see
# them): found where the dynamic loader would find them, then ldd of each adds its dependencies.
lazy_sonames=(libpq.so.5 libcurl.so.4 libmicrohttpd.so.12 libxml2.so.2 libssl.so.3 libcrypto.so.3)
lazy_paths=()
for so in "${lazy_sonames[@]}"; do
	# awk reads to the end (no early exit): ldconfig must not die of SIGPIPE under pipefail
	path=$(ldconfig -p | awk -v so="$so" '$1 == so && /x86-64|aarch64|AArch64/ && !p { p = $NF } END { print p }')
	[[ -z $path ]] && path=$(ldconfig -p | awk -v so="$so" '$1 == so && !p { p = $NF } END { print p }')
	[[ -n $path ]] || { echo "lambda-package: $bin loads $so, which is not installed" >&2; exit 1; }
	cp -L "$path" "$stage/lib/$so"
	lazy_paths+=("$path")
done

# Every library ldd resolves ("name => /path (addr)") and the loader ("/path/ld-linux... (addr)").
interp=
while read -r line; do
	case $line in
	*'=> not found'*)
		echo "lambda-package: $bin needs a library that is not installed: $line" >&2
		exit 1
		;;
	*' => /'*)
		path=${line#* => }
		path=${path%% (*}
		cp -L "$path" "$stage/lib/$(basename "$path")"
		;;
	/*)
		path=${line%% (*}
		interp=$(basename "$path")
		cp -L "$path" "$stage/lib/$interp"
		;;
	esac
done < <(ldd "$bin"; for p in "${lazy_paths[@]}"; do ldd "$p"; done)
[[ -n $interp ]] || { echo "lambda-package: ldd shows no dynamic loader for $bin" >&2; exit 1; }

cp "$bin" "$stage/bootstrap"
strip --strip-unneeded "$stage/bootstrap"
patchelf --set-interpreter "$task_root/lib/$interp" --force-rpath --set-rpath "$task_root/lib" "$stage/bootstrap"
chmod 0755 "$stage/bootstrap"
chmod 0644 "$stage"/lib/*
chmod 0755 "$stage/lib/$interp"
cp "$ca_bundle" "$stage/certs/ca-certificates.crt"
chmod 0644 "$stage/certs/ca-certificates.crt"

mkdir -p "$(dirname "$zip_out")"
rm -f "$zip_out"
zip_abs=$(cd "$(dirname "$zip_out")" && pwd)/$(basename "$zip_out")
(cd "$stage" && zip -q -X -9 -r "$zip_abs" bootstrap lib certs)
unpacked=$(du -sb "$stage" | cut -f1)
echo "lambda-package: $zip_out: $(stat -c %s "$zip_out") bytes ($unpacked unpacked, $(ls "$stage/lib" | wc -l) libraries, interpreter $task_root/lib/$interp)"
