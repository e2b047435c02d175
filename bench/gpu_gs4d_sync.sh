#!/bin/bash
# (bench/gpu_gs4d_sync.sh) copy the gs4d worktree's code (without sdk/assets weights) and the four characters into the carried folder
set -e
G=/work/main/.gpu/gs4d
D=$G/repo
rm -rf $D && mkdir -p $D/tests
cd /work/wt/gs4d
cp -r sdk exporters bench $D/
rm -rf $D/sdk/assets/weights $D/bench/results
mkdir -p $D/tests/render $D/tests/gs4d && cp tests/conftest.py $D/tests/ && cp tests/render/test_gaussians*.py $D/tests/render/
find $D -name __pycache__ -prune -exec rm -rf {} +
[ -d $G/data ] || cp -r /work/main/.gpu/gaussians/data $G/data
[ -f $G/gsplat-1.5.3-py3-none-any.whl ] || cp /work/main/.gpu/gaussians/gsplat-1.5.3-py3-none-any.whl $G/
ls $G/dracopy-*.whl >/dev/null 2>&1 || cp /work/main/.gpu/gaussians/dracopy-*.whl $G/  # the Quaternius glbs are Draco-compressed
cp /work/wt/gs4d/bench/gpu_gs4d_run.sh $G/run.sh 2>/dev/null || true
du -sh $G
