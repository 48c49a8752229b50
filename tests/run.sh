#!/usr/bin/env bash
# Runs the whole OpenBITS test suite: installs what it needs (Debian 12, idempotent),
# configures, builds and runs every test through ctest. Exits non-zero on any failure.
#
#   tests/run.sh                         # CI: release, then tsan, then asan (see below)
#   OPENBITS_PRESET=release tests/run.sh # one preset only (build/<preset>):
#                                        #   release, asan (gcc ASan + UBSan), clang-asan,
#                                        #   tsan (clang ThreadSanitizer, the core's tests)
#
# The CI stages, in order, each timed:
#   release  the whole suite, RelWithDebInfo (gcc)
#   tsan     the core's tests (JobManager's races with the fakes, the access policy, the
#            state machine) under ThreadSanitizer; clang with -Wthread-safety, so the locking
#            contract compiles only if it holds. Builds only openbits_core_tests (base and
#            core: clang gets no gcc ccache hits, so the smaller the faster).
#   asan     the whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer (gcc)
# OPENBITS_CI_STAGES="release asan" picks stages. OPENBITS_CONCURRENCY_SECONDS sets how long
# the reliability race of clients runs (default 60; the asan stage uses 30).
set -euo pipefail
cd "$(dirname "$0")/.."

service/install-deps.sh --test

# The isolation tests act as two ordinary local users (uid >= 1000, so not system accounts);
# dbus-daemon only admits uids that exist.
if (( EUID == 0 )); then
  for user in openbits-alice openbits-bob; do
    id "$user" >/dev/null 2>&1 ||
      useradd --no-create-home --shell /usr/sbin/nologin "$user"
  done
fi

timings=()
run_preset() {
  local preset="$1" started built tested
  started=$(date +%s)
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" --parallel "$(nproc)"
  built=$(date +%s)
  ctest --preset "$preset" --parallel "$(nproc)" --timeout 300
  tested=$(date +%s)
  timings+=("${preset}: build $(( built - started )) s, tests $(( tested - built )) s")
  echo "tests/run.sh: ${timings[-1]}"
}

if [[ -n "${OPENBITS_PRESET:-}" ]]; then
  run_preset "$OPENBITS_PRESET"
  exit 0
fi

total_started=$(date +%s)
for stage in ${OPENBITS_CI_STAGES:-release tsan asan}; do
  if [[ "$stage" == asan ]]; then
    OPENBITS_CONCURRENCY_SECONDS="${OPENBITS_CONCURRENCY_SECONDS:-30}" run_preset asan
  else
    run_preset "$stage"
  fi
done
echo "tests/run.sh: timings"
printf '  %s\n' "${timings[@]}"
echo "  total: $(( $(date +%s) - total_started )) s"
