#!/bin/sh
# The main job: a local three-node swarm on loopback addresses. Starts three
# daemons, initialises the swarm on the first, joins the other two with the
# worker token, waits until membership has converged on every node, deploys
# examples/stack.yml with the exec runtime (a python3 web server and a shell
# worker), waits until its tasks run and the web answers on every node, shows
# `node ls`, `service ls`, `stack ps` and the daemons' membership log lines,
# then stops them (the daemons stop their tasks).
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

# Waits for a condition by polling it (not a fixed sleep); gives up after 60 s.
wait_until() {
	what=$1; shift
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 6000 ]; then
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
ready() { [ "$(sn 1 node ls | grep -c ' Ready ')" -eq $N ]; }
wait_until "the leader to register every node" ready
echo
run node ls
sn 1 node ls
echo
run deploy examples/stack.yml
sn 1 deploy examples/stack.yml
# REPLICAS reads running/desired: wait until every service shows them equal.
converged_stack() {
	sn 1 service ls | awk 'NR > 1 { split($4, r, "/"); if (r[1] != r[2] || r[2] == 0) bad = 1 } END { exit bad }'
}
wait_until "the stack's tasks to run" converged_stack
web() {
	python3 -c "import urllib.request,sys; urllib.request.urlopen('http://' + sys.argv[1] + ':8080/', timeout=2)" \
		"$1" 2>/dev/null
}
# The web's two replicas run on two of the nodes, each bound to its node's address.
two_answer() {
	answered=""
	for i in $(seq 1 $N); do if web "$(ip "$i")"; then answered="$answered $(ip "$i")"; fi; done
	[ "$(echo $answered | wc -w)" -eq 2 ]
}
wait_until "demo_web to answer on two nodes" two_answer
two_answer
echo
run service ls
sn 1 service ls
echo
run stack ps demo
sn 1 stack ps demo
echo
echo "demo_web answers on:$answered (port 8080, on the nodes where its 2 replicas run)"
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
