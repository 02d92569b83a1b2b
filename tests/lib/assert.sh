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
