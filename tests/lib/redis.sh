# shellcheck shell=bash
# A throwaway redis-server for the shared rate limit scenarios: its own port
# (from tests/lib/gateway.sh's gw_port), no persistence, stopped by its pid
# (start_daemon's pid file: the runner stops it too if a scenario fails).
# Never the machine's own Redis on 6379.

# Starts redis-server as daemon NAME on 127.0.0.1:PORT and waits for PONG.
redis_start() { # NAME PORT
	local i
	start_daemon "$1" redis-server --port "$2" --bind 127.0.0.1 --save '' --appendonly no \
		--dir "$STACK_DIR" --daemonize no --loglevel warning
	for ((i = 0; i < 100; i++)); do
		[ "$(redis-cli -h 127.0.0.1 -p "$2" ping 2>/dev/null)" = PONG ] && return 0
		sleep 0.1
	done
	echo "redis-server $1 not answering on $2:"
	tail -n 20 "$STACK_DIR/$1.log"
	return 1
}

# kill -9, by pid: Redis gone without a goodbye, as a crash.
redis_kill() { # NAME
	local pidfile="$STACK_DIR/$1.daemon.pid" pid
	pid=$(cat "$pidfile")
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null || true
	rm -f "$pidfile"
}

# The value of an unlabelled series in a gateway's /metrics (admin port).
gw_metric() { # ADMIN_PORT NAME
	curl -s "http://127.0.0.1:$1/metrics" | sed -n "s/^$2 //p"
}

# Writes a curl config of COUNT PUTs of BODY to URL with KEY/SECRET, each
# printing its status on a line (--max-time 5: a hang shows as 000).
redis_curl_cfg() { # FILE URL KEY SECRET BODY COUNT
	local i
	{
		echo 'silent'
		echo 'max-time = 5'
		echo 'request = "PUT"'
		echo "header = \"X-API-Key: $3\""
		echo "header = \"X-Secret-Key: $4\""
		echo 'header = "Content-Type: application/json"'
		printf 'data = "%s"\n' "$(printf '%s' "$5" | sed 's/\\/\\\\/g; s/"/\\"/g')"
		echo 'write-out = "%{http_code}\n"'
		for ((i = 0; i < $6; i++)); do
			echo "url = \"$2\""
			echo 'output = "/dev/null"'
		done
	} >"$1"
}
