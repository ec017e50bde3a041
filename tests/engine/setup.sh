#!/bin/sh
# Prepares a Podman service for the engine runtime's tests and prints its socket path.
# Idempotent: a service already answering on the socket is kept, an image already
# imported is not imported again. Everything lives under $SN_ENGINE_TEST_DIR
# (default /tmp/sn-engine-test): Podman's configuration, storage, run state, the
# socket and the service's log, so the machine's own Podman setup is left alone.
#   setup.sh          start (or find) the service, print the socket path
#   setup.sh --stop   stop the service this script started
# Needs root, podman, runc and busybox-static (scripts/deps.sh --test installs them).
# tests/unit/test_runtime_engine runs this script itself (meson passes its path
# in SN_ENGINE_SETUP) when it is root and podman is installed, so `meson test`
# and scripts/test.sh need no extra step; the service it starts stays up for
# the next run. SN_ENGINE_SOCKET=PATH points the test at another engine.
set -eu

BASE=${SN_ENGINE_TEST_DIR:-/tmp/sn-engine-test}
SOCK=$BASE/podman.sock
IMAGE=localhost/busybox:latest

die() { echo "engine setup: $*" >&2; exit 1; }

if [ "${1:-}" = "--stop" ]; then
	[ -f "$BASE/service.pid" ] && kill "$(cat "$BASE/service.pid")" 2>/dev/null || true
	rm -f "$BASE/service.pid" "$SOCK"
	exit 0
fi

[ "$(id -u)" -eq 0 ] || die "needs root (Podman's rootful service)"
for tool in podman runc curl; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (scripts/deps.sh --test)"
done
[ -x /bin/busybox ] || die "/bin/busybox is missing (install busybox-static)"

mkdir -p "$BASE/tmp" "$BASE/cni"
# runc rather than crun (not installed); small ulimits so that a container's
# defaults do not depend on the daemon's; cgroupfs and a file event log because
# systemd is not running here.
cat >"$BASE/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$BASE/events.log"
tmp_dir = "$BASE/tmp"

[network]
network_config_dir = "$BASE/cni"
CONF
cat >"$BASE/storage.conf" <<CONF
[storage]
driver = "overlay"
runroot = "$BASE/run"
graphroot = "$BASE/storage"
CONF
export CONTAINERS_CONF="$BASE/containers.conf"
export CONTAINERS_STORAGE_CONF="$BASE/storage.conf"

ping() { curl -s -m 2 --unix-socket "$SOCK" http://d/_ping 2>/dev/null | grep -q OK; }

if ! ping; then
	[ -f "$BASE/service.pid" ] && kill "$(cat "$BASE/service.pid")" 2>/dev/null || true
	rm -f "$SOCK"
	# setsid: the service must outlive the shell (and the test) that started it.
	setsid podman system service --time=0 "unix://$SOCK" >"$BASE/service.log" 2>&1 </dev/null &
	echo $! >"$BASE/service.pid"
	i=0
	until ping; do
		i=$((i + 1))
		[ $i -le 100 ] || die "podman service did not answer on $SOCK (see $BASE/service.log)"
		sleep 0.1
	done
fi

if ! podman image exists "$IMAGE"; then
	root=$BASE/rootfs
	rm -rf "$root"
	mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/www"
	cp /bin/busybox "$root/bin/"
	for applet in sh echo sleep true false cat ls httpd env; do
		ln -sf busybox "$root/bin/$applet"
	done
	echo "root:x:0:0:root:/:/bin/sh" >"$root/etc/passwd"
	echo "root:x:0:" >"$root/etc/group"
	echo "hello from busybox" >"$root/www/index.html"
	tar -C "$root" -c . | podman import --quiet - "$IMAGE" >/dev/null
	rm -rf "$root"
fi

echo "$SOCK"
