#!/usr/bin/env bash
# The transfer engine alone against curl: COUNT x 16 KiB files from one nginx on loopback
# (sendfile, keep-alive), PARALLEL in flight, written to tmpfs; curl -Z --parallel-max and
# engine_bench (transfer::CurlMultiEngine) interleaved, RUNS times each. Prints files/s of
# both per run and checks the bytes of every run.
#
# Usage: tests/bench/engine_bench.sh         (COUNT=5000 PARALLEL=16 RUNS=3 SCHEME=http)
#        SCHEME=https tests/bench/engine_bench.sh
set -euo pipefail
. "$(dirname "$0")/nginx.sh"
cd "$(dirname "$0")/../.."
count="${COUNT:-5000}" parallel="${PARALLEL:-16}" runs="${RUNS:-3}" scheme="${SCHEME:-http}"
log() { echo "== $*" >&2; }

cmake --build build/release --parallel 2 --target engine_bench >/dev/null
bench=build/release/tests/bench/engine_bench

work=$(mktemp -d /dev/shm/engine-bench.XXXXXX)
chmod 755 "$work"  # nginx workers run as an unprivileged user
nginx_pid=""
cleanup() {
  [[ -n "$nginx_pid" ]] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/www" "$work/nginx" "$work/tls"
python3 - "$work/www" "$count" <<'PY'
import os, sys
for i in range(int(sys.argv[2])):
    with open(os.path.join(sys.argv[1], f"f{i}.bin"), "wb") as out:
        out.write(os.urandom(16 * 1024))
PY
chmod -R a+rX "$work/www"
sum_of() { (cd "$1" && for ((i = 0; i < count; i++)); do cat "f$i.bin"; done) | sha256sum | cut -d' ' -f1; }
expected=$(sum_of "$work/www")

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if [[ "$scheme" == https ]]; then start_nginx "$work" 0 "$port"; else start_nginx "$work" "$port" 0; fi
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
base="$scheme://127.0.0.1:$port"

for ((i = 0; i < count; i++)); do echo "url = \"$base/f$i.bin\""; echo "output = \"$work/out/f$i.bin\""; done >"$work/curl.cfg"

now() { date +%s.%N; }
echo "tool files files_per_s"
for ((run = 1; run <= runs; run++)); do
  rm -rf "$work/out" && mkdir -p "$work/out"
  start=$(now)
  curl -sS --fail --cacert "$work/tls/cert.pem" -Z --parallel-max "$parallel" -K "$work/curl.cfg"
  end=$(now)
  [[ "$(sum_of "$work/out")" == "$expected" ]] || { log "curl fetched wrong bytes"; exit 1; }
  echo "curl $count $(python3 -c "print(round($count / ($end - $start)))")"

  rm -rf "$work/out" && mkdir -p "$work/out"
  result=$(${BENCH_PREFIX:-} "$bench" "$base" "$count" "$parallel" "$work/out" "$work/tls/cert.pem")
  [[ "$(sum_of "$work/out")" == "$expected" ]] || { log "engine_bench fetched wrong bytes"; exit 1; }
  echo "engine $count $(sed -n 's/.*files_per_s=\([0-9]*\).*/\1/p' <<<"$result")  ($result)"
done
