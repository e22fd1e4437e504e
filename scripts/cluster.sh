#!/bin/sh
# cluster.sh starts three Almanac nodes on loopback, clustered over their
# embedded NATS servers (an R3 log), and prints their URLs and the admin's
# password; Ctrl-C stops them. `make cluster` runs it.
#   ALMANAC=bin/almanac  the binary
#   DATA=./cluster-data  one data directory per node below it
#   HTTP_PORT=8081       nodes listen on HTTP_PORT, +1, +2
#   ROUTE_PORT=6231      and take routes on ROUTE_PORT, +1, +2
set -eu
ALMANAC=${ALMANAC:-bin/almanac}
DATA=${DATA:-./cluster-data}
HTTP_PORT=${HTTP_PORT:-8081}
ROUTE_PORT=${ROUTE_PORT:-6231}
mkdir -p "$DATA"
if [ -f "$DATA/admin-password" ]; then
	ALMANAC_ADMIN_PASSWORD=$(cat "$DATA/admin-password")
else
	ALMANAC_ADMIN_PASSWORD=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
	printf '%s\n' "$ALMANAC_ADMIN_PASSWORD" > "$DATA/admin-password"
	chmod 600 "$DATA/admin-password"
fi
export ALMANAC_ADMIN_PASSWORD
# The routes between the nodes present this secret (--cluster-secret-file).
if [ ! -f "$DATA/cluster-secret" ]; then
	(umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > "$DATA/cluster-secret")
fi
pids=""
stop() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait
}
trap stop INT TERM EXIT
for i in 0 1 2; do
	routes=""
	for j in 0 1 2; do
		[ "$j" = "$i" ] && continue
		routes="$routes${routes:+,}127.0.0.1:$((ROUTE_PORT + j))"
	done
	"$ALMANAC" serve --data "$DATA/n$((i + 1))" --listen "127.0.0.1:$((HTTP_PORT + i))" --nats off \
		--node-name "n$((i + 1))" --cluster-listen "127.0.0.1:$((ROUTE_PORT + i))" --routes "$routes" \
		--cluster-secret-file "$DATA/cluster-secret" \
		> "$DATA/n$((i + 1)).log" 2>&1 &
	pids="$pids $!"
done
for i in 0 1 2; do
	until curl -sf "http://127.0.0.1:$((HTTP_PORT + i))/healthz" > /dev/null; do
		for p in $pids; do kill -0 "$p" 2>/dev/null || { echo "a node failed: see $DATA/n*.log" >&2; exit 1; }; done
		sleep 0.2
	done
done
echo "Three Almanac nodes share one replicated log (logs in $DATA/n1.log ...):"
for i in 0 1 2; do echo "  n$((i + 1))  http://127.0.0.1:$((HTTP_PORT + i))/"; done
echo "user: admin  password: $ALMANAC_ADMIN_PASSWORD  (also in $DATA/admin-password)"
echo "Ctrl-C stops them."
wait
