#!/usr/bin/env bash
# AddressSanitizer and UndefinedBehaviorSanitizer over (a) the C++ tests and (b) the Python extension
# under the pytest suite. Any sanitizer report fails the run. Needs GCC (or CXX naming a compiler with
# the same runtimes), python3 with venv, and PyPI for the venv's packages. Work files, kept between
# runs so that a rerun is incremental, go to $ELMAN_SANITIZE_DIR (default build/sanitizers).
set -euo pipefail
cd "$(dirname "$0")/.."

work=${ELMAN_SANITIZE_DIR:-build/sanitizers}
mkdir -p "$work"
work=$(cd "$work" && pwd)
# Debug: Eigen's own assertions on, and no LTO or stripping from pybind11. -O1 and line tables only
# (-g1) keep the compile times of the Eigen-heavy files bearable; the sanitizers need no more.
flags="-O1 -g1 -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

echo "== sanitizers: a venv with the build tools"
[[ -x "$work/venv/bin/python" ]] || python3 -m venv "$work/venv"
py="$work/venv/bin/python"
"$py" -m pip install -q cmake ninja scikit-build-core pybind11 cmeel-eigen nlohmann-json
site=$("$py" -c "import site; print(site.getsitepackages()[0])")

echo "== sanitizers: (a) the C++ tests (${SECONDS}s)"
"$work/venv/bin/cmake" -S . -B "$work/cpp" -G Ninja -DCMAKE_MAKE_PROGRAM="$work/venv/bin/ninja" \
  -DCMAKE_PREFIX_PATH="$site" -DELMAN_TESTS=ON -DELMAN_WERROR=ON -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="$flags"
"$work/venv/bin/cmake" --build "$work/cpp"
ASAN_OPTIONS=detect_leaks=1 "$work/venv/bin/ctest" --test-dir "$work/cpp" --output-on-failure

echo "== sanitizers: ThreadSanitizer over the thread pool's test (${SECONDS}s)"
# parallel.hpp's pool is lock-free where loops start and end; TSan checks its orderings. The test forks
# a child from a process with threads on purpose (die_after_fork=0 lets TSan follow it).
"${CXX:-c++}" -std=c++17 -O1 -g1 -fsanitize=thread -Icpp/include -I"$site/cmeel.prefix/include/eigen3" \
  cpp/tests/test_parallel.cpp -o "$work/test_parallel_tsan" -pthread
TSAN_OPTIONS=halt_on_error=1:die_after_fork=0 "$work/test_parallel_tsan"

echo "== sanitizers: (b) the Python extension under pytest (${SECONDS}s)"
# Without build isolation, into a build folder of its own, so that a rerun recompiles only what changed.
PATH="$work/venv/bin:$PATH" "$py" -m pip install -q --no-build-isolation -Cbuild-dir="$work/python" \
  -Ccmake.build-type=Debug -Ccmake.define.CMAKE_CXX_FLAGS_DEBUG="$flags" -Ccmake.define.ELMAN_WERROR=ON ".[test]"
# Found without importing it: an import needs the ASan runtime preloaded (below).
core=$(echo "$("$py" -c "import sysconfig; print(sysconfig.get_paths()['platlib'])")"/elman/_core.*.so)
# ldd's output is read whole before the test: `ldd | grep -q` under pipefail fails at random when grep
# exits at its first match and ldd, still writing, dies of SIGPIPE.
deps=$(ldd "$core")
[[ $deps == *libasan* ]] || { echo "sanitizers: $core is not built with ASan" >&2; exit 1; }
# The interpreter is not instrumented: the ASan runtime must be loaded first, and libstdc++ with it,
# or ASan cannot intercept C++ throws (CHECK failed: ... real___cxa_throw). Python keeps some objects
# until exit by design, so leak reports would be noise. --capture=sys leaves file descriptor 2 alone,
# so that a report is seen before the sanitizer ends the process.
preload="$("${CXX:-c++}" -print-file-name=libasan.so) $("${CXX:-c++}" -print-file-name=libstdc++.so)"
LD_PRELOAD="$preload" ASAN_OPTIONS=detect_leaks=0 "$py" -m pytest -q -p no:cacheprovider --capture=sys tests
echo "== sanitizers: nothing reported (${SECONDS}s)"
