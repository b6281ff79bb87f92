#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer (clang from Debian) of the three
# places where outside bytes enter wabridge: HTTP requests against the real
# worker, upstream protocol lines, and config files (tests/fuzz/).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS per target (default 60; the README's test command runs 20);
# TARGET is http_request, upstream_line or config (default: all three).
# Builds build-fuzz with clang, libFuzzer, ASan and UBSan. Each target starts
# from its seed corpus in tests/fuzz/corpus/<target> plus what earlier runs
# found (build-fuzz/corpus/<target>, kept between runs). A crash, leak, 500 or
# hang stops the run non-zero and leaves the input in
# build-fuzz/artifacts/<target>/: fix the bug, then copy the input into
# tests/fuzz/regressions/<target>/ so that ctest replays it in every build.
# Packages (clang, libclang-rt-14-dev) come from scripts/setup.sh.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
seconds="${1:-60}"
shift || true
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(http_request upstream_line config)
jobs="$(nproc 2>/dev/null || echo 2)"

CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON \
  -DWABRIDGE_FUZZ=ON -DWABRIDGE_SANITIZE=address,undefined -DWABRIDGE_WERROR=OFF >/dev/null
cmake --build build-fuzz -j "$jobs" --target "${targets[@]/#/fuzz_}"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
status=0
for target in "${targets[@]}"; do
  corpus="build-fuzz/corpus/$target"
  artifacts="build-fuzz/artifacts/$target"
  mkdir -p "$corpus" "$artifacts"
  log="build-fuzz/fuzz-$target.log"
  echo "fuzz: $target for ${seconds}s (log $log)"
  if build-fuzz/tests/fuzz/"fuzz_$target" -max_total_time="$seconds" -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" \
    "$corpus" "tests/fuzz/corpus/$target" >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    echo "fuzz: $target ok, $runs inputs, corpus $(ls "$corpus" | wc -l) files"
  else
    status=1
    echo "fuzz: $target FOUND A PROBLEM; input in $artifacts/, details:"
    grep -E -A25 'ERROR|fuzz_[a-z_]+:' "$log" | head -60
  fi
done
exit "$status"
