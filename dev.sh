#!/usr/bin/env bash
# The developer's entry point.
#
#   ./dev.sh up      install what is missing, build, start the local stack in .run/
#   ./dev.sh down    stop everything `up` started
#   ./dev.sh test    unit tests, fuzzing, then integration tests on a stack of their own
#   ./dev.sh build   install what is missing and build (with sanitizers)
#   ./dev.sh bench   throughput against this machine's own limit (a stack of its own)
#   ./dev.sh bench --peers   and against Kafka Connect + Debezium's JDBC sink
#   ./dev.sh bench --profile and where a batch's time goes in PostgreSQL
#   ./dev.sh bench --split   with PostgreSQL on a CPU of its own (as on its own host)
#   ./dev.sh status  what is running
#
#   PATIENTS_STACK_KAFKA=cluster ./dev.sh up (or bench): Kafka is the 3-node
#   SASL_SSL cluster of tests/lib/cluster.sh (RF 3, ACLs) instead of one
#   plaintext broker; the daemons log in with .run/{gateway,worker}-kafka.props
set -euo pipefail

SRC=$(cd "$(dirname "$0")" && pwd)
RUN=$SRC/.run
cd "$SRC"
# shellcheck source=tests/lib/stack.sh
. "$SRC/tests/lib/stack.sh"
# shellcheck source=tests/lib/redocly.sh
. "$SRC/tests/lib/redocly.sh"
# (12 partitions, as with one broker; the integration runs' clusters have 6.)
CLUSTER_PARTITIONS=${CLUSTER_PARTITIONS:-12}
# shellcheck source=tests/lib/cluster.sh
. "$SRC/tests/lib/cluster.sh"

# One broker (the default) or the 3-node cluster.
KAFKA_MODE=${PATIENTS_STACK_KAFKA:-single}
case $KAFKA_MODE in
single | cluster) ;;
*) printf 'dev.sh: PATIENTS_STACK_KAFKA is single or cluster, not %s\n' "$KAFKA_MODE" >&2; exit 2 ;;
esac

# Debian packages: build tools, the libraries configure looks for, the real
# peers the tests talk to (PostgreSQL server, kcat, Java + Maven only to run
# the Kafka broker), clang for the libFuzzer targets, and what checks the API
# document and the alert rules (python3 with yaml and jsonschema; promtool,
# which comes with Debian's prometheus: under systemd that package also
# enables a Prometheus server on :9090, as postgresql does on :5432), and
# hiredis + redis-server for the shared rate limit (the tests start their
# own redis-server; the package's own on :6379 is never used).
PACKAGES=(
	build-essential autoconf automake libtool pkg-config
	librdkafka-dev libpq-dev libjson-c-dev libmicrohttpd-dev libgnutls28-dev libsystemd-dev libcmocka-dev
	libhiredis-dev redis-server
	postgresql kcat curl openssl ca-certificates bc wrk python3 procps
	default-jre-headless maven
	clang libclang-rt-dev
	python3 python3-yaml python3-jsonschema prometheus
)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'dev.sh: %s\n' "$*" >&2; exit 1; }

# clang's runtime package carries its version in its name on Debian 12.
resolve_packages() {
	local p v
	for p in "${PACKAGES[@]}"; do
		if [ "$p" = libclang-rt-dev ]; then
			v=$(clang --version 2>/dev/null | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -n 1)
			[ -n "$v" ] || v=14
			echo "libclang-rt-$v-dev"
		else
			echo "$p"
		fi
	done
}

install_deps() {
	local missing=() p
	for p in $(resolve_packages); do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	# npm installs Redocly CLI (tests/lib/redocly.sh); a Node.js from
	# elsewhere with its own npm is kept.
	command -v npm >/dev/null || missing+=(nodejs npm)
	[ ${#missing[@]} -eq 0 ] && return 0
	say "installing ${missing[*]}"
	local sudo=
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null || die "missing packages: ${missing[*]} (run as root or install sudo)"
		sudo=sudo
	fi
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
	# clang may have arrived only now: its runtime package follows its version.
	missing=()
	for p in $(resolve_packages); do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] ||
		$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			"${missing[@]}" >/dev/null
}

# Builds in-tree with the given configure options, reconfiguring only when
# they changed.
build() {
	local opts="$*"
	[ -x configure ] || { say "autogen"; ./autogen.sh >/dev/null 2>&1 || ./autogen.sh; }
	if [ ! -f config.status ] || [ "$(cat .configure-opts 2>/dev/null)" != "$opts" ] ||
		[ configure -nt config.status ]; then
		say "configure $opts"
		# shellcheck disable=SC2086
		./configure $opts >.run-configure.log 2>&1 || { cat .run-configure.log; die "configure failed"; }
		echo "$opts" >.configure-opts
	fi
	say "make"
	make -j"$(nproc)" >/dev/null || make
}

BUILD_OPTS="--enable-sanitizers --enable-fuzzing"

cmd_build() {
	install_deps
	# Fetched now, while the registry is at hand; test 0600 runs it.
	redocly_bin >/dev/null || say "could not install Redocly CLI $REDOCLY_VERSION: test 0600 will fail"
	build $BUILD_OPTS
}

# Starts a daemon of ours under .run/ unless its pid file names a live one.
start_daemon() { # NAME COMMAND...
	local name=$1
	shift
	stack_pid_alive "$RUN/$name.pid" && return 0
	"$@" >>"$RUN/$name.log" 2>&1 </dev/null &
	echo $! >"$RUN/$name.pid"
	disown 2>/dev/null || true
	sleep 0.5
	stack_pid_alive "$RUN/$name.pid" || { tail -n 20 "$RUN/$name.log"; die "$name did not start (.run/$name.log)"; }
}

# A stack running with the other Kafka must be stopped first: its
# daemons and stack.env name the brokers they were started with.
kafka_mode_check() {
	local was
	was=$(cat "$RUN/kafka.mode" 2>/dev/null || echo single)
	[ "$was" = "$KAFKA_MODE" ] && return 0
	if stack_pid_alive "$RUN/kafka.pid" || stack_pid_alive "$RUN/kcluster/n1.pid" ||
		stack_pid_alive "$RUN/gateway.pid" || stack_pid_alive "$RUN/worker.pid"; then
		die "the stack in .run/ runs with Kafka '$was': ./dev.sh down first"
	fi
	return 0
}

# PostgreSQL and the cluster under .run/ (cluster_stack_up), and the props
# files the README documents (one SCRAM user per daemon, the test CA)
# written next to stack.env, mode 600.
dev_cluster_up() {
	local u
	# Ports apart from the integration runs' clusters (23092 up).
	CLUSTER_PORT_BASE=${CLUSTER_PORT_BASE:-21092} cluster_stack_up "$RUN" || return 1
	for u in gateway worker; do
		(umask 077; cp "$(cluster_props "$RUN/kcluster" "$u")" "$RUN/$u-kafka.props")
	done
	cat >>"$RUN/stack.env" <<-EOF
		export GATEWAY_KAFKA_PROPS_FILE=$RUN/gateway-kafka.props
		export WORKER_KAFKA_PROPS_FILE=$RUN/worker-kafka.props
	EOF
}

# KAFKA_ARGS: --kafka-props-file for the daemon's own user on the cluster,
# nothing with one broker.
kafka_props_args() { # gateway|worker
	KAFKA_ARGS=()
	[ "$KAFKA_MODE" = cluster ] && KAFKA_ARGS=(--kafka-props-file "$RUN/$1-kafka.props")
	return 0
}

cmd_up() {
	local t0=$SECONDS
	cmd_build
	mkdir -p "$RUN"
	kafka_mode_check
	say "starting PostgreSQL and Kafka ($KAFKA_MODE) under .run/"
	if [ "$KAFKA_MODE" = cluster ]; then
		dev_cluster_up || die "the stack did not start (logs under .run/, .run/kcluster/)"
	else
		stack_up "$RUN" || die "the stack did not start (logs under .run/)"
	fi
	echo "$KAFKA_MODE" >"$RUN/kafka.mode"
	# Ports and the demo secret are chosen once and kept in .run/ports.env,
	# so a second `up` changes nothing.
	if [ ! -f "$RUN/ports.env" ]; then
		(
			umask 077
			gw=$(stack_free_port 18080)
			gwa=$(stack_free_port 19180 "$gw")
			wa=$(stack_free_port 19190 "$gw" "$gwa")
			printf 'GATEWAY_PORT=%s\nGATEWAY_ADMIN_PORT=%s\nWORKER_ADMIN_PORT=%s\nDEMO_SECRET_KEY=%s\n' \
				"$gw" "$gwa" "$wa" "$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')" >"$RUN/ports.env"
		)
	fi
	# shellcheck disable=SC1091
	. "$RUN/ports.env"
	(
		# shellcheck disable=SC1091
		. "$RUN/stack.env"
		say "migrating the schema"
		daemon/worker/patients-worker --migrate
		say "starting patients-worker (log: .run/worker.log)"
		kafka_props_args worker
		start_daemon worker daemon/worker/patients-worker --admin-listen "127.0.0.1:$WORKER_ADMIN_PORT" \
			"${KAFKA_ARGS[@]}"
	)
	cat >>"$RUN/stack.env" <<-EOF
		export WORKER_LOG=$RUN/worker.log
		export WORKER_METRICS_URL=http://127.0.0.1:$WORKER_ADMIN_PORT/metrics
	EOF
	# The gateway, with demo credentials.
	printf 'demo:demo-key:%s\n' "$(printf '%s' "$DEMO_SECRET_KEY" |
		daemon/gateway/patients-gateway --hash-secret)" >"$RUN/gateway.keys"
	cat >>"$RUN/stack.env" <<-EOF
		export GATEWAY_URL=http://127.0.0.1:$GATEWAY_PORT
		export GATEWAY_METRICS_URL=http://127.0.0.1:$GATEWAY_ADMIN_PORT/metrics
		export GATEWAY_LOG=$RUN/gateway.log
		export DEMO_TENANT=demo
		export DEMO_API_KEY=demo-key
		export DEMO_SECRET_KEY=$DEMO_SECRET_KEY
	EOF
	(
		# shellcheck disable=SC1091
		. "$RUN/stack.env"
		say "starting patients-gateway on $GATEWAY_URL (log: .run/gateway.log)"
		kafka_props_args gateway
		start_daemon gateway daemon/gateway/patients-gateway --listen "127.0.0.1:$GATEWAY_PORT" \
			--admin-listen "127.0.0.1:$GATEWAY_ADMIN_PORT" --keys-file "$RUN/gateway.keys" \
			"${KAFKA_ARGS[@]}"
		for ((i = 0; i < 300; i++)); do
			[ "$(curl -s "http://127.0.0.1:$GATEWAY_ADMIN_PORT/readyz")" = ready ] && break
			sleep 0.1
		done
		say "sample: PUT $GATEWAY_URL/v1/patients as tenant $DEMO_TENANT"
		curl -sS -X PUT "$GATEWAY_URL/v1/patients" -H "X-API-Key: $DEMO_API_KEY" \
			-H "X-Secret-Key: $DEMO_SECRET_KEY" -H 'Content-Type: application/json' \
			-d '{"patients":[{"code":"demo-1","first_name":"Ada","last_name":"Lovelace","gender":"female","birthdate":"1985-12-10","email":"ada@example.com"}]}' \
			-w '  (HTTP %{http_code})\n' || true
		for ((i = 0; i < 100; i++)); do
			[ "$(psql -X -tAc "select count(*) from patients where tenant = 'demo' and code = 'demo-1'")" = 1 ] && break
			sleep 0.1
		done
		psql -X -c "select tenant, code, first_name, last_name, gender, birthdate, email, received_at from patients where tenant = 'demo' and code = 'demo-1'"
	)
	say "API document (OpenAPI 3.1): $SRC/docs/openapi.yaml"
	say "ready in $((SECONDS - t0))s; source .run/stack.env"
	cat "$RUN/stack.env"
}

cmd_down() {
	[ -d "$RUN" ] || return 0
	stack_stop_pid "$RUN/gateway.pid" 30
	stack_stop_pid "$RUN/worker.pid" 30
	stack_down "$RUN"
	[ -d "$RUN/kcluster" ] && cluster_down "$RUN/kcluster"
	say "stopped"
}

cmd_status() {
	for d in worker gateway; do
		stack_pid_alive "$RUN/$d.pid" && echo "$d: running (pid $(cat "$RUN/$d.pid"))" || echo "$d: stopped"
	done
	if [ "$(cat "$RUN/kafka.mode" 2>/dev/null)" = cluster ]; then
		for n in 1 2 3; do
			stack_pid_alive "$RUN/kcluster/n$n.pid" && echo "kafka node $n: running (pid $(cat "$RUN/kcluster/n$n.pid"))" || echo "kafka node $n: stopped"
		done
	else
		[ -f "$RUN/kafka.pid" ] && stack_pid_alive "$RUN/kafka.pid" && echo "kafka: running (pid $(cat "$RUN/kafka.pid"))" || echo "kafka: stopped"
	fi
	[ -f "$RUN/pg.pid" ] && stack_pid_alive "$RUN/pg.pid" && echo "postgres: running (pid $(cat "$RUN/pg.pid"))" || echo "postgres: stopped"
}

# Counts from automake's TAP driver output ("# PASS:  N" ...).
tap_count() {
	local n
	n=$(sed -n "s/^# $1: *\([0-9]*\)$/\1/p" "$2" | tail -n 1)
	echo "${n:-0}"
}

cmd_test() {
	local passed=0 failed=0 n log
	cmd_build
	log=$(mktemp)

	say "unit tests (make check, ASan+UBSan)"
	if make -j"$(nproc)" check >"$log" 2>&1; then :; fi
	grep -E '^(PASS|FAIL|ERROR|XPASS|SKIP):' "$log" || true
	passed=$((passed + $(tap_count PASS "$log")))
	n=$(($(tap_count FAIL "$log") + $(tap_count ERROR "$log") + $(tap_count XPASS "$log")))
	if ! grep -q '^# TOTAL:' "$log"; then
		# make check never reached the tests: the build itself failed.
		tail -n 40 "$log"
		n=1
	fi
	failed=$((failed + n))
	[ "$n" -eq 0 ] || { cat test-suite.log 2>/dev/null | tail -n 80 || true; }

	if grep -q '^fuzz-run:' Makefile; then
		say "fuzzing (libFuzzer, ${FUZZ_SECONDS:-30}s per target)"
		if make fuzz-run FUZZ_SECONDS="${FUZZ_SECONDS:-30}" >"$log" 2>&1; then
			grep -E '^(PASS|FAIL)' "$log" || true
			passed=$((passed + 1))
		else
			tail -n 60 "$log"
			echo "FAIL: fuzz-run"
			failed=$((failed + 1))
		fi
	fi

	say "integration tests (their own PostgreSQL and Kafka)"
	if bash tests/integration/run.sh >"$log.int" 2>&1; then :; fi
	cat "$log.int"
	n=$(sed -n 's/^integration: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$log.int")
	passed=$((passed + ${n:-0}))
	n=$(sed -n 's/^integration: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$log.int")
	[ -n "$n" ] || n=1 # the runner itself broke
	failed=$((failed + n))
	rm -f "$log" "$log.int"

	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}

cmd_bench() {
	install_deps
	exec bash tests/bench/run.sh "$@"
}

case "${1:-}" in
up) cmd_up ;;
bench) shift; cmd_bench "$@" ;;
down) cmd_down ;;
test) cmd_test ;;
build) cmd_build ;;
status) cmd_status ;;
*)
	sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
	[ -n "${1:-}" ] && exit 2
	exit 0
	;;
esac
