#!/usr/bin/env bash
# The OpenBITS benchmark (docs/performance.md): bitsd against curl, wget2 and aria2c, from
# one nginx (sendfile, TLS) on loopback, in the same run, tools interleaved within each run.
#
#   B1  one large file (2 GiB) over HTTP and HTTPS: time, CPU (bitsd + client), peak RSS
#   B2  one job of 5,000 x 16 KiB files, to tmpfs and to ext4: files/s
#   B3  2,000 one-file jobs through D-Bus (aria2: JSON-RPC system.multicall): jobs/s
#   B4  GetState/GetProgress round trips from 1 and 8 clients: calls/s
#   B5  100,000 suspended jobs in the store: start-to-ready, peak RSS, bitsadmin /list time,
#       then GetState on every job (bench_client touch) and the peak RSS after it
#   B6  idle CPU seconds per minute, with an empty queue and with B5's jobs
#
# Usage: tests/bench/run.sh                 7 runs after a warm-up (takes a while)
#        RUNS=3 tests/bench/run.sh          fewer runs
#        QUICK=1 tests/bench/run.sh         small sizes, 1 run: checks the script (~2 min)
#        BENCHES="B2 B3" tests/bench/run.sh only these
#        BASE_BUILD=/other/build/release tests/bench/run.sh
#            also measures the bitsd and bitsadmin of another build tree ("bitsd-base"),
#            interleaved with this one: the A/B of an engine change
# Sizes: B1_MIB B2_FILES B3_JOBS B4_SECONDS B5_JOBS B6_SECONDS; B3_THREADS (8), B3_WINDOW and
# B4_WINDOW (64: calls in flight of the pipelined clients); PARALLEL (connections of the
# peers, bitsd's max_background_jobs in B3; default 16); PARALLEL_FILES (bitsd's [engine]
# parallel_files: files of one job at once; unset: bitsd's default, and a BASE_BUILD without
# the key still starts); B2_FS ("tmpfs ext4": B2's file systems); KEEP=1 keeps the work
# directory; BITSD_CONF_EXTRA: lines appended to bitsd.conf (e.g. "[engine]
# completion_threads = 16").
#
# A benchmark, not a test: it checks that every tool fetched the right bytes and prints the
# table of medians (tests/bench/report.py) on stdout; progress goes to stderr.
set -euo pipefail
. "$(dirname "$0")/nginx.sh"
cd "$(dirname "$0")/../.."
root=$(pwd)

quick="${QUICK:-0}"
if [[ "$quick" == 1 ]]; then
  runs="${RUNS:-1}" b1_mib="${B1_MIB:-64}" b2_files="${B2_FILES:-200}" b3_jobs="${B3_JOBS:-300}"
  b4_seconds="${B4_SECONDS:-1}" b5_jobs="${B5_JOBS:-1000}" b6_seconds="${B6_SECONDS:-5}"
else
  runs="${RUNS:-7}" b1_mib="${B1_MIB:-2048}" b2_files="${B2_FILES:-5000}" b3_jobs="${B3_JOBS:-2000}"
  b4_seconds="${B4_SECONDS:-5}" b5_jobs="${B5_JOBS:-100000}" b6_seconds="${B6_SECONDS:-60}"
fi
benches=" ${BENCHES:-B1 B2 B3 B4 B5 B6} "
parallel="${PARALLEL:-16}"
b2_kib=16
b3_threads="${B3_THREADS:-8}"  # bench_client threads creating and awaiting B3's jobs
b3_window="${B3_WINDOW:-64}"   # B3's pipelined client: calls in flight on its connection
b4_window="${B4_WINDOW:-64}"   # B4's pipelined client: calls in flight on its connection
aria2_batch=100   # addUri calls per system.multicall
log() { echo "== $*" >&2; }
want() { [[ "$benches" == *" $1 "* ]]; }

# --- What the benchmark needs -----------------------------------------------------------
service/install-deps.sh
missing=()
# GoogleTest too: bench_client is built in tests/, which cmake configures only with it.
for package in nginx-light wget2 aria2 time openssl python3 googletest libgtest-dev libgmock-dev; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if (( ${#missing[@]} )); then
  log "Installing ${missing[*]}"
  sudo=()
  (( EUID == 0 )) || sudo=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi
log "Building bitsd, bitsadmin and bench_client (release)"
cmake --preset release >/dev/null
cmake --build build/release --parallel "$(nproc)" --target bitsd bitsadmin bench_client >/dev/null
bench_client="$root/build/release/tests/bench/bench_client"
engines=("bitsd=$root/build/release")
if [[ -n "${BASE_BUILD:-}" ]]; then
  [[ -x "$BASE_BUILD/src/daemon/bitsd" && -x "$BASE_BUILD/src/cli/bitsadmin" ]] || {
    echo "error: BASE_BUILD=$BASE_BUILD has no src/daemon/bitsd and src/cli/bitsadmin" >&2
    exit 1
  }
  engines+=("bitsd-base=$BASE_BUILD")
fi

# --- Work directories: ext4 (the state, B2 ext4) and tmpfs (B1, B2 tmpfs, B3) ------------
work=$(mktemp -d /var/tmp/openbits-bench.XXXXXX)
shm=$(mktemp -d /dev/shm/openbits-bench.XXXXXX)
chmod 755 "$work" "$shm"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ "${KEEP:-0}" == 1 ]]; then
    echo "kept $work and $shm" >&2
  else
    rm -rf "$work" "$shm"
  fi
}
trap cleanup EXIT
free_port() {
  python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}
wait_port() {
  for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
  echo "error: nothing listens on port $1" >&2
  return 1
}
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Writing 5 to clear_refs resets the peak RSS, so VmHWM is the peak of one measurement.
reset_hwm() { echo 5 >"/proc/$1/clear_refs"; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
now() { echo "$EPOCHREALTIME"; }
calc() { python3 -c "print(round($1, 6))"; }

results="$work/results.tsv"
: >"$results"
run=0
# record BENCH CASE TOOL METRIC UNIT lower|higher VALUE CPU_S RSS_KIB (the warm-up is dropped)
record() {
  echo "   $1 $2 $3: $7 $5 (cpu $8 s, rss $9 KiB)" >&2
  (( run == 0 )) || printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$1" "$2" "$3" "$run" "$4" "$5" "$6" "$7" "$8" "$9" >>"$results"
}
# timed CMD...: runs CMD; sets t_wall (seconds), t_cpu (user + system), t_rss (KiB) and
# t_out (its stdout). Stops the benchmark when CMD fails.
timed() {
  local start
  start=$(now)
  if ! /usr/bin/time -o "$work/time.out" -f "%U %S %M" "$@" >"$work/tool.out" 2>"$work/tool.err"; then
    echo "error: $* failed:" >&2
    cat "$work/tool.err" "$work/tool.out" >&2
    exit 1
  fi
  t_wall=$(calc "$(now) - $start")
  read -r user sys t_rss < <(tail -1 "$work/time.out")
  t_cpu=$(calc "$user + $sys")
  t_out=$(cat "$work/tool.out")
}
# field KEY: the value of KEY=... in t_out (bench_client and aria2_rpc.py print such lines).
field() { tr ' ' '\n' <<<"$t_out" | sed -n "s/^$1=//p"; }

# --- Content -------------------------------------------------------------------------------
small_count=$(( b2_files > b3_jobs ? b2_files : b3_jobs ))
log "Preparing $(want B1 && echo "${b1_mib} MiB and ")${small_count} x ${b2_kib} KiB files"
mkdir -p "$work/www/small" "$work/nginx" "$work/tls"
want B1 && head -c "$((b1_mib * 1024 * 1024))" /dev/urandom >"$work/www/large.bin"
python3 - "$work/www/small" "$small_count" "$((b2_kib * 1024))" <<'PY'
import os, sys
for i in range(int(sys.argv[2])):
    with open(os.path.join(sys.argv[1], f"f{i}.bin"), "wb") as out:
        out.write(os.urandom(int(sys.argv[3])))
PY
chmod -R a+rX "$work/www"
large_sum=$(want B1 && sha256sum "$work/www/large.bin" | cut -d' ' -f1 || true)
sum_of_small() {  # sum_of_small DIR COUNT: the sha256 of f0..f(COUNT-1) concatenated
  (cd "$1" && for ((i = 0; i < $2; i++)); do cat "f$i.bin"; done) | sha256sum | cut -d' ' -f1
}
b2_sum=$(sum_of_small "$work/www/small" "$b2_files")
b3_sum=$(sum_of_small "$work/www/small" "$b3_jobs")

# --- nginx on loopback: sendfile, keep-alive, TLS (HTTP/1.1 for every tool) ----------------
http_port=$(free_port)
https_port=$(free_port)
start_nginx "$work" "$http_port" "$https_port"
pids+=("$nginx_pid")
wait_port "$http_port"
wait_port "$https_port"
declare -A base_url=([http]="http://127.0.0.1:$http_port" [https]="https://127.0.0.1:$https_port")
ca="$work/tls/cert.pem"

# --- The engines: one private bus and one bitsd each --------------------------------------
cat >"$work/bitsd.conf" <<CONF
[limits]
max_jobs_per_user = 10000000
max_jobs_per_machine = 10000000
max_files_per_job = $((b2_files + 10))
[transfer]
max_background_jobs = $parallel
${PARALLEL_FILES:+[engine]
parallel_files = $PARALLEL_FILES}
[tls]
extra_ca_file = $ca
[log]
level = warn
${BITSD_CONF_EXTRA:-}
CONF
declare -A bitsd_pid bus_of build_of
# start_bitsd ENGINE STATE_DIR: starts that engine's bitsd on its bus; sets started_pid.
start_bitsd() {
  "${build_of[$1]}/src/daemon/bitsd" --bus="${bus_of[$1]}" --state-dir="$2" \
    --config="$work/bitsd.conf" >>"$work/$1/bitsd.log" 2>&1 &
  started_pid=$!
  pids+=("$started_pid")
}
stop_pid() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
for engine_spec in "${engines[@]}"; do
  engine=${engine_spec%%=*}
  build_of[$engine]=${engine_spec#*=}
  mkdir -p "$work/$engine"
  bus_of[$engine]="unix:path=$work/$engine/bus"
  dbus-daemon --config-file="$root/tests/harness/dbus-private.conf" \
    --address="${bus_of[$engine]}" --nofork >"$work/$engine/dbus.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do [[ -S "$work/$engine/bus" ]] && break; sleep 0.05; done
  start_bitsd "$engine" "$work/$engine/state"
  bitsd_pid[$engine]=$started_pid
  "$bench_client" --bus="${bus_of[$engine]}" ready 60 >/dev/null
done
engine_names=("${!build_of[@]}")
bitsadmin_of() { echo "${build_of[$1]}/src/cli/bitsadmin"; }

# aria2c with JSON-RPC for B3 (its queue is the counterpart of bitsd's).
aria2_port=$(free_port)
aria2c --enable-rpc --rpc-listen-port="$aria2_port" -q -j "$parallel" --file-allocation=none \
  --allow-overwrite=true --auto-file-renaming=false --max-download-result="$((b3_jobs + 10))" \
  --log-level=error >"$work/aria2-rpc.log" 2>&1 &
aria2_pid=$!
pids+=("$aria2_pid")
python3 tests/bench/aria2_rpc.py ready "$aria2_port" 30 >/dev/null

# rotated NAME...: the names rotated by the run number, so that no tool always goes first.
rotated() {
  local -a names=("$@")
  local n=${#names[@]} i
  for ((i = 0; i < n; i++)); do echo "${names[$(((i + run) % n))]}"; done
}
fresh_dir() { rm -rf "$1" && mkdir -p "$1"; }

# bitsd_timed ENGINE BENCH CASE METRIC UNIT BETTER VALUE_KEY CMD...: runs a bench_client
# command against ENGINE; CPU is the client's plus bitsd's, RSS is bitsd's peak.
bitsd_timed() {
  local engine=$1 bench=$2 label=$3 metric=$4 unit=$5 better=$6 key=$7
  shift 7
  local pid=${bitsd_pid[$engine]} before
  reset_hwm "$pid"
  before=$(cpu_ticks "$pid")
  timed "$@"
  local cpu value
  cpu=$(calc "$t_cpu + ($(cpu_ticks "$pid") - $before) / $hz")
  case "$key" in
    wall) value=$t_wall ;;
    *) value=$(field "$key") ;;
  esac
  record "$bench" "$label" "$engine" "$metric" "$unit" "$better" "$value" "$cpu" "$(hwm_kib "$pid")"
}

# --- B1: one large file ---------------------------------------------------------------------
check_large() {
  local size
  size=$(stat -c %s "$1")
  [[ "$size" == "$((b1_mib * 1024 * 1024))" ]] || { echo "error: $2 wrote $size bytes" >&2; exit 1; }
  # The full checksum in the warm-up run; the size after.
  if (( run == 0 )) && [[ "$(sha256sum "$1" | cut -d' ' -f1)" != "$large_sum" ]]; then
    echo "error: $2 fetched the wrong bytes" >&2
    exit 1
  fi
}
b1() {
  local proto url out="$shm/b1" tool
  for proto in http https; do
    url="${base_url[$proto]}/large.bin"
    for tool in $(rotated "${engine_names[@]}" curl wget2 aria2c); do
      fresh_dir "$out"
      case "$tool" in
        bitsd*)
          echo "$url $out/large.bin" >"$work/b1.list"
          bitsd_timed "$tool" B1 "${b1_mib} MiB $proto" time seconds lower wall \
            "$bench_client" --bus="${bus_of[$tool]}" transfer "$work/b1.list" foreground
          ;;
        curl)
          timed curl -sS --fail --cacert "$ca" -o "$out/large.bin" "$url"
          record B1 "${b1_mib} MiB $proto" curl time seconds lower "$t_wall" "$t_cpu" "$t_rss"
          ;;
        wget2)
          timed wget2 -q --no-config --ca-certificate="$ca" -O "$out/large.bin" "$url"
          record B1 "${b1_mib} MiB $proto" wget2 time seconds lower "$t_wall" "$t_cpu" "$t_rss"
          ;;
        aria2c)
          timed aria2c -q -x1 -s1 --file-allocation=none --allow-overwrite=true \
            --ca-certificate="$ca" -d "$out" -o large.bin "$url"
          record B1 "${b1_mib} MiB $proto" aria2c time seconds lower "$t_wall" "$t_cpu" "$t_rss"
          ;;
      esac
      check_large "$out/large.bin" "$tool"
    done
  done
  rm -rf "$out"
}

# --- B2: one job of many small files --------------------------------------------------------
check_small() {  # check_small DIR COUNT SUM TOOL
  if [[ "$(sum_of_small "$1" "$2")" != "$3" ]]; then
    echo "error: $4 fetched the wrong bytes into $1" >&2
    exit 1
  fi
}
b2() {
  local url="${base_url[http]}/small" fs out tool i
  : >"$work/b2.urls"
  for fs in tmpfs ext4; do
    [[ $fs == tmpfs ]] && out="$shm/b2" || out="$work/b2"
    : >"$work/b2.list.$fs" && : >"$work/b2.curl.$fs"
    for ((i = 0; i < b2_files; i++)); do
      echo "$url/f$i.bin $out/f$i.bin" >>"$work/b2.list.$fs"
      printf 'url = "%s"\noutput = "%s"\n' "$url/f$i.bin" "$out/f$i.bin" >>"$work/b2.curl.$fs"
    done
  done
  for ((i = 0; i < b2_files; i++)); do echo "$url/f$i.bin" >>"$work/b2.urls"; done
  for fs in ${B2_FS:-tmpfs ext4}; do
    [[ $fs == tmpfs ]] && out="$shm/b2" || out="$work/b2"
    local case="${b2_files} x ${b2_kib} KiB, $fs"
    for tool in $(rotated "${engine_names[@]}" curl wget2 aria2c); do
      fresh_dir "$out"
      case "$tool" in
        bitsd*)
          bitsd_timed "$tool" B2 "$case" rate files/s higher rate \
            "$bench_client" --bus="${bus_of[$tool]}" transfer "$work/b2.list.$fs" foreground
          echo "   B2 $tool, $fs: $t_out" >&2  # with the phases: add, transfer, Complete
          ;;
        curl) timed curl -sS --fail -Z --parallel-max "$parallel" -K "$work/b2.curl.$fs" ;;
        wget2) timed wget2 -q --no-config --max-threads="$parallel" -P "$out" -i "$work/b2.urls" ;;
        aria2c)
          timed aria2c -q -j "$parallel" --file-allocation=none --allow-overwrite=true \
            --auto-file-renaming=false -d "$out" -i "$work/b2.urls"
          ;;
      esac
      [[ $tool == bitsd* ]] ||
        record B2 "$case" "$tool" rate files/s higher "$(calc "$b2_files / $t_wall")" "$t_cpu" "$t_rss"
      check_small "$out" "$b2_files" "$b2_sum" "$tool"
    done
    rm -rf "$out"
  done
}

# --- B3: many one-file jobs through the job API ---------------------------------------------
# A case is "what is measured; what the client does": report.py compares the rows of one
# bench whose cases share the part before ";" with the peers'.
b3() {
  local url="${base_url[http]}/small/" out="$shm/b3" tool case="${b3_jobs} one-file jobs"
  local sync_case="$case; $b3_threads threads, synchronous calls (client library)"
  local piped_case="$case; 1 connection, $b3_window calls in flight (sd-bus)"
  local submit_case="$case; 1 connection, $b3_window calls in flight, SubmitJob (sd-bus)"
  for tool in $(rotated "${engine_names[@]}" aria2c); do
    case "$tool" in
      bitsd*)
        fresh_dir "$out"
        bitsd_timed "$tool" B3 "$sync_case" rate jobs/s higher rate \
          "$bench_client" --bus="${bus_of[$tool]}" jobs "$b3_jobs" "$b3_threads" "$url" "$out" normal
        check_small "$out" "$b3_jobs" "$b3_sum" "$tool"
        fresh_dir "$out"
        bitsd_timed "$tool" B3 "$piped_case" rate jobs/s higher rate \
          "$bench_client" --bus="${bus_of[$tool]}" pipelined-jobs "$b3_jobs" 1 "$b3_window" \
          "$url" "$out" normal
        check_small "$out" "$b3_jobs" "$b3_sum" "$tool"
        # A base build without Manager.SubmitJob (BASE_BUILD) has no such row.
        if "$bench_client" --bus="${bus_of[$tool]}" submitted-jobs 1 1 1 "$url" "$out" normal \
          >/dev/null 2>&1; then
          fresh_dir "$out"
          bitsd_timed "$tool" B3 "$submit_case" rate jobs/s higher rate \
            "$bench_client" --bus="${bus_of[$tool]}" submitted-jobs "$b3_jobs" 1 "$b3_window" \
            "$url" "$out" normal
          check_small "$out" "$b3_jobs" "$b3_sum" "$tool"
        fi
        ;;
      aria2c)
        fresh_dir "$out"
        reset_hwm "$aria2_pid"
        local before
        before=$(cpu_ticks "$aria2_pid")
        timed python3 tests/bench/aria2_rpc.py jobs "$aria2_port" "$b3_jobs" "$url" "$out" "$aria2_batch"
        record B3 "$case" aria2c rate jobs/s higher "$(field rate)" \
          "$(calc "$t_cpu + ($(cpu_ticks "$aria2_pid") - $before) / $hz")" "$(hwm_kib "$aria2_pid")"
        check_small "$out" "$b3_jobs" "$b3_sum" "$tool"
        ;;
    esac
  done
  rm -rf "$out"
}

# --- B4: round trips ------------------------------------------------------------------------
# Synchronous clients (one call, then wait for its answer) measure the round trip through
# dbus-daemon; a pipelined one (b4_window calls in flight on its connection) bitsd's rate.
b4() {
  local clients tool
  for tool in $(rotated "${engine_names[@]}"); do
    bitsd_timed "$tool" B4 "GetState+GetProgress; 1 client, $b4_window calls in flight (sd-bus)" \
      rate calls/s higher rate \
      "$bench_client" --bus="${bus_of[$tool]}" roundtrips 1 "$b4_seconds" "$b4_window"
  done
  for clients in "1 client" "8 clients"; do
    for tool in $(rotated "${engine_names[@]}"); do
      bitsd_timed "$tool" B4 "GetState+GetProgress; $clients, synchronous (client library)" \
        rate calls/s higher rate \
        "$bench_client" --bus="${bus_of[$tool]}" roundtrips "${clients%% *}" "$b4_seconds"
    done
  done
}

# --- B5: a large store ----------------------------------------------------------------------
# Per engine, once: a template job made by that engine (so the rows follow its schema),
# copied b5_jobs times into the store in one transaction (tests/bench/populate_jobs.py).
declare -A b5_pid b5_bus
b5_prepare() {
  mkdir -p "$shm/b5"
  local engine guid bitsadmin
  for engine in "${engine_names[@]}"; do
    log "B5: writing $b5_jobs jobs into $engine's store"
    bitsadmin=$(bitsadmin_of "$engine")
    # A second bus for this engine's B5 daemons, so that its main bitsd stays up.
    local bus="unix:path=$work/$engine/b5bus"
    dbus-daemon --config-file="$root/tests/harness/dbus-private.conf" --address="$bus" --nofork \
      >"$work/$engine/b5dbus.log" 2>&1 &
    pids+=($!)
    b5_bus[$engine]=$bus
    for _ in $(seq 200); do [[ -S "$work/$engine/b5bus" ]] && break; sleep 0.05; done
    "${build_of[$engine]}/src/daemon/bitsd" --bus="$bus" --state-dir="$work/$engine/b5-store" \
      --config="$work/bitsd.conf" >>"$work/$engine/bitsd.log" 2>&1 &
    local pid=$!
    pids+=("$pid")
    "$bench_client" --bus="$bus" ready 60 >/dev/null
    guid=$("$bitsadmin" --bus="$bus" /rawreturn /create bench-0)
    "$bitsadmin" --bus="$bus" /rawreturn /addfile "$guid" "${base_url[http]}/small/f0.bin" \
      "$shm/b5/f0.bin" >/dev/null
    stop_pid "$pid"
    python3 tests/bench/populate_jobs.py "$work/$engine/b5-store/jobs.db" "$guid" "$b5_jobs" >&2
  done
  mkdir -p "$work/aria2-b5"
  python3 tests/bench/aria2_rpc.py input "$b5_jobs" "${base_url[http]}/small/" "$shm/b5" \
    "$work/aria2-b5/input.txt"
}
b5() {
  local tool case="${b5_jobs} suspended jobs" start ready_at pid
  for tool in $(rotated "${engine_names[@]}" aria2c); do
    case "$tool" in
      bitsd*)
        rm -rf "$work/$tool/b5-run" && cp -a "$work/$tool/b5-store" "$work/$tool/b5-run"
        start=$(now)
        "${build_of[$tool]}/src/daemon/bitsd" --bus="${b5_bus[$tool]}" \
          --state-dir="$work/$tool/b5-run" --config="$work/bitsd.conf" \
          >>"$work/$tool/bitsd.log" 2>&1 &
        pid=$!
        pids+=("$pid")
        ready_at=$("$bench_client" --bus="${b5_bus[$tool]}" ready 600 | sed -n 's/^ready_at=//p')
        record B5 "$case" "$tool" ready ready_s lower "$(calc "$ready_at - $start")" \
          "$(calc "$(cpu_ticks "$pid") / $hz")" "$(hwm_kib "$pid")"
        record B5 "$case" "$tool" rss rss_mib lower "$(calc "$(hwm_kib "$pid") / 1024")" - "$(hwm_kib "$pid")"
        local before
        before=$(cpu_ticks "$pid")
        timed "$(bitsadmin_of "$tool")" --bus="${b5_bus[$tool]}" /rawreturn /list /allusers
        record B5 "$case" "$tool" list list_s lower "$t_wall" \
          "$(calc "$t_cpu + ($(cpu_ticks "$pid") - $before) / $hz")" "$(hwm_kib "$pid")"
        echo "   B5 $tool: bitsadmin /list /allusers listed $(wc -l <"$work/tool.out") of $b5_jobs jobs" >&2
        (( run == 0 )) || echo "$tool $(wc -l <"$work/tool.out")" >>"$work/b5-listed.txt"
        # A client that touches every job (GetState on each): woken jobs must not stay whole.
        before=$(cpu_ticks "$pid")
        timed "$bench_client" --bus="${b5_bus[$tool]}" touch 64
        record B5 "$case; GetState on each" "$tool" touch touch_s lower "$(field seconds)" \
          "$(calc "$t_cpu + ($(cpu_ticks "$pid") - $before) / $hz")" "$(hwm_kib "$pid")"
        record B5 "$case; peak after GetState on each" "$tool" rss_touched rss_mib lower \
          "$(calc "$(hwm_kib "$pid") / 1024")" - "$(hwm_kib "$pid")"
        echo "   B5 $tool: GetState on $(field jobs) of $b5_jobs jobs" >&2
        ;;
      aria2c)
        local port
        port=$(free_port)
        start=$(now)
        aria2c --enable-rpc --rpc-listen-port="$port" -q --pause=true \
          --input-file="$work/aria2-b5/input.txt" --max-download-result="$((b5_jobs + 10))" \
          --log-level=error >"$work/aria2-b5/out.log" 2>&1 &
        pid=$!
        pids+=("$pid")
        ready_at=$(python3 tests/bench/aria2_rpc.py ready "$port" 600 | sed -n 's/^ready_at=//p')
        record B5 "$case" aria2c ready ready_s lower "$(calc "$ready_at - $start")" \
          "$(calc "$(cpu_ticks "$pid") / $hz")" "$(hwm_kib "$pid")"
        record B5 "$case" aria2c rss rss_mib lower "$(calc "$(hwm_kib "$pid") / 1024")" - "$(hwm_kib "$pid")"
        local before
        before=$(cpu_ticks "$pid")
        timed python3 tests/bench/aria2_rpc.py list "$port"
        record B5 "$case" aria2c list list_s lower "$(field seconds)" \
          "$(calc "$t_cpu + ($(cpu_ticks "$pid") - $before) / $hz")" "$(hwm_kib "$pid")"
        echo "   B5 aria2c: listed $(field listed) of $b5_jobs downloads" >&2
        if [[ -n "$(ls -A "$shm/b5")" ]]; then
          echo "error: aria2c downloaded B5's paused downloads" >&2
          exit 1
        fi
        ;;
    esac
    b5_pid[$tool]=$pid  # kept for B6, stopped after it
  done
}

# --- B6: idle CPU ---------------------------------------------------------------------------
b6() {
  local -A idle_pid before
  local key tool
  for tool in "${engine_names[@]}"; do
    idle_pid["$tool|empty queue"]=${bitsd_pid[$tool]}
  done
  idle_pid["aria2c|empty queue"]=$aria2_pid
  for tool in "${!b5_pid[@]}"; do idle_pid["$tool|${b5_jobs} suspended jobs"]=${b5_pid[$tool]}; done
  for key in "${!idle_pid[@]}"; do before[$key]=$(cpu_ticks "${idle_pid[$key]}"); done
  log "B6: ${b6_seconds} s idle"
  sleep "$b6_seconds"
  for key in "${!idle_pid[@]}"; do
    record B6 "idle, ${key#*|}" "${key%%|*}" cpu cpu_s/min lower \
      "$(calc "($(cpu_ticks "${idle_pid[$key]}") - ${before[$key]}) / $hz * 60 / $b6_seconds")" \
      - "$(hwm_kib "${idle_pid[$key]}")"
  done
}

want B5 && b5_prepare
for ((run = 0; run <= runs; run++)); do
  log "Run $run of $runs$( ((run == 0)) && echo ' (warm-up, not counted)')"
  want B1 && b1
  want B2 && b2
  want B3 && b3
  want B4 && b4
  want B5 && b5
  want B6 && b6
  for tool in "${!b5_pid[@]}"; do stop_pid "${b5_pid[$tool]}"; done
  b5_pid=()
done

load=$(cut -d' ' -f1-3 /proc/loadavg)
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
cat <<HEAD

- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); load average at the end: $load
- Machine: $(nproc) x ${cpu_model:-unknown CPU}, $(free -g | awk '/^Mem:/ {print $2}') GiB RAM, Linux $(uname -r)
- Command: \`$( [[ -n "${BASE_BUILD:-}" ]] && echo "BASE_BUILD=$BASE_BUILD ")$( [[ "$quick" == 1 ]] && echo "QUICK=1 ")RUNS=$runs BENCHES="$(echo $benches)" tests/bench/run.sh\`
- Commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src include || echo ' (with local changes)'); peers: $(curl --version | head -1 | cut -d' ' -f1-2), $(wget2 --version | head -1 | sed 's/.*Wget2 \([^ ]*\).*/wget2 \1/'), $(aria2c --version | head -1 | sed 's/ version//'), $(/usr/sbin/nginx -v 2>&1 | sed 's/.*: //')

HEAD
python3 tests/bench/report.py "$results"
if [[ -s "$work/b5-listed.txt" ]]; then
  echo
  sort -u "$work/b5-listed.txt" | while read -r tool listed; do
    echo "B5: \`bitsadmin /list /allusers\` of $tool printed $listed lines for $b5_jobs jobs."
  done
fi
