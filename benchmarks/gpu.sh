#!/usr/bin/env bash
# benchmarks/gpu.sh -- the GPU check of issue 14, in one command, under 8 minutes:
#   1. installs what the GPU extra needs and the machine lacks, from the wheels in
#      benchmarks/wheels/ (no network is used);
#   2. runs the GPU tests (tests/test_array_api.py, where the GPU-only tests then run);
#   3. prints the GPU benchmark table (benchmarks/gpu.py).
#
# Usage, from the repository root on a machine with one NVIDIA GPU:
#     bash benchmarks/gpu.sh                  # everything
#     GF_GPU_DRY_RUN=1 bash benchmarks/gpu.sh # the same steps on a CPU (array_api_strict), to check the script
#
# The wheels folder.  benchmarks/wheels/ is ignored by git; fill it on a machine with network access
# for the GPU machine's Python, e.g. (Python 3.12, Linux x86-64):
#     python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#         --platform manylinux2014_x86_64 -d benchmarks/wheels array-api-compat array-api-strict
# Those two are pure Python (well under 1 MiB together).  Where the GPU machine has no CuPy, add
# cupy-cuda12x (about 130 MiB) and, without a CUDA toolkit there, the wheels of its "ctk" extra
# (cuda-toolkit[cublas,cudart,nvrtc,...], several hundred MiB) -- more than the 64 MiB a device
# call of this project's tooling carries, so such a machine needs CuPy preinstalled.  An installed
# CuPy of any CUDA flavour (cupy-cuda12x, cupy-cuda13x) is used as it is.
set -u
cd "$(dirname "$0")/.."
T0=$(date +%s)
LIMIT=${GF_GPU_LIMIT:-470}             # seconds for the whole script (8 minutes minus a margin)
WHEELS=${GF_WHEELS:-benchmarks/wheels}
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
left() { echo $(( LIMIT - ($(date +%s) - T0) )); }

echo "== machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "(no nvidia-smi)"
$PY -c "import sys; print('python', sys.version.split()[0])"

echo "== install (from $WHEELS, offline)"
need=""
for mod in array_api_compat array_api_strict; do
  $PY -c "import $mod" 2>/dev/null || need="$need ${mod//_/-}"
done
if [ -z "${GF_GPU_DRY_RUN:-}" ] && ! $PY -c "import cupy" 2>/dev/null; then
  need="$need cupy-cuda12x"
  ls "$WHEELS"/nvidia_cublas* >/dev/null 2>&1 && need="$need cuda-toolkit[cublas,cudart,nvrtc]"
fi
if [ -n "$need" ]; then
  if [ ! -d "$WHEELS" ]; then
    echo "missing:$need -- and no $WHEELS folder to install them from (see the top of this script)"; exit 2
  fi
  $PY -m pip install -q --no-index --no-deps --find-links "$WHEELS" --target /tmp/gf-site $need || exit 2
  export PYTHONPATH="$PYTHONPATH:/tmp/gf-site"
fi
$PY -c "import graphonflow, numpy, numba, scipy; print('graphonflow imports; numpy', numpy.__version__, 'numba', numba.__version__)" || exit 2
if [ -z "${GF_GPU_DRY_RUN:-}" ]; then
  $PY -c "import cupy; print('cupy', cupy.__version__, 'devices:', cupy.cuda.runtime.getDeviceCount())" || exit 2
fi

echo "== GPU tests ($(left) s left)"
timeout $(( $(left) > 240 ? 150 : $(left) / 3 )) $PY -m pytest -q -p no:cacheprovider -rs tests/test_array_api.py
echo "pytest exit status: $?"

echo "== benchmark table ($(left) s left)"
DRY=""; [ -n "${GF_GPU_DRY_RUN:-}" ] && DRY="--dry-run"
timeout $(( $(left) - 10 )) $PY benchmarks/gpu.py $DRY --budget $(( $(left) - 40 ))
status=$?
echo "== done in $(( $(date +%s) - T0 )) s (benchmark exit status $status)"
exit $status
