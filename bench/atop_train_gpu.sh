#!/bin/bash
# usage (device machine, repo root): bash .gpu/atoptrain/run.sh [bench_atop_train.py args...]
# .gpu/atoptrain = {whl/diffusers-0.42.1 + importlib_metadata wheels, src/ = sdk + bench copies, data/ = bench_atop_data.py output,
# run.sh = this file}; carried with the run tool (carry: [".gpu/atoptrain"]).
G=$PWD/.gpu/atoptrain
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site $G/whl/*.whl || exit 3
export PYTHONPATH=/tmp/site:$G/src
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
cd $G/src
set -o pipefail
PYTHONUNBUFFERED=1 python3 bench/bench_atop_train.py --data $G/data --out $OUT "$@" 2>&1 | tee $OUT/log.txt
