# shellcheck shell=bash
# Redocly CLI, the OpenAPI validator of tests/integration/0600: one pinned
# version from the npm registry, installed once into the cache the Kafka jars
# use (~/.cache/patients-dev, PATIENTS_CACHE overrides), so later runs are
# offline. Needs Node.js >= 20.19 and npm (dev.sh installs Debian's when
# there is no npm at all).

REDOCLY_VERSION=2.77.0
REDOCLY_DIR=${PATIENTS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/patients-dev}/redocly-cli-$REDOCLY_VERSION
# No telemetry, no update check: the tests run offline.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true

# Installs it unless it is there; prints the path of the redocly command.
redocly_bin() {
	local bin=$REDOCLY_DIR/node_modules/.bin/redocly tmp
	if [ ! -x "$bin" ]; then
		command -v npm >/dev/null || { echo "redocly: npm is missing (./dev.sh build installs it)" >&2; return 1; }
		mkdir -p "${REDOCLY_DIR%/*}" && tmp=$(mktemp -d "${REDOCLY_DIR}.XXXXXX") || return 1
		# A scratch folder moved into place: an interrupted install is never taken for one.
		if ! npm install --prefix "$tmp" --no-audit --no-fund --ignore-scripts --loglevel=error \
			"@redocly/cli@$REDOCLY_VERSION" >&2; then
			rm -rf "$tmp"
			return 1
		fi
		rm -rf "$REDOCLY_DIR"
		mv "$tmp" "$REDOCLY_DIR" || return 1
	fi
	echo "$bin"
}
