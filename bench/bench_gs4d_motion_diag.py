"""Where a 4D-GS fit's motion error comes from (issue 13): for each case folder's ``mesh_sequence.npz`` (the vertex
Gaussians' trajectories next to the true vertices, written by ``python -m sdk.evaluation.gs4d case``), split the
per-vertex RMSE into

* off-surface: the distance of each deformed vertex Gaussian to the true mesh *surface* at that frame (shape),
* true -> reconstruction: the mean distance of the true vertices to the nearest deformed vertex Gaussian (coverage),
* welded: the RMSE over unique canonical positions (glTF meshes duplicate vertices at UV seams),
* visible / hidden: vertices seen by at least one dense24 camera (z-test against the rasterised true mesh, 128 px)
  or by none (interior, occluded),

all in % of the clip's bbox diagonal. A per-vertex error far above the off-surface error means the Gaussians stay
on the surface but slide along it (correspondence), not that the shape is wrong. CPU; needs libigl.

    python bench/bench_gs4d_motion_diag.py DIR/Fox_dense24 DIR/CesiumMan_dense24 ... [--json OUT.json]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def diagnose(npz: Path, vis_size: int = 128, vis_every: int = 3) -> dict:
    import igl
    import torch
    from scipy.spatial import cKDTree

    from sdk.render.camera import project
    from sdk.render.raster import rasterize
    from sdk.render.views import protocol_cameras
    d = np.load(npz)
    v, gt, f = d["vertices"].astype(np.float64), d["gt_vertices"].astype(np.float64), d["faces"].astype(np.int64)
    diag = float(np.linalg.norm(gt.reshape(-1, 3).max(0) - gt.reshape(-1, 3).min(0)))
    t_n, n_v = gt.shape[:2]
    pct = lambda x: float(100 * x / diag)  # noqa: E731
    err = np.linalg.norm(v - gt, axis=-1)  # [T, V]
    surf = np.stack([np.sqrt(igl.point_mesh_squared_distance(v[k], gt[k], f)[0]) for k in range(t_n)])
    cover = np.array([cKDTree(v[k]).query(gt[k])[0].mean() for k in range(t_n)])
    _, first = np.unique(np.round(gt[0], 6), axis=0, return_index=True)
    cams = protocol_cameras("dense24", vis_size)
    ks = list(range(vis_every, t_n, vis_every))
    vis = np.zeros((len(ks), n_v), bool)
    for i, k in enumerate(ks):
        fr = rasterize(torch.as_tensor(gt[k], dtype=torch.float32), torch.as_tensor(f), cams)
        uv, z = project(torch.as_tensor(gt[k], dtype=torch.float32), cams)
        px = uv[..., 0].clamp(0, vis_size - 1).long()
        py = uv[..., 1].clamp(0, vis_size - 1).long()
        dep = torch.gather(fr.depth.reshape(len(cams), -1), 1, py * vis_size + px)
        vis[i] = (z <= dep + 0.01 * diag).any(0).numpy()
    ev = err[ks]
    rms = lambda a: float(np.sqrt(np.mean(np.square(a)))) if a.size else float("nan")  # noqa: E731
    return dict(vertices=n_v, unique_positions=int(len(first)), diag=diag,
                rmse_pct=pct(rms(err)), welded_rmse_pct=pct(rms(err[:, first])),
                per_frame_rmse_pct=[round(pct(rms(e)), 3) for e in err],
                off_surface_rms_pct=pct(rms(surf)), off_surface_median_pct=pct(np.median(surf)),
                true_to_recon_mean_pct=pct(cover.mean()), median_pct=pct(np.median(err)),
                p90_pct=pct(np.percentile(err, 90)), visible_fraction=float(vis.mean()),
                visible_rmse_pct=pct(rms(ev[vis])), hidden_rmse_pct=pct(rms(ev[~vis])))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("cases", nargs="+", help="case folders holding mesh_sequence.npz")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    out = {}
    for c in a.cases:
        r = diagnose(Path(c) / "mesh_sequence.npz")
        out[Path(c).name] = r
        print(f"{Path(c).name}: per-vertex {r['rmse_pct']:.2f}% (welded {r['welded_rmse_pct']:.2f}), off-surface "
              f"{r['off_surface_rms_pct']:.2f}%, true->recon {r['true_to_recon_mean_pct']:.2f}%, visible "
              f"{r['visible_rmse_pct']:.2f}% / hidden {r['hidden_rmse_pct']:.2f}% (visible {r['visible_fraction']:.2f})")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
