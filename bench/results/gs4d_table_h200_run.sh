#!/bin/bash
# One H200 call for the issue-13 reconstruction table (run from the checkout root with .gpu/gs4d carried):
# gsplat JIT build; Fox paper4 alone (the speed row: a 4-view 16-frame 1000-iteration fit); then every other case
# concurrently: 3 more characters x paper4, 4 x dense24, the lit 4D-SH ablation (time_basis 4 vs 1) and the
# schedule ablations (paper values; SDK defaults minus one change). Results are tarred to $OUT/results.tgz.
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
TMO=150 case_ Fox_paper4 --asset Fox --clip Run --protocol paper4
nvidia-smi --query-gpu=name,memory.used --format=csv,noheader >> $R/nvsmi.txt
L="--set max_seconds=${FITMAX:-240}"
for p in paper4 dense24; do
  [ $p = paper4 ] || case_ Fox_$p --asset Fox --clip Run --protocol $p $L &
  case_ CesiumMan_$p --asset CesiumMan --protocol $p $L &
  case_ RobotExpressive_$p --asset RobotExpressive --clip Walking --protocol $p $L &
  case_ Quaternius_Wolf_$p --asset Quaternius_Wolf --clip Gallop --protocol $p $L &
done
case_ lit_CesiumMan_dense24_w4 --asset CesiumMan --protocol dense24 --lit --time-basis 4 $L &
case_ lit_CesiumMan_dense24_w1 --asset CesiumMan --protocol dense24 --lit --time-basis 1 $L &
PAPER="--set lr_mlp=0.0001 --set carry_forward=0 --set sh_time_start=0"  # sdk.gs4d.PAPER_SCHEDULE
case_ abl_Fox_paper4_paper_values --asset Fox --clip Run --protocol paper4 $PAPER $L &
case_ abl_CesiumMan_dense24_paper_values --asset CesiumMan --protocol dense24 $PAPER $L &
case_ abl_Fox_paper4_lr_mlp_1e-3 --asset Fox --clip Run --protocol paper4 --set lr_mlp=0.001 $L &
sleep 100; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader >> $R/nvsmi.txt
wait
echo "all done t=$SECONDS"
rm -f $R/*/model.pt
tar czf $OUT/results.tgz -C $R . && ls -la $OUT
