#!/bin/bash
# (bench/gpu_gs4d_sync.sh) copy a worktree's code (without sdk/assets weights) and the four characters into the
# carried folder /work/main/.gpu/$BRANCH (default motion2; the data and wheels come from an earlier .gpu/gs4d or
# .gpu/gaussians copy). Usage: bench/gpu_gs4d_sync.sh [WORKTREE] [BRANCH]
set -e
SRC=${1:-/work/wt/motion2}
G=/work/main/.gpu/${2:-motion2}
D=$G/repo
mkdir -p $G
rm -rf $D && mkdir -p $D/tests
cd $SRC
cp -r sdk exporters bench $D/
rm -rf $D/sdk/assets/weights $D/bench/results
mkdir -p $D/tests/render $D/tests/gs4d && cp tests/conftest.py $D/tests/ && cp tests/render/test_gaussians*.py $D/tests/render/
find $D -name __pycache__ -prune -exec rm -rf {} +
for P in gs4d gaussians; do [ -d $G/data ] || [ ! -d /work/main/.gpu/$P/data ] || cp -r /work/main/.gpu/$P/data $G/data; done
[ -f $G/gsplat-1.5.3-py3-none-any.whl ] || cp /work/main/.gpu/gaussians/gsplat-1.5.3-py3-none-any.whl $G/
ls $G/dracopy-*.whl >/dev/null 2>&1 || cp /work/main/.gpu/gs4d/dracopy-*.whl $G/  # the Quaternius glbs are Draco-compressed
cp $SRC/bench/gpu_gs4d_run.sh $G/run.sh
du -sh $G
