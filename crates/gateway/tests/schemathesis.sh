#!/usr/bin/env bash
# schemathesis (from PyPI) against a running `pushway serve --simulate`: every operation of the
# served /v1/openapi.json is fuzzed (examples, coverage, fuzzing and stateful phases, positive
# and negative data) with the demo app's key; any 5xx, or any answer the document does not
# describe (status, content type, headers, body schema), fails the run. .ci/run calls it.
#
# Environment: SCHEMATHESIS_VENV (default $CARGO_TARGET_DIR/schemathesis-venv, created when
# missing), SCHEMATHESIS_EXAMPLES (test cases per operation and phase, default 50),
# SCHEMATHESIS_SEED (default: a fixed seed, so a failure reproduces), SCHEMATHESIS_REPORT_DIR
# (absolute; default: a temporary dir). Arguments are passed on to `schemathesis run` (e.g. `--report har`).
set -euo pipefail
cd "$(dirname "$0")/../../.."

target="${CARGO_TARGET_DIR:-target}"
venv="${SCHEMATHESIS_VENV:-$target/schemathesis-venv}"
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  # 4.x: the CLI below (`run --checks/--max-examples/--mode`) is the 4.x one.
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'schemathesis>=4.32,<5'
fi

# Port 0: the server picks a free port and prints it; the data dir is temporary.
. crates/gateway/tests/serve_simulate.sh
serve_simulate
base="$PUSHWAY_API"
key="$PUSHWAY_API_KEY"

# Run from the scratch dir: schemathesis keeps a cache (.schemathesis/) in its working directory.
# One worker: with two, Python 3.11's `ast` (which Hypothesis calls to describe filters) is not
# thread-safe and a run can fail with "AST constructor recursion depth mismatch".
st="$(cd "$venv" && pwd)/bin/schemathesis"
status=0
(cd "$work" && timeout 170 "$st" --no-color run "$base/v1/openapi.json" \
  --url "$base" \
  --header "Authorization: Bearer $key" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-50}" \
  --seed "${SCHEMATHESIS_SEED:-14}" \
  --workers 1 \
  --generation-database none \
  --request-timeout 10 \
  --report-dir "${SCHEMATHESIS_REPORT_DIR:-$work/report}" \
  "$@") || status=$?

# A failure of the server itself (a panic, a crash) shows in its log.
if ! kill -0 "$server" 2>/dev/null; then
  echo "pushway serve died during the run:" >&2
  cat "$work/err" >&2
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "schemathesis: findings above (exit $status); server log:" >&2
  tail -n 50 "$work/out" "$work/err" >&2
fi
exit "$status"
