"""Physics tracking speed: one forward rollout of a 1 s clip (open-loop PD, no tape) and one taped
forward+backward tracking iteration over a short window, on the CPU (Newton SemiImplicit, Δt = 1/6000 s).

    python bench/bench_physics.py [--rig ../shared/data/rigged/Fox/Fox.glb --clip Run] [--device cpu|cuda:0]

The first run compiles Warp's kernels (~1 min, cached in ~/.cache/warp afterwards); the bench warms up first.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--rig", default=str(ROOT.parent / "shared" / "data" / "rigged" / "Fox" / "Fox.glb"))
    ap.add_argument("--clip", default="Run")
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--window", type=int, default=4, help="frames of the taped forward+backward iteration")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    import torch
    from sdk.io import load_asset
    from sdk.motion.kinematics import MotionParams
    from sdk.physics.model import PhysicsConfig
    from sdk.physics.pipeline import prepare
    from sdk.physics.tracking import Tracker, TrackingConfig, _finite_diff_velocity, _targets_per_body
    rig = load_asset(a.rig).rig
    rig2, kin, _ = prepare(rig)
    anim = rig2.animation(a.clip)
    p = kin.params_from_animation(anim)
    F = min(p.n_frames, int(round(a.seconds * anim.fps)) + 1)
    reps = (p.n_frames + F - 1) // p.n_frames
    ang = torch.cat([p.angles] * max(reps, 1))[:F]
    root = torch.cat([p.root] * max(reps, 1))[:F]
    p = MotionParams(ang, root)
    t0 = time.perf_counter()
    tr = Tracker(kin, PhysicsConfig(device=a.device))
    build = time.perf_counter() - t0
    tr.cfg_track = TrackingConfig()
    ref = tr.prepare(p)
    runner = tr._runner(ref[0], True)
    th = _targets_per_body(kin, tr.phys, p).double()
    q0 = torch.as_tensor(ref[0])
    qd0 = torch.as_tensor(_finite_diff_velocity(ref[0], ref[1], 1 / anim.fps))
    with torch.no_grad():  # warm-up (kernel compilation)
        tr.rollout(th[:2], q0, qd0, anim.fps, runner)
    N = int(round(1 / (anim.fps * tr.cfg.dt)))
    t = time.perf_counter()
    with torch.no_grad():
        tr.rollout(th, q0, qd0, anim.fps, runner)
    fwd = time.perf_counter() - t
    sub = (F - 1) * N
    w = a.window
    thw = th[:w].clone().requires_grad_(True)
    t = time.perf_counter()
    sim = tr.rollout(thw, q0, qd0, anim.fps, runner)
    tr.loss(sim, torch.as_tensor(ref[:w])).backward()
    fb = time.perf_counter() - t
    res = {"rig": Path(a.rig).name, "clip": a.clip, "device": a.device, "bodies": tr.phys.n_bodies,
           "sim_seconds": (F - 1) / anim.fps, "substeps": sub, "build_s": build, "forward_s": fwd,
           "forward_ms_per_substep": 1e3 * fwd / sub, "taped_fwd_bwd_window_frames": w,
           "fwd_bwd_ms_per_substep": 1e3 * fb / ((w - 1) * N), "torch_threads": torch.get_num_threads()}
    print(json.dumps(res, indent=1))
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
