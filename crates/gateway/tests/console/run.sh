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

# Port 0 for both listeners; the admin key is generated and printed once.
. crates/gateway/tests/serve_simulate.sh
serve_simulate PUSHWAY_ADMIN__LISTEN=127.0.0.1:0
if [ -z "$PUSHWAY_ADMIN" ] || [ -z "$PUSHWAY_ADMIN_KEY" ]; then
  echo "pushway serve did not print the admin console's address and key" >&2
  cat "$work/out" "$work/err" >&2
  exit 1
fi
export PUSHWAY_API PUSHWAY_API_KEY PUSHWAY_ADMIN PUSHWAY_ADMIN_KEY

"$venv/bin/python" crates/gateway/tests/console/console_test.py
echo "console: every step passed; screenshots in $CONSOLE_OUTPUT"
