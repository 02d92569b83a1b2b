# The stack is real: a message produced with kcat to patients.v1 comes back
# from the broker, and the throwaway PostgreSQL answers.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"

assert_eq "psql answers select 1" "$(sql 'select 1')" "1"
assert_match "PostgreSQL is our own cluster, not the machine's" "$(sql 'show data_directory')" "^$STACK_DIR/"

meta=$(kcat -b "$PATIENTS_KAFKA_BROKERS" -L -J)
assert_match "$PATIENTS_TOPIC has 12 partitions" \
	"$(kcat -b "$PATIENTS_KAFKA_BROKERS" -L -t "$PATIENTS_TOPIC" | grep -c 'partition [0-9]*, leader')" '^12$'
assert_match "$PATIENTS_DLQ_TOPIC exists" "$meta" "\"topic\":\"$PATIENTS_DLQ_TOPIC\""

token="smoke-$$-$RANDOM"
printf '%s\n' "$token" | kcat -b "$PATIENTS_KAFKA_BROKERS" -P -t "$PATIENTS_TOPIC" -p 5 -k smoke
got=$(kcat -b "$PATIENTS_KAFKA_BROKERS" -C -t "$PATIENTS_TOPIC" -p 5 -o -1 -c 1 -e -f '%k:%s\n')
assert_eq "kcat consumes back what it produced" "$got" "smoke:$token"

# The scripts stop their stack from an EXIT trap, where a function's bare
# `return` gives back the status the script is exiting with: after a failure
# the PostgreSQL helper "failed" and the cluster was left running. Every
# helper a trap reaches must say what it returns.
got=$(bash -c '. "$PATIENTS_SRC/tests/lib/stack.sh"; trap "stack_pg_bindir >/dev/null && echo ok || echo failed" EXIT; false' || true)
assert_eq "stack helpers succeed inside an EXIT trap after a failure" "$got" "ok"
