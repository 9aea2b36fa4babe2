#!/usr/bin/env bash
# Installs every Debian package bbs needs to build, test and run. Idempotent, non-interactive.
set -euo pipefail
PKGS=(
  g++ clang cmake ninja-build pkg-config ccache git
  libboost1.81-dev libboost-url1.81-dev
  libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  libsqlite3-dev libpq-dev libssl-dev
  libcli11-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-format clang-tidy
  libmariadb-dev prometheus-cpp-dev libjemalloc-dev
  postgresql mariadb-server etcd-server etcd-client openssl
)
# Benchmark-only tools (bench/heartbeat_ceiling.sh): `scripts/install-deps.sh --bench`. Kept out
# of the default set because Debian's nginx package starts a system nginx on port 80.
if [ "${1:-}" = "--bench" ]; then PKGS+=(wrk nginx-light); fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
