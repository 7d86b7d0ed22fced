#!/usr/bin/env bash
# Installs every build and test dependency of zload from Debian packages. Idempotent.
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config
  libsqlite3-dev sqlite3
  libjansson-dev libpcre2-dev libcurl4-openssl-dev libmicrohttpd-dev libxml2-dev
  libpq-dev postgresql postgresql-client
  libssl-dev zlib1g-dev libzstd-dev libbz2-dev
  libcmocka-dev
  clang libclang-rt-14-dev
  curl e2fsprogs
  gzip zstd bzip2 python3 python3-pip procps time
  tmux prometheus
  hyperfine
  patchelf zip unzip ca-certificates
  chromium  # headless, for the status page's browser test (t_status_page)
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#pkgs[@]} packages present"
else
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# cfn-lint (with aws-sam-translator) checks deploy/template.yaml offline (t_deploy_template). The
# machine image has it in pyenv's python, next to moto and boto3; elsewhere pip installs it.
if ! command -v cfn-lint >/dev/null; then
  echo "deps: installing cfn-lint with pip"
  python3 -m pip install --quiet "cfn-lint==1.51.0" ||
    python3 -m pip install --quiet --user --break-system-packages "cfn-lint==1.51.0"
fi
