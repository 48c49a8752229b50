#!/usr/bin/env bash
# Installs the Debian 12 packages that OpenBITS needs to build, run and test.
# Idempotent: asks apt only for what is missing, and runs `apt-get update` only then.
# Usage: service/install-deps.sh [--test]   (--test adds what the test suite needs)
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache
  libcurl4-openssl-dev libssl-dev libsqlite3-dev libspdlog-dev libkrb5-dev
  libntlm0-dev libpacparser-dev
  libsdbus-c++-dev libsdbus-c++-bin libsystemd-dev
  dbus-daemon python3 curl ca-certificates
)
if [[ "${1:-}" == "--test" ]]; then
  # Real peers: Apache with mod_ssl and mod_auth_gssapi, an MIT KDC, gss-ntlmssp (NTLM inside
  # SPNEGO), squid and Samba's ntlm_auth (proxies); acl's setfacl/getfacl (file modes).
  packages+=(acl googletest libgtest-dev libgmock-dev libbenchmark-dev openssl iproute2 apache2 apache2-utils
    libapache2-mod-auth-gssapi krb5-kdc krb5-admin-server krb5-user gss-ntlmssp
    squid samba-common-bin winbind)
  # The sanitizer and -Wthread-safety builds (presets tsan and clang-asan): clang 14.
  packages+=(clang-14)
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if (( ${#missing[@]} == 0 )); then
  exit 0
fi

echo "Installing: ${missing[*]}"
sudo=()
if (( EUID != 0 )); then
  if command -v sudo >/dev/null; then
    sudo=(sudo)
  else
    echo "error: these packages are missing and installing them needs root: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
