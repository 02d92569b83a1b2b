# shellcheck shell=bash
# Assertions for the integration scenarios: each prints what it checked and
# exits the scenario non-zero at the first mismatch.

assert_eq() { # DESCRIPTION GOT WANT
	if [ "$2" == "$3" ]; then
		echo "ok - $1"
	else
		printf 'not ok - %s\n    got:  %s\n    want: %s\n' "$1" "$2" "$3"
		exit 1
	fi
}

assert_match() { # DESCRIPTION GOT REGEX
	if [[ $2 =~ $3 ]]; then
		echo "ok - $1"
	else
		printf 'not ok - %s\n    got:  %s\n    want match: %s\n' "$1" "$2" "$3"
		exit 1
	fi
}

# Polls COMMAND until its output equals WANT or TIMEOUT seconds pass.
wait_for() { # DESCRIPTION TIMEOUT WANT COMMAND...
	local desc=$1 timeout=$2 want=$3 got= i
	shift 3
	for ((i = 0; i < timeout * 10; i++)); do
		got=$("$@" 2>/dev/null) || true
		[ "$got" == "$want" ] && { echo "ok - $desc"; return 0; }
		sleep 0.1
	done
	printf 'not ok - %s (after %ss)\n    got:  %s\n    want: %s\n' "$desc" "$timeout" "$got" "$want"
	exit 1
}

sql() { psql -X -q -v ON_ERROR_STOP=1 -tA -c "$1"; }

# Creates topic NAME with PARTS partitions on the test stack (idempotent), so a
# scenario works on topics of its own and never sees another's batches.
new_topic() { # NAME PARTS
	(
		. "$PATIENTS_SRC/tests/lib/stack.sh"
		stack_ports "$STACK_DIR"
		stack_kafka_topic "$(stack_kafka_libs)" "$STACK_DIR" "$1" "$2"
	)
}

# Starts a daemon in the background with its pid in $STACK_DIR/NAME.daemon.pid
# (the runner stops whatever such files still name when the run ends) and its
# stderr in $STACK_DIR/NAME.log.
start_daemon() { # NAME COMMAND...
	local name=$1
	shift
	"$@" >>"$STACK_DIR/$name.log" 2>&1 </dev/null &
	echo $! >"$STACK_DIR/$name.daemon.pid"
}

# Stops it with SIGTERM and returns its exit status (KILL after 30 s).
stop_daemon() { # NAME
	local pidfile="$STACK_DIR/$1.daemon.pid" pid rc i
	[ -f "$pidfile" ] || return 0
	pid=$(cat "$pidfile")
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	rc=$?
	rm -f "$pidfile"
	return $rc
}
