"""Rig-from-motion vs Dem Bones (PyPI ``py-dem-bones``) on the same sequences and bone counts.

For each sequence (clips of the shared rigged assets baked to vertices, and the procedural arm sample) we run
``rig_from_motion`` (automatic bone count B), then Dem Bones' SSDR (``py_dem_bones.solve_skinning``) asked for the
same B bones, 4 influences, on the same welded vertices (the shared assets are triangle soups; both get the welded
mesh so Dem Bones' face-based initialisation works). Reported: vertex RMSE (% of the bbox diagonal, over all
frames; ours is the exported rig's LBS replay) and wall time end to end (ours includes parts, skeleton and
joint fitting and the report), with ratios. Both run single-threaded (torch threads = 1; OMP_NUM_THREADS = 1, which
Dem Bones' OpenMP build honours) in this one process. Each side's wall and CPU (``time.process_time``) time is the
*median* of ``--repeats`` interleaved runs (ours, Dem Bones, ours, Dem Bones, ...; default 3, the machine is shared),
after one untimed warm-up run of each (imports, numba's compiled kernels, allocator). The load average is printed
with the table, which is ready to paste into docs/motion.md.

    OMP_NUM_THREADS=1 python bench/bench_demBones.py [--frames 48] [--dem-iters 30] [--repeats 3] [--json out.json]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "rigged"
CASES = [("Fox/Fox.glb", "Run"), ("Fox/Fox.glb", "Survey"), ("CesiumMan/CesiumMan.glb", None),
         ("RiggedFigure/RiggedFigure.glb", None), ("Quaternius_Wolf/Wolf.glb", "Walk"),
         ("RobotExpressive/RobotExpressive.glb", "Wave"), ("samples/arm_motion.npz", None)]


def dem_bones(X, faces, n_bones, iters, cpu=False):
    import py_dem_bones as pdb
    t, c = time.perf_counter(), time.process_time()
    res = pdb.solve_skinning(X[0], X, int(n_bones), faces=faces, max_influences=4, iterations=iters)
    wall = time.perf_counter() - t
    if cpu:
        wall = (wall, time.process_time() - c)
    W, M = res.weights.T, res.transforms  # [N, B], [T, B, 4, 4]
    pred = np.einsum("vb,fbij,vj->fvi", W, M[:, :, :3, :3], X[0]) + np.einsum("vb,fbi->fvi", W, M[:, :, :3, 3])
    return pred, wall, int((W.max(0) > 0).sum())


def main(argv=None):
    import torch
    torch.set_num_threads(1)
    from sdk.motionrig.pipeline import rig_from_motion
    from sdk.motionrig.sequence import load_sequence, weld
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--dem-iters", type=int, default=30, help="Dem Bones iterations (py-dem-bones default 30)")
    p.add_argument("--dem-iters-long", type=int, default=100,
                   help="a second, longer Dem Bones run (does more time buy it our RMSE?)")
    p.add_argument("--iterations", type=int, default=8, help="our SSDR iterations")
    p.add_argument("--repeats", type=int, default=3, help="timed interleaved runs per side; the median is reported")
    p.add_argument("--only", nargs="*", default=None, help="sequence stems to run (e.g. Fox CesiumMan)")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    root = Path(__file__).resolve().parents[1]
    import importlib.util
    numba_on = importlib.util.find_spec("numba") is not None
    header = (f"torch threads {torch.get_num_threads()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, "
              f"median of {a.repeats} interleaved runs, numba kernels {'on' if numba_on else 'off (not installed)'}, "
              f"load average at start {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(header, flush=True)
    rows = []
    for path, clip in CASES:
        f = root / path if path.startswith("samples/") else DATA / path
        if not f.exists():
            print(f"skip {path}: not found")
            continue
        if a.only and Path(path).stem not in a.only:
            continue
        seq = load_sequence(f, clip=clip).subsample(a.frames)
        diag = seq.bbox_diagonal
        idx, wrep = weld(seq.vertices)
        X = seq.vertices[:, wrep]
        faces = idx[seq.faces]
        faces = faces[(faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])]
        mult = np.bincount(idx, minlength=X.shape[1])
        rig, rep = rig_from_motion(seq, iterations=a.iterations)  # warm-up (first-call overheads), not timed
        B = rig.skeleton.n_joints
        dem_bones(X, faces, B, a.dem_iters)  # warm-up
        times, cpus, dem_runs = [], [], []
        for _ in range(max(1, a.repeats)):  # interleaved: ours, Dem Bones, ours, ...
            t, c = time.perf_counter(), time.process_time()
            rig, rep = rig_from_motion(seq, iterations=a.iterations)
            times.append(time.perf_counter() - t)
            cpus.append(time.process_time() - c)
            dem_runs.append(dem_bones(X, faces, B, a.dem_iters, cpu=True))
        ours_s, ours_cpu = float(np.median(times)), float(np.median(cpus))
        pred, _, dem_b = dem_runs[0]
        dem_s = float(np.median([r[1][0] for r in dem_runs]))
        dem_cpu = float(np.median([r[1][1] for r in dem_runs]))
        e = ((pred - X) ** 2).sum(-1)
        dem_rmse = 100 * np.sqrt((e * mult).sum() / (mult.sum() * len(X))) / diag
        pred2, dem2_s, _ = dem_bones(X, faces, B, a.dem_iters_long)  # one run (informational)
        e2 = ((pred2 - X) ** 2).sum(-1)
        dem2_rmse = 100 * np.sqrt((e2 * mult).sum() / (mult.sum() * len(X))) / diag
        name = f"{Path(path).stem}/{clip or getattr(seq, 'clip', '-')}"
        r = {"sequence": name, "frames": seq.n_frames, "V": seq.n_vertices, "welded": int(X.shape[1]), "bones": B,
             "dem_bones_used": dem_b, "ours_rmse_pct": rep["rmse_pct"], "dem_rmse_pct": float(dem_rmse),
             "ours_s": ours_s, "ours_cpu_s": ours_cpu, "ours_times": times, "dem_times": [r[1][0] for r in dem_runs],
             "ours_ssdr_s": rep["timings"]["ssdr_s"], "ours_parts_s": rep["timings"]["parts_s"], "dem_s": dem_s,
             "dem_cpu_s": dem_cpu,
             "dem_long_rmse_pct": float(dem2_rmse), "dem_long_s": dem2_s}
        rows.append(r)
        print(f"{name}: B={B} ours {r['ours_rmse_pct']:.3f}% {ours_s:.1f}s | Dem Bones {dem_rmse:.3f}% {dem_s:.1f}s",
              flush=True)
    print()
    print(header + f", load average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()
    L = a.dem_iters_long
    print(f"| sequence | frames | V (welded) | bones | RMSE % ours | RMSE % DB {a.dem_iters} it | RMSE ratio ours/DB | "
          f"wall ours s (parts, SSDR) | wall DB {a.dem_iters} it s | speed ours/DB (wall) | CPU ours s | CPU DB s | "
          f"speed ours/DB (CPU) | RMSE % DB {L} it | wall DB {L} it s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['sequence']} | {r['frames']} | {r['V']} ({r['welded']}) | {r['bones']} | {r['ours_rmse_pct']:.3f} | "
              f"{r['dem_rmse_pct']:.3f} | {r['ours_rmse_pct'] / max(r['dem_rmse_pct'], 1e-12):.2f} | "
              f"{r['ours_s']:.2f} ({r['ours_parts_s']:.2f}, {r['ours_ssdr_s']:.2f}) | {r['dem_s']:.2f} | "
              f"{r['dem_s'] / r['ours_s']:.2f}x | {r['ours_cpu_s']:.2f} | {r['dem_cpu_s']:.2f} | "
              f"{r['dem_cpu_s'] / r['ours_cpu_s']:.2f}x | {r['dem_long_rmse_pct']:.3f} | {r['dem_long_s']:.2f} |")
    if rows:
        gm = lambda k1, k2: float(np.exp(np.mean([np.log(max(r[k1], 1e-12) / max(r[k2], 1e-12)) for r in rows])))
        print(f"| **geometric mean** | | | | | | {gm('ours_rmse_pct', 'dem_rmse_pct'):.2f} | | | "
              f"{gm('dem_s', 'ours_s'):.2f}x | | | {gm('dem_cpu_s', 'ours_cpu_s'):.2f}x | | |")
    if a.json:
        import json
        Path(a.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
