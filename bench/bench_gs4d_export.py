"""Export one reconstructed 4D-GS clip to engines (issue 13): the field-deformed canonical mesh (``mesh_sequence.npz``
written by ``python -m sdk.evaluation.gs4d case``) -> MeshSequence -> rig_from_motion -> UsdSkel (validated with
OpenUSD's validators, replay error in % of the bbox diagonal vs its input and vs the true vertices) and a USD points
cache (validated). Runs on the CPU (usd-core is not on the GPU box).

    python bench/bench_gs4d_export.py RESULT_DIR --out DIR [--json bench/results/gs4d_export.json]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def write_preview(gt: np.ndarray, rec: np.ndarray, faces: np.ndarray, path: Path, frames: int = 4,
                  size: int = 192) -> None:
    """True mesh (top row) and reconstruction (bottom row) at ``frames`` evenly spaced frames, one fixed camera."""
    from PIL import Image
    from sdk.render import orbit_cameras, render_mesh
    idx = np.unique(np.round(np.linspace(0, len(gt) - 1, frames)).astype(int))
    allv = gt.reshape(-1, 3)
    c = 0.5 * (allv.min(0) + allv.max(0))
    r = float(np.linalg.norm(allv.max(0) - allv.min(0))) * 0.5 or 1.0
    cam = orbit_cameras(azimuth=[0.6], elevation=[0.3], radius=2.9 * r, fov_deg=40.0, width=size,
                        target=tuple(c.tolist()))
    rows = [np.concatenate([render_mesh(s[i], faces, cam).rgb.numpy()[0] for i in idx], 1) for s in (gt, rec)]
    Image.fromarray((np.clip(np.concatenate(rows, 0), 0, 1) * 255).astype(np.uint8)).save(path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("result_dir", help="a case folder holding mesh_sequence.npz (and result.json)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--json", default=None)
    ap.add_argument("--source", choices=("fitted", "gaussians"), default="fitted",
                    help="fitted: the mesh fitted to all the deformed Gaussians (gs4d.export.fitted_mesh_sequence); "
                         "gaussians: the vertex Gaussians' own trajectories")
    ap.add_argument("--preview", default=None, help="a PNG: the true mesh (top) and the reconstruction (bottom)")
    a = ap.parse_args(argv)
    from exporters.usd_cache import write_mesh_cache_usd
    from exporters.validate import validate_usd
    from sdk.core.sequence import MeshSequence
    from sdk.motionrig.pipeline import rig_from_motion
    src = Path(a.result_dir)
    d = np.load(src / "mesh_sequence.npz")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    key = "fitted_vertices" if a.source == "fitted" and "fitted_vertices" in d.files else "vertices"
    seq = MeshSequence(d[key].astype(np.float64), d["faces"], fps=float(d["fps"]), name="reconstruction")
    gt = d["gt_vertices"].astype(np.float64)
    diag = float(np.linalg.norm(gt.reshape(-1, 3).max(0) - gt.reshape(-1, 3).min(0)))
    t0 = time.perf_counter()
    rig, rep = rig_from_motion(seq)
    t_rig = time.perf_counter() - t0
    rig_path = out / "reconstruction_rig.usda"
    rig.export(rig_path)
    rig_problems = validate_usd(rig_path)
    # replay: the rig's own skinning of its clip against the input sequence and against the true vertices
    anim = rig.animations[0]
    replay = rig.pose(anim.world_matrices(rig.skeleton.parents))  # [F, V, 3]
    n = min(len(replay), len(seq.vertices))
    rms_in = float(np.sqrt(((replay[:n] - seq.vertices[:n]) ** 2).sum(-1).mean()))
    rms_gt = float(np.sqrt(((replay[:n] - gt[:n]) ** 2).sum(-1).mean()))
    input_vs_gt = float(np.sqrt(((seq.vertices - gt) ** 2).sum(-1).mean()))
    cache_path = out / "reconstruction_cache.usdc"
    write_mesh_cache_usd(seq, cache_path)
    cache_problems = validate_usd(cache_path)
    res = dict(source=str(src), sequence=key, frames=int(seq.vertices.shape[0]), vertices=int(seq.vertices.shape[1]),
               bones=int(len(rig.skeleton.names)), rig_seconds=t_rig, rig_validator_problems=rig_problems,
               replay_rmse_pct_of_input=100 * rms_in / diag, replay_rmse_pct_vs_true=100 * rms_gt / diag,
               input_rmse_pct_vs_true=100 * input_vs_gt / diag, mesh_cache_validator_problems=cache_problems,
               rig_report={k: v for k, v in rep.items() if k in ("bones", "rmse", "rmse_rel", "seconds")})
    if (src / "result.json").exists():
        r = json.loads((src / "result.json").read_text())
        res["case"] = {k: r.get(k) for k in ("asset", "clip", "protocol", "iterations", "overrides")}
    if a.preview:
        write_preview(gt, seq.vertices, seq.faces, Path(a.preview))
        res["preview"] = str(a.preview)
    print(json.dumps(res, indent=1, default=str))
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
