# docs/openapi.yaml is a valid OpenAPI 3.1 document: Redocly CLI's lint
# (structure, every $ref resolves, every example conforms to its schema;
# strict: a warning fails too, see docs/redocly.yaml) and the contract
# checker's own document checks. Both must also refuse a copy with a broken
# $ref and one with an example that breaks its schema.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/redocly.sh"

doc=$PATIENTS_SRC/docs/openapi.yaml
cfg=$PATIENTS_SRC/docs/redocly.yaml
redocly=$(redocly_bin)
assert_match "Node.js is recent enough for Redocly CLI $REDOCLY_VERSION" "$(node --version)" '^v(2[1-9]|[3-9][0-9]|20\.(19|[2-9][0-9]))\.'
assert_match "the document is OpenAPI 3.1" "$(head -n 1 "$doc")" '^openapi: 3\.1\.[0-9]+$'

lint() { # DOC
	"$redocly" lint --config "$cfg" --format stylish "$1" 2>&1 | grep -v '[║╔╚]'
	return "${PIPESTATUS[0]}"
}
rc=0
lint "$doc" >"$STACK_DIR/0600.lint" || rc=$?
cat "$STACK_DIR/0600.lint"
assert_eq "redocly lint: no error, no warning" "$rc" 0

rc=0
/usr/bin/python3 "$PATIENTS_SRC/tests/contract/openapi_contract.py" --doc "$doc" --static >"$STACK_DIR/0600.static" || rc=$?
cat "$STACK_DIR/0600.static"
assert_eq "the contract checker's document checks" "$rc" 0

# The validators can fail.
sed 's|#/components/schemas/Error404|#/components/schemas/Error4040|' "$doc" >"$STACK_DIR/0600.ref.yaml"
sed 's|- message: Success|- message: OK|' "$doc" >"$STACK_DIR/0600.example.yaml"
for bad in ref example; do
	rc=0
	lint "$STACK_DIR/0600.$bad.yaml" >"$STACK_DIR/0600.$bad.lint" || rc=$?
	assert_eq "redocly lint refuses a document with a bad $bad" "$rc" 1
done
assert_match '... naming the $ref' "$(cat "$STACK_DIR/0600.ref.lint")" "Can't resolve \\\$ref"
rc=0
/usr/bin/python3 "$PATIENTS_SRC/tests/contract/openapi_contract.py" --doc "$STACK_DIR/0600.ref.yaml" --static >"$STACK_DIR/0600.ref.static" || rc=$?
assert_eq "the contract checker refuses the broken \$ref" "$rc:$(grep -c 'Error4040 does not resolve' "$STACK_DIR/0600.ref.static")" 1:1
