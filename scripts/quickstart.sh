#!/bin/sh
# The main job: a local three-node swarm on loopback addresses. Starts three
# daemons, initialises the swarm on the first, joins the other two with the
# worker token, waits until membership has converged on every node, shows
# `node ls`, `info` and the daemons' membership log lines, then stops them.
#   --keep   leave the cluster running (prints how to reach and stop it)
set -eu
cd "$(dirname "$0")/.."
BIN=./build/swarmnode
KEEP=0
[ "${1:-}" = "--keep" ] && KEEP=1
WORK=$(mktemp -d /tmp/swarmnode-quickstart.XXXXXX)
N=3
PIDS=""

cleanup() {
	if [ "$KEEP" -eq 0 ]; then
		for p in $PIDS; do kill "$p" 2>/dev/null || true; done
		for p in $PIDS; do wait "$p" 2>/dev/null || true; done
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT INT TERM

sock() { echo "$WORK/node$1.sock"; }
ip() { echo "127.0.0.$((10 + $1))"; }
sn() { i=$1; shift; "$BIN" -H "unix://$(sock "$i")" "$@"; }
run() { echo "\$ swarmnode $*"; }

# Waits for a condition by polling it (not a fixed sleep); gives up after 10 s.
wait_until() {
	what=$1; shift
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 1000 ]; then
			echo "timed out waiting for $what" >&2
			tail -n 20 "$WORK"/node*.log >&2
			exit 1
		fi
		sleep 0.01
	done
}

for i in $(seq 1 $N); do
	"$BIN" daemon --data-dir "$WORK/node$i" --socket "$(sock "$i")" --listen-addr "$(ip "$i"):2377" \
		--gossip-addr "$(ip "$i"):7946" --advertise-addr "$(ip "$i")" 2>"$WORK/node$i.log" &
	PIDS="$PIDS $!"
done
for i in $(seq 1 $N); do wait_until "daemon $i" sn "$i" version; done

run init --advertise-addr "$(ip 1)"
sn 1 init --advertise-addr "$(ip 1)"
TOKEN=$(sn 1 join-token -q worker)
for i in $(seq 2 $N); do
	run "-H unix://$(sock "$i")" join --token "$TOKEN" "$(ip 1):2377"
	sn "$i" join --token "$TOKEN" "$(ip 1):2377"
done

converged() {
	for i in $(seq 1 $N); do
		[ "$(grep -c 'msg="member joined"' "$WORK/node$i.log")" -ge $((N - 1)) ] || return 1
	done
}
wait_until "membership to converge" converged
echo
run node ls
sn 1 node ls
echo
run info
sn 1 info | sed -n '1,12p'
echo
echo "--- membership as each daemon logged it (sub=swim)"
for i in $(seq 1 $N); do grep 'sub=swim' "$WORK/node$i.log" | sed "s/^/node$i  /"; done
if [ "$KEEP" -eq 1 ]; then
	echo
	echo "The cluster keeps running: swarmnode -H unix://$(sock 1) node ls"
	echo "Stop it with: kill$PIDS; rm -rf $WORK"
fi
