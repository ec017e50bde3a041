#!/bin/sh
# Installs what swarmnode needs to build and run, from Debian 12's packages.
# --test adds what the test suite needs (clang for libFuzzer, the docker CLI, and
# for the engine runtime's test Podman with runc, its CNI plugins and conmon,
# and busybox-static for the image tests/engine/setup.sh builds).
set -eu

PKGS="meson ninja-build pkg-config gcc git python3 ca-certificates
      libuv1-dev libmsgpack-dev libsodium-dev libcurl4-openssl-dev libyaml-dev
      libjansson-dev libhttp-parser-dev"
TEST_PKGS="libcmocka-dev clang libclang-rt-14-dev iproute2 iptables util-linux
           podman runc conmon containernetworking-plugins busybox-static curl"

if [ "${1:-}" = "--test" ]; then
	PKGS="$PKGS $TEST_PKGS"
	# The stock docker CLI drives the daemon in the tests; any docker client will do.
	command -v docker >/dev/null 2>&1 || PKGS="$PKGS docker.io"
fi

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# docker.io's daemon is not started by the tests; policy-rc.d keeps it from starting at install.
$SUDO apt-get install -y -qq --no-install-recommends $missing
