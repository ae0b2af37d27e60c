#!/usr/bin/env bash
# Builds and runs benchmarks/onednn in the current venv: pip installs the build tools, Eigen,
# nlohmann_json and oneDNN's wheels (onednn brings Intel's SYCL, OpenCL and TBB runtimes, about 1 GB),
# installs elman's C++ package under build/onednn-prefix, builds onednn_rnn against it as an outside
# project, and runs it at one thread (pinned to CPU 0, which is how oneDNN's TBB is held to one) and at
# every CPU. Arguments go to onednn_rnn (--rounds, --seconds, --shapes). Not part of .ci/run: a
# benchmark of minutes, and a download of runtimes no test needs.
set -euo pipefail
cd "$(dirname "$0")/../.."

pip install -q cmake ninja cmeel-eigen nlohmann-json onednn onednn-devel
site=$(python -c "import site; print(site.getsitepackages()[0])")
venv=$(python -c "import sys; print(sys.prefix)")  # the wheels put libdnnl.so in lib/, its headers in include/

cmake -S . -B build/onednn-elman -G Ninja -DCMAKE_PREFIX_PATH="$site" -DELMAN_TESTS=OFF > /dev/null
cmake --build build/onednn-elman > /dev/null
cmake --install build/onednn-elman --prefix build/onednn-prefix > /dev/null
cmake -S benchmarks/onednn -B build/onednn -G Ninja -DCMAKE_PREFIX_PATH="$PWD/build/onednn-prefix;$site;$venv" > /dev/null
cmake --build build/onednn > /dev/null

# The wheel's oneDNN runs its CPU engine on SYCL's OpenCL CPU device; the wheel's ICD file names a path
# from Intel's build machine, so the loader is pointed at the library itself.
export OCL_ICD_FILENAMES="$venv/lib/libintelocl.so" ONEDNN_VERBOSE=0
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(lscpu | sed -n 's/^Model name: *//p')), load: $(uptime | sed 's/.*load average: //')"
taskset -c 0 build/onednn/onednn_rnn --threads 1 "$@"
echo
build/onednn/onednn_rnn --threads "$(nproc)" "$@"
echo "load after: $(uptime | sed 's/.*load average: //')"
