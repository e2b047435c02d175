"""Per-stage CPU seconds of ``rig_from_motion`` on bench_demBones' sequences (median of 3 runs after a warm-up).

Wraps the pipeline's stage functions with ``time.process_time`` and prints a markdown table (docs/motion.md,
"Where the time goes"). "weight steps" counts every SSDR weight step, the bone-pruning ones included; "QPs" is
the part of it in the per-vertex simplex QPs; "transform steps" is inside "SSDR x3".

    OMP_NUM_THREADS=1 python bench/profile_rig_from_motion.py
"""
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np


def main():
    import torch; torch.set_num_threads(1)
    import sdk.motionrig.pipeline as PL
    import sdk.motionrig.ssdr as S
    from sdk.motionrig.sequence import load_sequence
    DATA = Path(__file__).resolve().parents[2] / 'shared' / 'data' / 'rigged'
    CASES = [("Fox/Fox.glb", "Run"), ("Fox/Fox.glb", "Survey"), ("CesiumMan/CesiumMan.glb", None),
             ("RiggedFigure/RiggedFigure.glb", None), ("Quaternius_Wolf/Wolf.glb", "Walk"),
             ("RobotExpressive/RobotExpressive.glb", "Wave"), ("samples/arm_motion.npz", None)]
    acc = {}
    def wrap(mod, name, label):
        fn = getattr(mod, name)
        def w(*a, **k):
            t = time.process_time(); r = fn(*a, **k); acc[label] = acc.get(label, 0) + time.process_time() - t; return r
        setattr(mod, name, w)
    for n, l in [('kinematic_parts', 'parts'), ('ssdr', 'SSDR x3'), ('_merge_refined_bones', 'merge'), ('_prune', 'prune'),
                 ('solve_weights', 'rest weights'), ('fit_skeleton', 'skeleton'), ('_assemble_rig', 'rig'), ('_make_report', 'report')]:
        wrap(PL, n, l)
    for n, l in [('simplex_qp', 'QPs'), ('transform_step', 'transform steps'), ('weight_step', 'weight steps')]:
        wrap(S, n, l)
    cols = ['total', 'parts', 'SSDR x3', 'weight steps', 'QPs', 'transform steps', 'merge', 'prune', 'skeleton', 'rig', 'report']
    print('| sequence | welded V | bones | ' + ' | '.join(cols) + ' |')
    print('|---|---|---|' + '---|' * len(cols))
    root = Path(__file__).resolve().parents[1]
    for path, clip in CASES:
        f = root / path if path.startswith('samples/') else DATA / path
        seq = load_sequence(f, clip=clip).subsample(48)
        PL.rig_from_motion(seq)
        runs = []
        for _ in range(3):
            acc.clear()
            t = time.process_time(); rig, rep = PL.rig_from_motion(seq); acc['total'] = time.process_time() - t
            runs.append(dict(acc))
        med = {c: float(np.median([r.get(c, 0.0) for r in runs])) for c in cols}
        name = f"{Path(path).stem}/{clip or '-'}"
        print(f"| {name} | {rep['n_welded']} | {rig.skeleton.n_joints} | " + ' | '.join(f"{med[c]:.3f}" for c in cols) + ' |', flush=True)
    print('load average', ' '.join(f'{x:.2f}' for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
