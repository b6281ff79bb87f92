#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine (README.md, .ci/run):
#   scripts/setup.sh run    install packages, build, run the bridge on the embedded demo config
#   scripts/setup.sh test   install packages, build, run every test (plain and ASan+UBSan)
#   scripts/setup.sh build  install packages and build only
# Needs root or sudo for apt-get; everything else stays inside this checkout.
set -euo pipefail

mode="${1:-run}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
jobs="$(nproc 2>/dev/null || echo 2)"

# Debian 12 packages only (see docs/dependencies.md for what each is for).
packages=(
  build-essential cmake pkg-config git ca-certificates
  libcaf-dev liblmdb-dev lmdb-utils libspdlog-dev catch2 nlohmann-json3-dev
  libtomlplusplus-dev libcpp-httplib-dev libcli11-dev libsimdjson-dev libqrencode-dev
  clang-format
  clang libclang-rt-14-dev  # libFuzzer and its sanitizer runtimes (scripts/fuzz.sh)
)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_packages() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
}

# The Baileys sidecar (sidecar/baileys): Node.js and its npm packages, exactly
# as pinned in package-lock.json. Node comes from Debian when it is missing.
install_sidecar() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "setup: installing nodejs npm"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm
  fi
  # Baileys 7 needs Node.js 20 or newer; Debian 12's own nodejs is 18. The
  # simulated accounts need no Node at all, so `run` goes on without the
  # sidecar, while `test` (which exercises it) stops with the reason.
  local major
  major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  if [ "$major" -lt 20 ]; then
    echo "setup: Node.js $(node --version 2>/dev/null || echo '(none)') is too old for the Baileys sidecar (needs >= 20);" \
      "accounts with upstream = \"baileys\" cannot start on this machine (docs/sidecar.md)" >&2
    [ "$mode" = test ] && return 1
    return 0
  fi
  local dir="$root/sidecar/baileys"
  # npm ci only when the lockfile changed since the last install.
  if [ ! -f "$dir/node_modules/.package-lock.json" ] ||
     [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "setup: installing the Baileys sidecar's packages (npm ci)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  # npm ci patches Baileys (postinstall); an install from before the patch
  # existed gets it here. Idempotent.
  (cd "$dir" && node scripts/patch-baileys.js)
}

# build DIR [cmake args...]
build() {
  local dir="$1"
  shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
}

check_format() {
  local bad
  bad=$(git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run 2>&1 | grep -c 'warning:' || true)
  if [ "$bad" -gt 0 ]; then
    git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run 2>&1 | grep 'warning:' | head -20
    echo "setup: clang-format would change $bad places (run: git ls-files '*.cpp' '*.hpp' | xargs clang-format -i)"
    return 1
  fi
}

case "$mode" in
  run)
    install_packages
    install_sidecar
    build build
    echo "setup: starting the bridge on the embedded demo config (Ctrl-C stops it)"
    exec build/wabridge run
    ;;
  build)
    install_packages
    install_sidecar
    build build
    ;;
  test)
    install_packages
    install_sidecar
    check_format
    # The sidecar's own tests (Node's test runner): event mapping, filters,
    # sends, reconnects, spool, and the real Baileys without a network.
    (cd sidecar/baileys && npm test)
    # BUILD_TESTING explicitly: a build dir configured without tests would
    # otherwise keep that cache and ctest would find nothing to run.
    build build -DBUILD_TESTING=ON
    ctest --test-dir build --output-on-failure --no-tests=error -j "$jobs"
    # The same suite under AddressSanitizer + UndefinedBehaviorSanitizer.
    # Warnings stay on but not fatal here: with sanitizers GCC 12 reports
    # false -Wmaybe-uninitialized inside libstdc++ (std::regex); the plain
    # build above is the -Werror gate.
    build build-asan -DBUILD_TESTING=ON -DWABRIDGE_SANITIZE=address,undefined -DWABRIDGE_WERROR=OFF
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      ctest --test-dir build-asan --output-on-failure --no-tests=error -j "$jobs"
    # A short libFuzzer run of each fuzz target (docs/testing.md).
    scripts/fuzz.sh 20
    ;;
  *)
    echo "usage: scripts/setup.sh run|test|build" >&2
    exit 64
    ;;
esac
