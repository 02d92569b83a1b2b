# shellcheck shell=bash
# Helpers for the gateway scenarios (tests/integration/02NN-gateway-*.sh):
# free ports, a keys file, a gateway started and waited for, PUTs with curl
# whose status, headers and body land in files the assertions read.

# shellcheck source=stack.sh
. "$PATIENTS_SRC/tests/lib/stack.sh"

# A free port at or above BASE, skipping the ones already handed out. Bases
# stay below Linux's ephemeral range (32768 up): there, a client socket of
# the run may hold the port at the moment the gateway binds it.
GW_PORTS_TAKEN=()
gw_port() { # BASE
	local p
	p=$(stack_free_port "$1" "${GW_PORTS_TAKEN[@]}")
	GW_PORTS_TAKEN+=("$p")
	echo "$p"
}

# Appends tenant:api_key:sha256(secret) to FILE.
gw_key() { # FILE TENANT API_KEY SECRET
	printf '%s:%s:%s\n' "$2" "$3" "$(printf '%s' "$4" | "$GATEWAY_BIN" --hash-secret)" >>"$1"
}

# Starts a gateway as daemon NAME with its admin listener on ADMIN_PORT and
# waits until /readyz says Kafka is reachable (WAIT=healthz: only until the
# process answers, for a gateway whose Kafka is down on purpose).
gw_start() { # NAME ADMIN_PORT ARGS...
	local name=$1 admin=$2 i want=ready url
	shift 2
	start_daemon "$name" "$GATEWAY_BIN" --admin-listen "127.0.0.1:$admin" "$@"
	url="http://127.0.0.1:$admin/readyz"
	[ "${WAIT:-readyz}" = healthz ] && { url="http://127.0.0.1:$admin/healthz"; want=ok; }
	for ((i = 0; i < 600; i++)); do
		[ "$(curl -s "$url" 2>/dev/null)" = "$want" ] && return 0
		kill -0 "$(cat "$STACK_DIR/$name.daemon.pid")" 2>/dev/null ||
			{ echo "gateway $name exited:"; tail -n 20 "$STACK_DIR/$name.log"; return 1; }
		sleep 0.1
	done
	echo "gateway $name not $want after 60s:"
	tail -n 20 "$STACK_DIR/$name.log"
	return 1
}

# A PUT body of COUNT patients with codes p<FROM>.., first names tagged TAG
# (the "body" of tests/lib/batches.sh's envelope).
gw_body() { # FROM COUNT [TAG]
	envelope t 1 "2026-11-24T10:00:00.000Z" "$1" "$2" "${3:-v1}" | sed -e 's/^.*"body"://' -e 's/}$//'
}

# curl that leaves the status in $GW_STATUS, headers in $GW_HEADERS (file)
# and the body in $GW_BODY (text). Extra curl arguments pass through.
GW_HEADERS=$STACK_DIR/gw.headers.$$
gw_curl() { # curl args...
	local out
	out=$(curl -sS -D "$GW_HEADERS" -o "$GW_HEADERS.body" -w '%{http_code}' "$@") || true
	GW_STATUS=$out
	GW_BODY=$(cat "$GW_HEADERS.body" 2>/dev/null)
}

# PUT to URL with credentials KEY/SECRET and BODY (text; "@file" for a file).
gw_put() { # URL KEY SECRET BODY [curl args...]
	local url=$1 key=$2 secret=$3 body=$4
	shift 4
	gw_curl -X PUT "$url" -H "X-API-Key: $key" -H "X-Secret-Key: $secret" \
		-H 'Content-Type: application/json' --data-binary "$body" "$@"
}

# The value of header NAME in the last answer (case-insensitive name).
gw_header() { # NAME
	tr -d '\r' <"$GW_HEADERS" | sed -n "s/^$1: //Ip" | tail -n 1
}

# Checks the headers every answer must carry.
assert_common_headers() { # DESCRIPTION
	assert_match "$1: X-Request-Id is a UUIDv7" "$(gw_header X-Request-Id)" \
		'^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'
	assert_match "$1: X-RateLimit-Limit" "$(gw_header X-RateLimit-Limit)" '^[0-9]+$'
	assert_match "$1: X-RateLimit-Remaining" "$(gw_header X-RateLimit-Remaining)" '^[0-9]+$'
	assert_match "$1: X-RateLimit-Reset" "$(gw_header X-RateLimit-Reset)" '^[0-9]+$'
}
