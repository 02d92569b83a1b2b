# Runs last: every log line our daemons wrote during the whole run (the
# scenarios' *.log files at the top of the stack folder; PostgreSQL's and
# Kafka's own logs are not ours) is free of the test data's patient fields,
# API keys and secrets. DESIGN.md s.6: counts and request ids only.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"

shopt -s nullglob
logs=("$STACK_DIR"/*.log)
if [ ${#logs[@]} -eq 0 ]; then
	echo "# no daemon logs in this run (only meaningful after the other scenarios)"
	exit 0
fi
lines=$(cat "${logs[@]}" | wc -l)
echo "# ${#logs[@]} logs, $lines lines"
assert_match "the daemons logged something to check" "$(cat "${logs[@]}" | grep -c 'request_id=' || true)" '^[1-9][0-9]*$'

# Names and emails of tests/lib/batches.sh and the demo row; every API key
# and secret of the gateway scenarios and 0121's PostgreSQL password (the
# one- and two-letter ones of 0205
# would match ordinary words and are left out).
for s in 'José' 'Núñez' '@example.com' 'Lovelace' \
	ak_0201 ak_0204 ak_0206 ak_0207 ak_0208 ak_acme ak_beta ak_one ak_two \
	s3cret acme-secret beta-secret secret-one secret-two pw-0121- \
	ak_t0 ak_t1 ak_t2 ak_t3 secret-t0 secret-t1 secret-t2 secret-t3; do
	hits=$(grep -F -l -- "$s" "${logs[@]}" || true)
	assert_eq "no log holds \"$s\"" "$hits" ""
done

# Every librdkafka client (the gateway's producer, the worker's consumer and
# DLQ producer) logs through our logfmt callback: none of librdkafka's own
# "%N|time|FAC|client| message" lines.
hits=$(grep -E -l -- '^%[0-7]\|[0-9.]+\|' "${logs[@]}" || true)
assert_eq "no librdkafka line in its own format" "$hits" ""
