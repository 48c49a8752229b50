#!/usr/bin/env bash
# OpenBITS quick start: installs what is missing (Debian 12), builds, starts a private
# dbus-daemon and bitsd in user mode with a fresh state directory, serves a generated 256 MiB
# file over loopback HTTP (with Range support), downloads it with `bitsadmin /transfer`
# (live progress), checks its SHA-256, and stops every process it started.
#
#   service/quickstart.sh [SIZE_MIB]      (default 256)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
size_mib="${1:-256}"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

say "Checking packages"
service/install-deps.sh

say "Building (build/release)"
cmake --preset release >/dev/null
cmake --build --preset release --parallel "$(nproc)" --target bitsd bitsadmin
bin="$root/build/release/src"

work=$(mktemp -d -t openbits-quickstart.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local seconds=$1 what=$2
  shift 2
  for _ in $(seq $((seconds * 20))); do
    if "$@"; then return 0; fi
    sleep 0.05
  done
  echo "error: timed out waiting for $what" >&2
  return 1
}

say "Generating a ${size_mib} MiB file to serve"
mkdir -p "$work/www" "$work/download" "$work/state"
head -c "$((size_mib * 1024 * 1024))" /dev/urandom > "$work/www/blob.bin"
expected=$(sha256sum "$work/www/blob.bin" | cut -d' ' -f1)

say "Starting a private D-Bus, the HTTP server and bitsd"
bus="unix:path=$work/bus"
dbus-daemon --config-file="$root/tests/harness/dbus-private.conf" --address="$bus" --nofork \
  >"$work/dbus.log" 2>&1 &
pids+=($!)
wait_for 10 "dbus-daemon" test -S "$work/bus"
python3 "$root/tests/harness/range_server.py" --root "$work/www" --port-file "$work/http.port" \
  --log "$work/http-requests.log" >"$work/http.log" 2>&1 &
pids+=($!)
wait_for 10 "the HTTP server" test -s "$work/http.port"
port=$(cat "$work/http.port")
"$bin/daemon/bitsd" --bus="$bus" --state-dir="$work/state" >"$work/bitsd.log" 2>&1 &
bitsd_pid=$!
pids=("$bitsd_pid" "${pids[@]}")  # stop bitsd first
wait_for 10 "bitsd" grep -q "bitsd ready" "$work/bitsd.log"

say "bitsadmin /transfer quickstart http://127.0.0.1:$port/blob.bin $work/download/blob.bin"
started=$(date +%s.%N)
"$bin/cli/bitsadmin" --bus="$bus" /transfer quickstart \
  "http://127.0.0.1:$port/blob.bin" "$work/download/blob.bin"
finished=$(date +%s.%N)

actual=$(sha256sum "$work/download/blob.bin" | cut -d' ' -f1)
seconds=$(python3 -c "print(f'{$finished - $started:.2f}')")
rate=$(python3 -c "print(f'{$size_mib / ($finished - $started):.0f}')")
if [[ "$actual" != "$expected" ]]; then
  echo "error: SHA-256 mismatch: expected $expected, got $actual" >&2
  exit 1
fi

say "Done"
cat <<EOT
bitsd downloaded ${size_mib} MiB over loopback HTTP in ${seconds} s (${rate} MiB/s, including job
creation and completion), and the SHA-256 of the result matches the source:
  ${actual}

What happened: bitsadmin created a BITS job over D-Bus, added the file, resumed the job and
watched it; bitsd fetched the file with ranged GETs into a hidden temp file beside the
destination, checkpointing (fdatasync, then the offset into its SQLite job store), and
/complete renamed it into place. Everything this script started is stopped and its
temporary directory removed.

To try it yourself, start the pieces as this script does, then:
  export BUS=--bus=unix:path=/path/to/bus
  bitsadmin \$BUS /create nightly                     # prints the job GUID
  bitsadmin \$BUS /addfile nightly http://host/file ./file
  bitsadmin \$BUS /resume nightly
  bitsadmin \$BUS /info nightly /verbose              # state, progress, errors
  bitsadmin \$BUS /complete nightly                   # the file appears at ./file
As root with the system service installed, leave out --bus. See README.md and bitsadmin /help.
EOT
