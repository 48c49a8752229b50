#!/usr/bin/env bash
# Runs the whole OpenBITS test suite: installs what it needs (Debian 12, idempotent),
# configures, builds and runs every test through ctest. Exits non-zero on any failure.
#
#   tests/run.sh                 # release build (build/release)
#   OPENBITS_PRESET=asan tests/run.sh   # the same under ASan + UBSan (build/asan)
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${OPENBITS_PRESET:-release}"

service/install-deps.sh --test

# The isolation tests act as two ordinary local users (uid >= 1000, so not system accounts);
# dbus-daemon only admits uids that exist.
if (( EUID == 0 )); then
  for user in openbits-alice openbits-bob; do
    id "$user" >/dev/null 2>&1 ||
      useradd --no-create-home --shell /usr/sbin/nologin "$user"
  done
fi

started=$(date +%s)
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" --parallel "$(nproc)"
ctest --preset "$preset" --parallel "$(nproc)" --timeout 300
echo "tests/run.sh: ${preset} build and tests took $(( $(date +%s) - started )) s"
