#!/bin/sh
# install-deps.sh [run|test|bench] — installs the Debian packages (and, for
# tests and benchmarks, the npm packages) that Parley needs and that are
# missing. Uses sudo for apt-get when not root. Safe to run repeatedly.
set -eu
what=${1:-run}
cd "$(dirname "$0")/.."

pkgs="build-essential cmake pkg-config libuv1-dev libssl-dev zlib1g-dev
      libjansson-dev libsqlite3-dev nodejs npm"
case "$what" in
  test|bench) pkgs="$pkgs clang libclang-rt-14-dev libcmocka-dev chromium fonts-liberation" ;;
esac
case "$what" in
  bench) pkgs="$pkgs util-linux" ;;
esac

missing=""
for p in $pkgs; do
  # nodejs/npm may come from elsewhere (nvm, NodeSource): a working binary is enough.
  case "$p" in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done

if [ -n "$missing" ]; then
  echo "install-deps: installing$missing"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
fi

# npm packages: the socket.io browser bundle that `parley serve` hands out
# at /socket.io/socket.io.js, and the Node tools for tests and benchmarks.
case "$what" in
  run|test|bench)
    if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
      npm ci --no-audit --no-fund --loglevel=error
    fi ;;
esac
