"""Weight-free tracker vs exact ground-truth tracks on the shared animated characters (TAP-Vid metrics).

Protocol: the paper's 4 views (az 0/90/180/270, el 15), 256^2, 16 frames, unlit, 2x supersampled renders; queries are
the 15x15 grid inside each view's first-frame mask (Sec. 3.2); query-first TAP-Vid metrics (delta_avg over
1/2/4/8/16 px, occlusion accuracy, AJ). CoTracker3 offline reports delta_avg^vis 76.9 on TAP-Vid-DAVIS (its README),
a different data set, for context only.

    articulate evaluate tracking
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from .gs4d import CASES


def evaluate_case(shared: Path, folder, file, clip, size=256, frames=16) -> dict:
    from ..io.gltf import load_gltf
    from ..render.views import protocol_cameras, render_asset_views
    from ..tracking import gt_tracks, klt_tracks, tapvid_metrics
    a = load_gltf(shared / "rigged" / folder / file)
    video, gt = render_asset_views(a, clip, protocol="paper4", n_frames=frames, size=size)
    tracks, vis, qs = gt_tracks(gt["vertices"], gt["faces"], protocol_cameras("paper4", size))
    per_view = []
    for c in range(video.n_views):
        pt, pv = klt_tracks(video.frames[c], qs[c])
        per_view.append(tapvid_metrics(pt, pv, tracks[c], vis[c]))
    keys = per_view[0].keys()
    out = {k: float(np.mean([m[k] for m in per_view])) for k in keys}
    out.update(asset=folder, clip=video.meta["clip"], queries=int(sum(len(q) for q in qs)),
               gt_visible_fraction=float(np.mean([v[1:].mean() for v in vis])))
    return out


def add_arguments(p: argparse.ArgumentParser):
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")


def run(args) -> int:
    shared = Path(__file__).resolve().parents[2].parent / "shared" / "data"
    rows = [evaluate_case(shared, f, fl, c, args.size, args.frames) for f, fl, c in CASES]
    print("| asset | clip | queries | GT visible | delta_avg | delta@1/2/4/8/16 | occlusion acc. | AJ |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        d = "/".join(f"{r[f'delta_{t}']:.2f}" for t in (1, 2, 4, 8, 16))
        print(f"| {r['asset']} | {r['clip']} | {r['queries']} | {r['gt_visible_fraction']:.2f} | {r['delta_avg']:.3f} |"
              f" {d} | {r['occlusion_accuracy']:.3f} | {r['aj']:.3f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0
