#!/bin/bash
# H200 device calls for the issue-13 reconstruction table (run from the checkout root with .gpu/gs4d carried; fill it
# with bench/gpu_gs4d_sync.sh). gsplat JIT build; with WAVE=table (default): Fox paper4 alone (the speed row: a
# 4-view 16-frame 1000-iteration fit), then 3 more characters x paper4 and 4 x dense24; with WAVE=ablation: the lit
# 4D-SH ablation (time_basis 4 vs 1), the paper's schedule values and the pre-fit. At most PAR (default 4) fits run at
# a time, so every fit completes its 1000 iterations (12 at once ran at ~2.5 it/s each and were cut by max_seconds:
# docs/gaussians.md 3.3). EXTRA="--set k=v ..." is added to every case. Results are tarred to $OUT/results.tgz.
# The call of docs/gaussians.md 3.3 was the earlier version of this script (all 12 at once): git log -p this file.
G=$PWD/.gpu/gs4d
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site $G/*.whl || exit 1
export PYTHONPATH=/tmp/site:$G/repo MAX_JOBS=16 TORCH_CUDA_ARCH_LIST=9.0 PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
cd $G/repo
R=/tmp/res; mkdir -p $R
SECONDS=0
python3 -c "from gsplat.cuda._backend import _C; print('gsplat _C', _C is not None)" > $R/build.log 2>&1
echo "build_seconds $SECONDS" | tee -a $R/build.log; tail -2 $R/build.log
case_() { local name=$1; shift; timeout ${TMO:-430} python3 -m sdk.evaluation.gs4d case --shared $G/data --device cuda \
  --out $R/$name "$@" > $R/$name.log 2>&1; echo "$name rc=$? t=$SECONDS" | tee -a $R/done.log; }
L="--set max_seconds=${FITMAX:-400} $EXTRA"
PAR=${PAR:-4}
limited() { while [ $(jobs -rp | wc -l) -ge $PAR ]; do sleep 2; done; case_ "$@" & }
PAPER="--set lr_mlp=0.0001 --set carry_forward=0 --set sh_time_start=0"  # sdk.gs4d.PAPER_SCHEDULE
PREFIT="--set prefit_iterations=200 --set prefit_lr_means=0.001"
if [ "${WAVE:-table}" = table ]; then
  for p in paper4 dense24; do
    limited Fox_$p --asset Fox --clip Run --protocol $p $L
    limited CesiumMan_$p --asset CesiumMan --protocol $p $L
    limited RobotExpressive_$p --asset RobotExpressive --clip Walking --protocol $p $L
    limited Quaternius_Wolf_$p --asset Quaternius_Wolf --clip Gallop --protocol $p $L
  done
  limited lit_CesiumMan_dense24_w4 --asset CesiumMan --protocol dense24 --lit --time-basis 4 $L
  limited lit_CesiumMan_dense24_w1 --asset CesiumMan --protocol dense24 --lit --time-basis 1 $L
else
  limited lit_CesiumMan_dense24_w4 --asset CesiumMan --protocol dense24 --lit --time-basis 4 $L
  limited lit_CesiumMan_dense24_w1 --asset CesiumMan --protocol dense24 --lit --time-basis 1 $L
  limited abl_Fox_paper4_paper_values --asset Fox --clip Run --protocol paper4 $PAPER $L
  limited abl_CesiumMan_dense24_paper_values --asset CesiumMan --protocol dense24 $PAPER $L
  limited abl_Fox_paper4_prefit --asset Fox --clip Run --protocol paper4 $PREFIT $L
  limited abl_CesiumMan_dense24_prefit --asset CesiumMan --protocol dense24 $PREFIT $L
fi
sleep 5; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader >> $R/nvsmi.txt
wait
echo "all done t=$SECONDS"
rm -f $R/*/model.pt
tar czf $OUT/results.tgz -C $R . && ls -la $OUT
