# Sourced (not run) by schemathesis.sh and console/run.sh: `serve_simulate [NAME=value ...]`
# builds `pushway`, starts `pushway serve --simulate` on port 0 with a store in a temporary dir
# (the NAME=value pairs are added to its environment, e.g. PUSHWAY_ADMIN__LISTEN=127.0.0.1:0),
# waits until it has printed its addresses and keys and answers /readyz, and stops it and
# removes the dir when the script exits.
#
# Before: the working directory is the repository root, `target` is the Cargo target dir.
# After: `server` (its pid), `work` (the temporary dir; the server's stdout and stderr are
# $work/out and $work/err), and PUSHWAY_API, PUSHWAY_API_KEY (the demo app's), plus
# PUSHWAY_ADMIN, PUSHWAY_ADMIN_KEY when the admin listener is on (empty otherwise).

serve_simulate_stop() {
  if [ -n "${server:-}" ] && kill -0 "$server" 2>/dev/null; then
    kill "$server"
    wait "$server" 2>/dev/null || true
  fi
  if [ -n "${work:-}" ]; then
    rm -rf "$work"
  fi
}

serve_simulate() {
  cargo build --quiet --bin pushway
  work="$(mktemp -d)"
  server=""
  trap serve_simulate_stop EXIT
  env PUSHWAY_SERVER__LISTEN=127.0.0.1:0 PUSHWAY_STORE__PATH="$work/gateway.sqlite3" \
    PUSHWAY_SERVER__SHUTDOWN_GRACE_SECS=2 RUST_LOG=warn "$@" \
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
  PUSHWAY_API="$(sed -n 's/^pushway listening on \(http:[^ ]*\) .*/\1/p' "$work/out")"
  PUSHWAY_API_KEY="$(sed -n 's/.*API key: //p' "$work/out")"
  PUSHWAY_ADMIN="$(sed -n 's/^admin console on \(http:[^ ]*\)\/console .*/\1/p' "$work/out")"
  PUSHWAY_ADMIN_KEY="$(sed -n 's/^admin key (.*): //p' "$work/out")"
  if [ -z "$PUSHWAY_API" ] || [ -z "$PUSHWAY_API_KEY" ]; then
    echo "pushway serve did not print its address and demo key" >&2
    cat "$work/out" "$work/err" >&2
    exit 1
  fi
  for _ in $(seq 1 100); do
    curl --silent --fail --output /dev/null "$PUSHWAY_API/readyz" && break
    sleep 0.1
  done
  curl --silent --fail --output /dev/null "$PUSHWAY_API/readyz"
}
