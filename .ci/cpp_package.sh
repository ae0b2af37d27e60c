#!/usr/bin/env bash
# The C++ package as a user sees it: plain CMake installs elman to a temporary prefix, then
# cpp/examples is built as an outside project against that prefix alone, and its sine-wave run
# must show a falling loss. Needs only a python with cmake, ninja, cmeel-eigen and nlohmann-json
# installed (pip install cmake ninja cmeel-eigen nlohmann-json); no Python module is built.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
# Eigen and nlohmann_json come from their wheels: elman's build and its installed elmanConfig.cmake
# both look under every entry of CMAKE_PREFIX_PATH for them (cpp/cmake/elmanDependencies.cmake).
site=$(python -c "import site; print(site.getsitepackages()[0])")

# -DELMAN_WERROR=ON: in both builds, warnings in what they compile are errors.
cmake -S . -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$site" -DELMAN_TESTS=OFF -DELMAN_WERROR=ON
cmake --build "$work/build"
cmake --install "$work/build" --prefix "$prefix"
for f in include/elman/elman.hpp lib/cmake/elman/elmanConfig.cmake lib/cmake/elman/elmanConfigVersion.cmake \
         lib/cmake/elman/elmanTargets.cmake; do
  [[ -f "$prefix/$f" ]] || { echo "cpp_package: $f was not installed" >&2; exit 1; }
done

cmake -S cpp/examples -B "$work/examples" -G Ninja -DCMAKE_PREFIX_PATH="$prefix;$site" -DELMAN_WERROR=ON
grep -qx "elman_DIR:PATH=$prefix/lib/cmake/elman" "$work/examples/CMakeCache.txt" ||
  { echo "cpp_package: the example did not find elman under $prefix" >&2; exit 1; }
cmake --build "$work/examples"
"$work/examples/sine_wave" | tee "$work/loss.txt"
# Lines read "step N  loss L": the last mean loss must be under half the first.
awk '{ loss[NR] = $4 }
     END { ok = NR >= 2 && loss[NR] < loss[1] / 2
           printf "cpp_package: sine_wave loss %s -> %s: %s\n", loss[1], loss[NR], ok ? "fell" : "did not fall"
           exit !ok }' "$work/loss.txt"

# A model trained by `elman train` (Python), used from the outside project: generate.cpp must print
# exactly what `elman sample` prints for the same arguments, and the file it writes back with
# save_model must load in Python with identical weights and metadata. Skipped without Python's elman.
if ! python -c "import elman" 2>/dev/null; then
  echo "cpp_package: generate skipped: this python cannot import elman"
  exit 0
fi
elman train --out "$work/char.safetensors" --steps 40 --hidden 48 --seq-len 32 --batch 8 --val-every 40 --no-progress \
  > "$work/train.txt"
args=(--prime "The " --length 300 --temperature 0.9 --top-k 20 --top-p 0.95 --seed 7)
elman sample "$work/char.safetensors" "${args[@]}" > "$work/python.txt"
"$work/examples/generate" "$work/char.safetensors" "${args[@]}" --save "$work/from_cpp.safetensors" > "$work/cpp.txt"
cmp "$work/python.txt" "$work/cpp.txt" ||
  { echo "cpp_package: generate and elman sample differ:" >&2; diff "$work/python.txt" "$work/cpp.txt" >&2; exit 1; }
python - "$work/char.safetensors" "$work/from_cpp.safetensors" <<'PY'
import sys
import numpy as np
import elman
a, b = (elman.load(p) for p in sys.argv[1:])
assert a.config == b.config and a.metadata == b.metadata, (a.config, b.config)
assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
PY
echo "cpp_package: generate printed what elman sample printed ($(wc -c < "$work/cpp.txt") bytes), and its save_model file loads in Python identical"
