"""SSDR refinement on GPU vs CPU (same sequence, same initial bones, same iterations).

    python bench/bench_ssdr_gpu.py [--seq a.npz ...] [--iterations 8] [--json out.json]

Sequences: a procedural high-resolution arm (always) plus any ``.npz`` given (``MeshSequence.save`` layout).
For each: kinematic parts once on the CPU, then ``ssdr`` over all welded vertices (no sub-sampling) on the CPU
(all torch threads) and on CUDA (after one warm-up), plus the whole ``rig_from_motion`` on each device (default settings: SSDR on <= 4000 vertices).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _arm(rings=160, sides=48, frames=96):
    spec = importlib.util.spec_from_file_location("mms", ROOT / "samples" / "make_motion_sample.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    d = mod.make_arm_sequence(n_frames=frames, rings=rings, sides=sides)
    from sdk.motionrig import MeshSequence
    return MeshSequence(d["vertices"], d["faces"], 30.0, f"arm_{rings}x{sides}")


def main(argv=None):
    import numpy as np
    import torch
    from sdk.motionrig.parts import PartsConfig, kinematic_parts
    from sdk.motionrig.pipeline import rig_from_motion
    from sdk.motionrig.sequence import load_sequence
    from sdk.motionrig.ssdr import SSDRConfig, ssdr
    p = argparse.ArgumentParser()
    p.add_argument("--seq", nargs="*", default=[])
    p.add_argument("--iterations", type=int, default=8)
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    seqs = [_arm()] + [load_sequence(s) for s in a.seq]
    devs = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print("torch", torch.__version__, "threads", torch.get_num_threads(), "cuda", torch.cuda.is_available(),
          torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
    rows = []
    for seq in seqs:
        kp = kinematic_parts(seq, PartsConfig(merge_tol=0.002))
        X = seq.vertices[:, kp.weld_rep]
        row = {"sequence": seq.name, "frames": seq.n_frames, "welded": int(X.shape[1]), "bones": kp.n_parts}
        for dev in devs:
            cfg = SSDRConfig(iterations=a.iterations, device=dev)
            if dev == "cuda":  # warm-up (kernels, allocator)
                ssdr(X[0], X, kp.transforms, labels=kp.welded_labels, config=SSDRConfig(iterations=1, device=dev))
                torch.cuda.synchronize()
            t = time.perf_counter()
            r = ssdr(X[0], X, kp.transforms, labels=kp.welded_labels, config=cfg)
            if dev == "cuda":
                torch.cuda.synchronize()
            row[f"ssdr_{dev}_s"] = time.perf_counter() - t
            row[f"ssdr_{dev}_rmse_pct"] = 100 * r.rmse_history[-1] / seq.bbox_diagonal
            t = time.perf_counter()
            rig, rep = rig_from_motion(seq, iterations=a.iterations, device=dev)
            row[f"pipeline_{dev}_s"] = time.perf_counter() - t
            row[f"pipeline_{dev}_rmse_pct"] = rep["rmse_pct"]
            row[f"pipeline_{dev}_bones"] = rep["n_bones"]
        rows.append(row)
        print(json.dumps(row), flush=True)
    print("| sequence | frames | welded V | bones | SSDR CPU s | SSDR GPU s | speed-up | RMSE % CPU / GPU | "
          "pipeline CPU s | pipeline GPU s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        g = r.get("ssdr_cuda_s", float("nan"))
        print(f"| {r['sequence']} | {r['frames']} | {r['welded']} | {r['bones']} | {r['ssdr_cpu_s']:.2f} | {g:.2f} | "
              f"{r['ssdr_cpu_s'] / g:.1f}x | {r['ssdr_cpu_rmse_pct']:.4f} / {r.get('ssdr_cuda_rmse_pct', float('nan')):.4f} | "
              f"{r['pipeline_cpu_s']:.1f} | {r.get('pipeline_cuda_s', float('nan')):.1f} |")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
