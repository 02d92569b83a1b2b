#!/usr/bin/env bash
# Runs the numbered integration scenarios (tests/integration/NNNN-*.sh) against
# a PostgreSQL cluster and a Kafka broker of their own, started here in a
# temporary folder on free ports and stopped by pid when the run ends.
#
#   tests/integration/run.sh [PATTERN]    only scenarios whose name matches
#
# Ends with "integration: N passed, N failed".
set -uo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib/stack.sh
. "$SRC/tests/lib/stack.sh"

# Short path: PostgreSQL's Unix socket path must stay under 107 bytes.
STACK_DIR=$(mktemp -d /tmp/patients-it.XXXXXX)
chmod 755 "$STACK_DIR"
cleanup() {
	stack_down "$STACK_DIR"
	# Daemons a scenario left behind, by their own pid files.
	for p in "$STACK_DIR"/*.daemon.pid; do [ -f "$p" ] && stack_stop_pid "$p" 10; done
	# Primaries and standbys of the failover scenarios (stack_ha_*) a failed
	# scenario left behind.
	for p in "$STACK_DIR"/*/*.ha.pid; do [ -f "$p" ] && stack_stop_pid "$p" 10; done
	if [ "${KEEP_STACK:-0}" = 1 ]; then echo "kept $STACK_DIR"; else rm -rf "$STACK_DIR"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Different bases from ./dev.sh up so both can run at once (override them
# to run two integration runs side by side).
STACK_PG_PORT_BASE=${STACK_PG_PORT_BASE:-55439} STACK_KAFKA_PORT_BASE=${STACK_KAFKA_PORT_BASE:-29092} stack_up "$STACK_DIR" ||
	{ echo "integration: could not start the stack"; echo "integration: 0 passed, 1 failed"; exit 1; }
# shellcheck disable=SC1091
. "$STACK_DIR/stack.env"
# The workers connect as the least-privilege role of sql/roles.sql, as in
# production; psql (PGUSER) stays the superuser that inspects and sets up.
# fresh_db migrates as patients_migrator.
stack_pg_roles "$STACK_DIR" ||
	{ echo "integration: could not make the roles"; echo "integration: 0 passed, 1 failed"; exit 1; }
export PATIENTS_DB="user=patients_worker"
export STACK_DIR PATIENTS_SRC=$SRC
# Many daemons side by side: admin listeners on any free port unless a
# scenario names one.
export PATIENTS_ADMIN_LISTEN=127.0.0.1:0
export GATEWAY_BIN=$SRC/daemon/gateway/patients-gateway WORKER_BIN=$SRC/daemon/worker/patients-worker

passed=0
failed=0
for t in "$SRC"/tests/integration/[0-9][0-9][0-9][0-9]-*.sh; do
	name=$(basename "$t" .sh)
	[ -n "${1:-}" ] && [[ $name != *$1* ]] && continue
	start=$SECONDS
	out="$STACK_DIR/$name.out"
	if (cd "$STACK_DIR" && timeout 600 bash "$t") >"$out" 2>&1; then
		echo "PASS: $name ($((SECONDS - start))s)"
		passed=$((passed + 1))
	else
		echo "FAIL: $name ($((SECONDS - start))s)"
		sed 's/^/    /' "$out" | tail -n 60
		failed=$((failed + 1))
	fi
done
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
