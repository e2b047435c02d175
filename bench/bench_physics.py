"""Physics tracking speed (Newton SemiImplicit, Δt = 1/6000 s), CPU or CUDA, three measurements:

1. ``forward``: one forward rollout of a 1 s clip through the SDK's tracker (open-loop PD, no tape; one
   ``SimChunk`` per 40 substeps, states copied to torch between chunks, as ``physics-track`` runs it);
2. ``fwd_bwd``: one taped forward+backward tracking iteration over a short window (``--window`` frames);
3. ``batched``: the same 1 s forward, ``--worlds N`` copies of the character replicated as Newton worlds in one model
   (one kernel launch per step for all worlds; on CUDA each frame's 200 substeps are captured once as a CUDA graph):
   the cost per world-substep is what more iterations / parallel windows would cost.

    python bench/bench_physics.py [--rig ../shared/data/rigged/Fox/Fox.glb --clip Run] [--device cpu|cuda:0]
    python bench/bench_physics.py --save-rig fox.pkl        # a pickled Rig for a machine without the glTF reader

The first run compiles Warp's kernels (~1 min, cached in ~/.cache/warp afterwards); the bench warms up first.
"""
from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _load(path: str):
    if path.endswith(".pkl"):
        with open(path, "rb") as f:
            return pickle.load(f)
    from sdk.io import load_asset
    return load_asset(path).rig


def batched_forward(kin, tr, ref, th, fps: float, worlds: int, device: str, graph: bool) -> dict:
    """Open-loop forward of the whole clip in ``worlds`` replicated Newton worlds; seconds and ms per substep."""
    import numpy as np
    from sdk.physics.model import NewtonScene
    from sdk.physics.sim import _upright_kernel
    cfg = tr.cfg
    sc = NewtonScene(kin, tr.phys, cfg, requires_grad=False, worlds=worlds)
    wp = sc.wp
    B = tr.phys.n_bodies
    s0, s1 = sc.model.state(), sc.model.state()
    ctl = sc.model.control()
    s0.body_q.assign(wp.array(np.tile(ref[0], (worlds, 1)).astype(np.float32), dtype=wp.transform, device=device))
    N = int(round(1.0 / (fps * cfg.dt)))
    K = cfg.chunk
    kern = _upright_kernel(wp)
    mgh = float(sc.masses.sum()) * 9.81 * cfg.height_m
    from scipy.spatial.transform import Rotation
    local_up = wp.vec3(*Rotation.from_quat(ref[0, 0, 3:]).inv().apply([0.0, 1.0, 0.0]))
    up = wp.vec3(0.0, 1.0, 0.0)
    tidx = sc.target_index().reshape(-1)
    full = sc.model.joint_target_q.shape[0]

    def frame():  # N substeps (even: ends in s0), one collide per chunk
        for i in range(N):
            a, b = (s0, s1) if i % 2 == 0 else (s1, s0)
            if i % K == 0:
                sc.pipeline.collide(a, sc.contacts)
            a.clear_forces()
            wp.launch(kern, dim=worlds, inputs=[a.body_q, a.body_qd, local_up, up, cfg.upright_ke * mgh,
                                                cfg.upright_kd * mgh, B], outputs=[a.body_f], device=device)
            sc.solver.step(a, b, ctl, sc.contacts, cfg.dt)

    def set_targets(f):
        v = np.zeros(sc.n_target, np.float32)
        v[tidx] = th[f].reshape(-1)
        ctl.joint_target_q.assign(wp.array(np.tile(v, full // sc.n_target), device=device))

    use_graph = graph and device.startswith("cuda")
    set_targets(0)
    g, graph_error = None, None
    if use_graph:
        try:
            with wp.ScopedCapture(device=device) as cap:
                frame()
            g = cap.graph
        except Exception as e:  # a kernel or copy that cannot be captured: run uncaptured, say why
            use_graph, graph_error = False, f"{type(e).__name__}: {e}"[:300]
    if not use_graph:
        frame()  # warm-up
    wp.synchronize_device(device)
    s0.body_q.assign(wp.array(np.tile(ref[0], (worlds, 1)).astype(np.float32), dtype=wp.transform, device=device))
    s0.body_qd.zero_()
    t = time.perf_counter()
    for f in range(1, len(th)):
        set_targets(f)
        wp.capture_launch(g) if use_graph else frame()
    wp.synchronize_device(device)
    sec = time.perf_counter() - t
    q = s0.body_q.numpy().reshape(worlds, B, 7)
    sub = (len(th) - 1) * N
    return {"worlds": worlds, "cuda_graph": use_graph, "graph_error": graph_error, "seconds": sec, "ms_per_substep": 1e3 * sec / sub,
            "us_per_world_substep": 1e6 * sec / sub / worlds, "finite": bool(np.isfinite(q).all()),
            "worlds_agree": bool(np.abs(q - q[:1]).max() < 1e-3)}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--rig", default=str(ROOT.parent / "shared" / "data" / "rigged" / "Fox" / "Fox.glb"))
    ap.add_argument("--clip", default="Run")
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--window", type=int, default=4, help="frames of the taped forward+backward iteration")
    ap.add_argument("--worlds", default="1", help="comma-separated world counts of the batched forward ('' = skip)")
    ap.add_argument("--no-graph", action="store_true", help="batched forward without CUDA graph capture")
    ap.add_argument("--skip-sdk", action="store_true", help="only the batched forward")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--save-rig", default=None, help="pickle the rig of --rig to this path and exit")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    import torch
    if a.save_rig:
        with open(a.save_rig, "wb") as f:
            pickle.dump(_load(a.rig), f)
        return 0
    from sdk.motion.kinematics import MotionParams
    from sdk.physics.model import PhysicsConfig
    from sdk.physics.pipeline import prepare
    from sdk.physics.tracking import Tracker, TrackingConfig, _finite_diff_velocity, _targets_per_body
    rig = _load(a.rig)
    rig2, kin, _ = prepare(rig)
    anim = rig2.animation(a.clip)
    p = kin.params_from_animation(anim)
    F = int(round(a.seconds * anim.fps)) + 1
    reps = (F + p.n_frames - 1) // p.n_frames
    p = MotionParams(torch.cat([p.angles] * reps)[:F], torch.cat([p.root] * reps)[:F])
    t0 = time.perf_counter()
    tr = Tracker(kin, PhysicsConfig(device=a.device))
    build = time.perf_counter() - t0
    tr.cfg_track = TrackingConfig()
    ref = tr.prepare(p)
    th = _targets_per_body(kin, tr.phys, p).double()
    N = int(round(1 / (anim.fps * tr.cfg.dt)))
    sub = (F - 1) * N
    res = {"rig": Path(a.rig).name, "clip": a.clip, "device": a.device, "bodies": tr.phys.n_bodies,
           "sim_seconds": (F - 1) / anim.fps, "substeps": sub, "build_s": build, "torch_threads": torch.get_num_threads()}
    if not a.skip_sdk:
        runner = tr._runner(ref[0], True)
        q0 = torch.as_tensor(ref[0])
        qd0 = torch.as_tensor(_finite_diff_velocity(ref[0], ref[1], 1 / anim.fps))
        t = time.perf_counter()
        with torch.no_grad():  # warm-up (kernel compilation)
            tr.rollout(th[:2], q0, qd0, anim.fps, runner)
        res["warmup_s"] = time.perf_counter() - t
        t = time.perf_counter()
        with torch.no_grad():
            tr.rollout(th, q0, qd0, anim.fps, runner)
        fwd = time.perf_counter() - t
        w = a.window
        thw = th[:w].clone().requires_grad_(True)
        t = time.perf_counter()
        sim = tr.rollout(thw, q0, qd0, anim.fps, runner)
        tr.loss(sim, torch.as_tensor(ref[:w])).backward()
        fb = time.perf_counter() - t
        res.update({"forward_s": fwd, "forward_ms_per_substep": 1e3 * fwd / sub, "taped_fwd_bwd_window_frames": w,
                    "fwd_bwd_ms_per_substep": 1e3 * fb / ((w - 1) * N)})
        print(json.dumps(res, indent=1), flush=True)
    res["batched"] = []
    for n in [int(x) for x in a.worlds.split(",") if x.strip()]:
        r = batched_forward(kin, tr, ref, th.numpy(), anim.fps, n, a.device, not a.no_graph)
        res["batched"].append(r)
        print(json.dumps(r), flush=True)
    print(json.dumps(res, indent=1))
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
