#!/usr/bin/env bash
# Downloads the same content with bitsd (bitsadmin /transfer), curl, wget2 and aria2c from
# one Apache httpd on loopback, in the same run, and prints wall time, CPU time and the ratio
# to curl for each. Two workloads: one large file, and a job of many small files.
#
#   tests/bench/download_bench.sh [LARGE_MIB] [SMALL_FILES] [RUNS]   (default 1024 1000 3)
#
# A benchmark, not a test: it asserts only that every tool fetched the right bytes.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
large_mib="${1:-1024}"
small_files="${2:-1000}"
runs="${3:-3}"

service/install-deps.sh
missing=()
for tool in wget2 aria2 apache2 time; do
  dpkg-query -W -f='${Status}' "$tool" 2>/dev/null | grep -q "install ok installed" || missing+=("$tool")
done
if (( ${#missing[@]} )); then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
cmake --preset release >/dev/null
cmake --build --preset release --parallel "$(nproc)" --target bitsd bitsadmin >/dev/null

work=$(mktemp -d -t openbits-bench.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  sleep 0.5
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

echo "== Preparing ${large_mib} MiB and ${small_files} x 4 KiB files"
mkdir -p "$work/www/small" "$work/apache/run" "$work/out"
head -c "$((large_mib * 1024 * 1024))" /dev/urandom > "$work/www/large.bin"
for i in $(seq 1 "$small_files"); do head -c 4096 /dev/urandom > "$work/www/small/f$i.bin"; done
large_sum=$(sha256sum "$work/www/large.bin" | cut -d' ' -f1)
small_sum=$(cat "$work"/www/small/f*.bin | sha256sum | cut -d' ' -f1)

port=$(free_port)
m=/usr/lib/apache2/modules
cat > "$work/apache/httpd.conf" <<CONF
ServerRoot "$work/apache"
ServerName localhost
PidFile "$work/apache/run/httpd.pid"
DefaultRuntimeDir "$work/apache/run"
Mutex file:$work/apache/run default
$( (( EUID == 0 )) && printf 'User www-data\nGroup www-data\n')
Listen 127.0.0.1:$port
LoadModule mpm_event_module $m/mod_mpm_event.so
LoadModule authz_core_module $m/mod_authz_core.so
LoadModule mime_module $m/mod_mime.so
StartServers 2
ThreadsPerChild 32
MaxRequestWorkers 64
KeepAlive On
MaxKeepAliveRequests 0
EnableSendfile On
TypesConfig /etc/mime.types
ErrorLog "$work/apache/error.log"
DocumentRoot "$work/www"
<Directory />
  Require all granted
</Directory>
CONF
/usr/sbin/apache2 -f "$work/apache/httpd.conf" -DFOREGROUND >"$work/apache/out.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
base="http://127.0.0.1:$port"

bus="unix:path=$work/bus"
dbus-daemon --config-file="$root/tests/harness/dbus-private.conf" --address="$bus" --nofork \
  >"$work/dbus.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$work/bus" ] && break; sleep 0.05; done
printf '[limits]\nmax_files_per_job = %d\n[log]\nlevel = warn\n' "$((small_files + 10))" > "$work/bitsd.conf"
"$root/build/release/src/daemon/bitsd" --bus="$bus" --state-dir="$work/state" \
  --config="$work/bitsd.conf" >"$work/bitsd.log" 2>&1 &
bitsd=$!
pids=("$bitsd" "${pids[@]}")
for _ in $(seq 100); do
  "$root/build/release/src/cli/bitsadmin" --bus="$bus" /list >/dev/null 2>&1 && break
  sleep 0.05
done
bitsadmin=("$root/build/release/src/cli/bitsadmin" --bus="$bus" /rawreturn)

cpu_of() {  # cpu_of PID -> utime+stime in seconds
  awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"
}

# measure NAME CHECK_SUM_COMMAND COMMAND...: prints "wall cpu" of the best of $runs runs.
declare -A wall cpu
measure() {
  local name=$1 check=$2
  shift 2
  local best_wall="" best_cpu=""
  for _ in $(seq "$runs"); do
    rm -rf "$work/out" && mkdir -p "$work/out"
    local before_daemon after_daemon
    before_daemon=$(cpu_of "$bitsd")
    /usr/bin/time -o "$work/time.out" -f "%e %U %S" "$@" >/dev/null 2>"$work/tool.err"
    local t
    t=$(tail -1 "$work/time.out")
    after_daemon=$(cpu_of "$bitsd")
    local w c
    w=$(echo "$t" | awk '{print $1}')
    c=$(echo "$t" | awk -v d="$(echo "$after_daemon - $before_daemon" | bc)" '{printf "%.2f", $2 + $3 + d}')
    if [ "$($check)" != "ok" ]; then
      echo "error: $name fetched the wrong bytes" >&2
      cat "$work/tool.err" >&2
      exit 1
    fi
    if [ -z "$best_wall" ] || (( $(echo "$w < $best_wall" | bc) )); then best_wall=$w; best_cpu=$c; fi
  done
  wall[$name]=$best_wall
  cpu[$name]=$best_cpu
}

large_ok() { [ "$(sha256sum "$work/out/large.bin" | cut -d' ' -f1)" = "$large_sum" ] && echo ok; }
small_ok() { [ "$(cat "$work"/out/f*.bin | sha256sum | cut -d' ' -f1)" = "$small_sum" ] && echo ok; }

echo "== One ${large_mib} MiB file, best of ${runs}"
measure bitsd-large large_ok "${bitsadmin[@]}" /transfer bench "$base/large.bin" "$work/out/large.bin"
measure curl-large large_ok curl -s -o "$work/out/large.bin" "$base/large.bin"
measure wget2-large large_ok wget2 -q -O "$work/out/large.bin" "$base/large.bin"
measure aria2-large large_ok aria2c -q -x1 -d "$work/out" -o large.bin "$base/large.bin"

echo "== ${small_files} files of 4 KiB, best of ${runs}"
small_args=()
curl_args=()
: > "$work/urls.txt"
for i in $(seq 1 "$small_files"); do
  small_args+=("$base/small/f$i.bin" "$work/out/f$i.bin")
  curl_args+=(-o "$work/out/f$i.bin" "$base/small/f$i.bin")
  echo "$base/small/f$i.bin" >> "$work/urls.txt"
done
measure bitsd-small small_ok "${bitsadmin[@]}" /transfer bench-small /priority foreground "${small_args[@]}"
measure curl-small small_ok curl -s -Z --parallel-max 16 "${curl_args[@]}"
measure wget2-small small_ok wget2 -q --max-threads=16 -P "$work/out" -i "$work/urls.txt"
measure aria2-small small_ok aria2c -q -j16 -d "$work/out" -i "$work/urls.txt"

printf '\n%-8s %-14s %10s %10s %10s\n' workload tool wall_s cpu_s wall/curl
for workload in large small; do
  for tool in bitsd curl wget2 aria2; do
    key="$tool-$workload"
    ratio=$(echo "scale=2; ${wall[$key]} / ${wall[curl-$workload]}" | bc)
    printf '%-8s %-14s %10s %10s %10s\n' "$workload" "$tool" "${wall[$key]}" "${cpu[$key]}" "$ratio"
  done
done
rate=$(echo "scale=0; $small_files / ${wall[bitsd-small]}" | bc)
echo
echo "bitsd: $(echo "scale=0; $large_mib / ${wall[bitsd-large]}" | bc) MiB/s on the large file, ${rate} files/s on the small ones"
