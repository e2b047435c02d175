"""Registration speed (issue 12 "Speed": <= 2 s/frame on the GPU, <= 30 s/frame on the CPU, 10-35k vertices) on
marching-cubed CesiumMan frames, timing only (quality: bench/bench_registration.py).

    # here (needs libigl + the shared data): marching-cube the frames once into .npz files
    python bench/bench_registration_speed.py prepare --res 76,128,140 --frames 13 --dir CLIPS
    # anywhere with torch + scipy (e.g. the GPU box, carrying CLIPS): time register_frames
    python bench/bench_registration_speed.py time --dir CLIPS --res 76,128,140 --frames 13 --device cuda \
        --out speed.json [--save-vertices DIR]

res 76 / 128 / 140 give 10.0k / 28.8k / 34.5k template vertices. ``time`` first registers 2 frames of the smallest
clip untimed (CUDA context, cuBLAS/cuSOLVER handles), then one row per clip: seconds per frame (all of
``register_frames``, the solver set-up included, over the registered frames), set-up seconds, and the per-frame split
into target sampling + similarity (host, numpy / k-d tree) and vertex refinement (device).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def prepare(a) -> None:
    from sdk.evaluation.registration import build_clip, template_with_true_uvs
    d = Path(a.dir)
    d.mkdir(parents=True, exist_ok=True)
    for res in map(int, a.res.split(",")):
        c = build_clip(Path(a.data), None, frames=a.frames, res=res)
        fr = [template_with_true_uvs(c)] + c.frames.frames[1:]
        arrs = {f"v{i}": m.vertices.astype(np.float32) for i, m in enumerate(fr)}
        arrs.update({f"f{i}": m.faces.astype(np.int32) for i, m in enumerate(fr)})
        np.savez_compressed(d / f"cesium_{res}.npz", n=len(fr), fps=c.frames.fps, **arrs)
        print(res, fr[0].n_vertices, "vertices", flush=True)


def load(path: Path, frames: int):
    from sdk.core import Mesh, MeshFrames
    z = np.load(path)
    n = min(frames, int(z["n"]))
    return MeshFrames([Mesh(z[f"v{i}"].astype(np.float64), z[f"f{i}"].astype(np.int64)) for i in range(n)],
                      float(z["fps"]))


def time_clips(a) -> None:
    import torch
    from sdk.registration import RegistrationConfig, register_frames
    cfg = RegistrationConfig(device=a.device, mode=a.mode)
    res_list = list(map(int, a.res.split(",")))
    rows = []
    t0 = time.perf_counter()
    register_frames(load(Path(a.dir) / f"cesium_{res_list[0]}.npz", 2), cfg)  # warm-up, untimed
    warm = time.perf_counter() - t0
    for res in res_list:
        fr = load(Path(a.dir) / f"cesium_{res}.npz", a.frames)
        seq, rep = register_frames(fr, cfg)
        pf = rep["per_frame"][1:]
        row = {"res": res, "vertices": rep["vertices"], "frames": rep["frames"], "device": rep["device"],
               "gpu": torch.cuda.get_device_name() if a.device.startswith("cuda") else None, "solver": rep["solver"],
               "seconds_per_frame": rep["seconds_per_frame"], "seconds_setup": rep["seconds_setup"],
               "target_rigid_s_per_frame": float(np.mean([p["seconds_target_rigid"] for p in pf])),
               "refine_s_per_frame": float(np.mean([p["seconds_refine"] for p in pf])),
               "iterations": cfg.iterations, "mode": cfg.mode, "warmup_s": warm}
        rows.append(row)
        print(json.dumps(row), flush=True)
        if a.save_vertices:
            Path(a.save_vertices).mkdir(parents=True, exist_ok=True)
            np.save(Path(a.save_vertices) / f"reg_{res}_{a.device.split(':')[0]}.npy", seq.vertices.astype(np.float32))
        if a.out:
            Path(a.out).write_text(json.dumps(rows, indent=1))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cmd", choices=["prepare", "time"])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--res", default="76,128,140")
    ap.add_argument("--frames", type=int, default=13)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "rigged" / "CesiumMan" / "CesiumMan.glb"))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--mode", default="template")
    ap.add_argument("--out", default=None)
    ap.add_argument("--save-vertices", default=None)
    a = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    prepare(a) if a.cmd == "prepare" else time_clips(a)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
