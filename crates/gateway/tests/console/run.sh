#!/usr/bin/env bash
# The console in a real browser: headless Chromium (Debian's chromium + chromium-driver) driven
# over WebDriver by Python selenium (console_test.py) against `pushway serve --simulate`: log in,
# look up a message and a user, replay a dead letter, preview and send a test push; every page's
# contents asserted exactly; screenshots in target/test-output/console/. .ci/run calls it.
#
# Environment: SCHEMATHESIS_VENV (the venv schemathesis.sh makes, default
# $CARGO_TARGET_DIR/schemathesis-venv; selenium is added to it), CHROMIUM (default
# /usr/bin/chromium), CHROMEDRIVER (default /usr/bin/chromedriver), CONSOLE_OUTPUT (default
# target/test-output/console, relative to the repository).
set -euo pipefail
cd "$(dirname "$0")/../../../.."

target="${CARGO_TARGET_DIR:-target}"
venv="${SCHEMATHESIS_VENV:-$target/schemathesis-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import selenium' 2>/dev/null; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'selenium>=4.20,<5'
fi
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
for program in "$CHROMIUM" "$CHROMEDRIVER"; do
  if [ ! -x "$program" ]; then
    echo "$program is missing: apt-get install chromium chromium-driver" >&2
    exit 1
  fi
done
output="${CONSOLE_OUTPUT:-target/test-output/console}"
mkdir -p "$output"
export CONSOLE_OUTPUT="$(cd "$output" && pwd)"

cargo build --quiet --bin pushway

work="$(mktemp -d)"
server=""
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill "$server"
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# Port 0 for both listeners; the admin key is generated and printed once.
PUSHWAY_SERVER__LISTEN=127.0.0.1:0 PUSHWAY_ADMIN__LISTEN=127.0.0.1:0 \
  PUSHWAY_STORE__PATH="$work/gateway.sqlite3" PUSHWAY_SERVER__SHUTDOWN_GRACE_SECS=2 RUST_LOG=warn \
  "$target/debug/pushway" serve --simulate >"$work/out" 2>"$work/err" &
server=$!

for _ in $(seq 1 200); do
  grep -q 'API key:' "$work/out" && break
  if ! kill -0 "$server" 2>/dev/null; then
    echo "pushway serve exited:" >&2
    cat "$work/err" >&2
    exit 1
  fi
  sleep 0.1
done
export PUSHWAY_API="$(sed -n 's/^pushway listening on \(http:[^ ]*\) .*/\1/p' "$work/out")"
export PUSHWAY_API_KEY="$(sed -n 's/.*API key: //p' "$work/out")"
export PUSHWAY_ADMIN="$(sed -n 's/^admin console on \(http:[^ ]*\)\/console .*/\1/p' "$work/out")"
export PUSHWAY_ADMIN_KEY="$(sed -n 's/^admin key (.*): //p' "$work/out")"
if [ -z "$PUSHWAY_API" ] || [ -z "$PUSHWAY_API_KEY" ] || [ -z "$PUSHWAY_ADMIN" ] || [ -z "$PUSHWAY_ADMIN_KEY" ]; then
  echo "pushway serve did not print its addresses and keys" >&2
  cat "$work/out" "$work/err" >&2
  exit 1
fi

"$venv/bin/python" crates/gateway/tests/console/console_test.py
echo "console: every step passed; screenshots in $CONSOLE_OUTPUT"
