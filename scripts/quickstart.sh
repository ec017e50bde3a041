#!/bin/sh
# The main job: start a swarmnode daemon on a private socket, drive it with the
# CLI, show its log, and stop it. Later capabilities grow this into a local
# cluster deploying examples/stack.yml.
set -eu
cd "$(dirname "$0")/.."
BIN=./build/swarmnode
WORK=$(mktemp -d /tmp/swarmnode-quickstart.XXXXXX)
SOCK="$WORK/swarmnode.sock"

cleanup() {
	[ -n "${PID:-}" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

"$BIN" daemon --data-dir "$WORK/data" --socket "$SOCK" 2>"$WORK/daemon.log" &
PID=$!
# Wait until the daemon answers (not a fixed sleep): `version` fails until then.
i=0
until "$BIN" -H "unix://$SOCK" version >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 500 ] || ! kill -0 "$PID" 2>/dev/null; then
		echo "the daemon did not start:" >&2
		cat "$WORK/daemon.log" >&2
		exit 1
	fi
	sleep 0.01
done

run() {
	echo "\$ $*"
	"$@"
	echo
}
run "$BIN" -H "unix://$SOCK" version
run "$BIN" -H "unix://$SOCK" info
if command -v docker >/dev/null 2>&1; then
	DOCKER_HOST="unix://$SOCK" DOCKER_CONFIG="$WORK/docker" \
		run docker version --format 'docker CLI sees: {{.Server.Platform.Name}} {{.Server.Version}}, API {{.Server.APIVersion}}'
fi
kill "$PID"
wait "$PID"
PID=
echo "--- daemon log"
cat "$WORK/daemon.log"
