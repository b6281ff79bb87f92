#!/usr/bin/env bash
# scripts/tsan.sh: the unit and black-box tests under ThreadSanitizer
# (docs/testing.md, "Sanitizers").
#
# TSan sees synchronisation only in instrumented code (and in the pthread
# and libc calls it intercepts). Debian's libcaf_core/libcaf_io and
# libcpp-httplib are not instrumented: their lock-free mailboxes, scheduler
# queues and atomics are invisible, so every message hand-off between actors
# and much of httplib's request handling shows up as a race (9,000+ reports
# in the unit tests alone). So this script builds both libraries itself, the
# same versions from Debian's source packages, with -fsanitize=thread, and
# runs build-tsan against them (their headers are Debian's, byte for byte).
# The first run fetches and builds them (about 6 minutes); later runs reuse
# build-tsan/tsan-deps/.
#
# Usage: scripts/tsan.sh [REGEX]  (REGEX: ctest -E, tests to leave out)
# Exit status: non-zero if a build fails, a test fails, or TSan reports
# anything; the reports are printed and kept in build-tsan/tsan-reports/.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
exclude="${1:-}"
jobs="${JOBS:-$(nproc)}"
dir=build-tsan
deps="$repo/$dir/tsan-deps"
prefix="$deps/prefix"
tsan_flags="-fsanitize=thread -fno-omit-frame-pointer"
start=$(date +%s)

caf_version=0.17.6-2.1
caf_orig=actor-framework_0.17.6.orig.tar.gz
caf_sha256=e2bf5bd243f08bb7d8adde197cfe3e6d71314ed3378fe0692f8932f4c3b3928c
httplib_version=0.11.4+ds-1+deb12u1
httplib_files="a4dde747bbde7cc9fa62cdf50d61140a0eaefb7f1383497ef2d48daf3bf5f9ec  cpp-httplib_0.11.4+ds-1+deb12u1.dsc
8b1a5df569003b6a4f24c68489bbda5c64aec94697bdc9ebba5d79408b2ae7eb  cpp-httplib_0.11.4+ds.orig.tar.xz
a0adf8a38610806f6d94ba69839438635e5e6580775e28ff31d6a081e34f1484  cpp-httplib_0.11.4+ds-1+deb12u1.debian.tar.xz"

# Debian's source packages through apt, with a private deb-src list (the
# machine's own apt configuration is left alone). The checksums above, not
# apt's exit status, decide: for actor-framework the archive serves the
# upstream tarball but not always the Debian part, which is not needed.
apt_opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$deps/apt/sources"
  -o "Dir::State::Lists=$deps/apt/lists")
fetch_source() {  # PACKAGE=VERSION
  if [ ! -d "$deps/apt/lists/partial" ]; then
    mkdir -p "$deps/apt/lists/partial" "$deps/apt/sources"
    cat >"$deps/apt/sources/debian-src.sources" <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    apt-get "${apt_opts[@]}" update >/dev/null
  fi
  (cd "$deps/dl" && apt-get "${apt_opts[@]}" source --download-only "$1" >/dev/null 2>&1) || true
}

build_caf() {
  [ -f "$deps/dl/$caf_orig" ] || fetch_source "actor-framework=$caf_version"
  echo "$caf_sha256  $deps/dl/$caf_orig" | sha256sum -c --quiet
  rm -rf "$deps/caf" && mkdir -p "$deps/caf/src"
  tar -xzf "$deps/dl/$caf_orig" -C "$deps/caf/src" --strip-components=1
  # Debian's only change to the headers it ships (GCC 12 needs it).
  sed -i 's|^#include <cstring>$|#include <cstring>\n#include <limits>|' \
    "$deps/caf/src/libcaf_io/caf/io/network/receive_buffer.hpp"
  cmake -S "$deps/caf/src" -B "$deps/caf/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_INSTALL_PREFIX="$prefix" -DCAF_LOG_LEVEL=QUIET \
    -DCAF_NO_EXAMPLES=yes -DCAF_NO_UNIT_TESTS=yes -DCAF_NO_TOOLS=yes -DCAF_NO_OPENSSL=yes \
    -DCAF_NO_PYTHON=yes -DCAF_NO_OPENCL=yes -DCAF_NO_SUMMARY=yes \
    -DCMAKE_CXX_FLAGS="$tsan_flags" -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread >/dev/null
  cmake --build "$deps/caf/build" -j "$jobs" >/dev/null
  cmake --install "$deps/caf/build" >/dev/null
  diff -r -x test -x openssl /usr/include/caf "$prefix/include/caf" >/dev/null ||
    echo "tsan: warning: the instrumented CAF's headers differ from /usr/include/caf" >&2
}

build_httplib() {
  (cd "$deps/dl" && echo "$httplib_files" | sha256sum -c --quiet >/dev/null 2>&1) ||
    fetch_source "cpp-httplib=$httplib_version"
  (cd "$deps/dl" && echo "$httplib_files" | sha256sum -c --quiet)
  rm -rf "$deps/httplib" && mkdir -p "$deps/httplib"
  dpkg-source --no-check -x "$deps/dl/cpp-httplib_$httplib_version.dsc" "$deps/httplib/src" >/dev/null
  # As Debian builds it (debian/rules, meson.build): split into .h + .cc, the
  # same defines, the same soname.
  (cd "$deps/httplib/src" && python3 ./split.py --out "$deps/httplib/out" >/dev/null)
  cmp -s "$deps/httplib/out/httplib.h" /usr/include/httplib.h ||
    echo "tsan: warning: the instrumented httplib's header differs from /usr/include/httplib.h" >&2
  mkdir -p "$prefix/lib"
  # shellcheck disable=SC2086
  g++ -std=c++11 -O2 -g -DNDEBUG -fPIC -shared $tsan_flags -DCPPHTTPLIB_USE_POLL \
    -DCPPHTTPLIB_OPENSSL_SUPPORT -DCPPHTTPLIB_ZLIB_SUPPORT -DCPPHTTPLIB_BROTLI_SUPPORT \
    -I"$deps/httplib/out" "$deps/httplib/out/httplib.cc" -Wl,-soname,libcpp-httplib.so.0.11 \
    -o "$prefix/lib/libcpp-httplib.so.0.11" -lssl -lcrypto -lz -lbrotlidec -lbrotlienc \
    -lbrotlicommon -pthread
}

mkdir -p "$deps/dl"
if [ ! -f "$prefix/lib/libcaf_core.so" ] || [ ! -f "$prefix/lib/libcaf_io.so" ]; then
  echo "tsan: building CAF with ThreadSanitizer in $deps"
  build_caf
fi
if [ ! -f "$prefix/lib/libcpp-httplib.so.0.11" ]; then
  echo "tsan: building cpp-httplib with ThreadSanitizer in $deps"
  build_httplib
fi

echo "tsan: building $dir"
# The instrumented CAF by its paths (cmake/FindCAF.cmake); httplib is linked
# as usual and found at run time in the prefix through the build RPATH,
# ahead of the system's copy.
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON \
  -DWABRIDGE_SANITIZE=thread -DWABRIDGE_WERROR=OFF \
  -DCAF_INCLUDE_DIR="$prefix/include" \
  -DCAF_CORE_LIBRARY="$prefix/lib/libcaf_core.so" \
  -DCAF_IO_LIBRARY="$prefix/lib/libcaf_io.so" \
  -DCMAKE_BUILD_RPATH="$prefix/lib" >/dev/null
cmake --build "$dir" -j "$jobs" --target wabridge wabridge_unit_tests wabridge_blackbox_tests
for bin in "$dir/wabridge" "$dir/tests/wabridge_unit_tests" "$dir/tests/wabridge_blackbox_tests"; do
  for lib in libcaf_core libcpp-httplib; do
    ldd "$bin" | grep "$lib" | grep -q "$prefix/lib" || {
      echo "tsan: $bin does not load the instrumented $lib" >&2
      exit 1
    }
  done
done
built=$(date +%s)

# Every process reports into its own file (tsan.<pid>): the black-box tests'
# supervisors, workers and sims are the instrumented binary too, and their
# stderr goes to log files that a passing test never shows. halt_on_error
# ends a process at its first report (exit code 66); a supervised worker that
# dies so is restarted and its test may still pass, so the files decide.
reports="$repo/$dir/tsan-reports"
rm -rf "$reports"
mkdir -p "$reports"
export TSAN_OPTIONS="suppressions=$repo/tests/tsan.supp halt_on_error=1 exitcode=66 second_deadlock_stack=1 history_size=4 log_path=$reports/tsan"

status=0
ctest_args=(--test-dir "$dir" --output-on-failure --no-tests=error -j "$jobs")
[ -n "$exclude" ] && ctest_args+=(-E "$exclude")
ctest "${ctest_args[@]}" -R '^unit\.' || status=1
ctest "${ctest_args[@]}" -R '^blackbox\.' || status=1

found=$(find "$reports" -type f | wc -l)
if [ "$found" -gt 0 ]; then
  for f in "$reports"/*; do
    echo "=== $f"
    cat "$f"
  done
  echo "tsan: ThreadSanitizer reports from $found process(es), above and in $reports"
  status=1
else
  echo "tsan: no ThreadSanitizer reports"
fi
end=$(date +%s)
echo "tsan: build $((built - start)) s, tests $((end - built)) s, total $((end - start)) s"
exit "$status"
