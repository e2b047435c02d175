"""``articulate reconstruct-4d VIEWS -o OUT``: fit a 4D Gaussian model (Track4DGen stage 2) to multi-view videos.

VIEWS is a folder written by ``articulate render-views`` (or by hand): ``cameras.json`` + one folder of frames per
view. The static mesh (Track4DGen's input 3-D model, posed as at the first frame, in the cameras' world frame) is
``--mesh`` or the folder's ``gt.npz`` canonical mesh.

Outputs in OUT: model.pt, mesh_sequence.npz (the field-deformed canonical mesh), mesh_cache.usdc (when
``exporters.usd_cache`` is installed), splats/frame_XXXX.ply (3DGS),
splats.usda (time-sampled ParticleField3DGaussianSplat), report.json, preview.png; with ``--rig R.usda|.glb`` also a
skinned rig through ``rig_from_motion``.
"""
from __future__ import annotations

import json
from pathlib import Path


def register(sub):
    p = sub.add_parser("reconstruct-4d", help="fit 4D Gaussians to multi-view videos (+ mesh sequence, rig, splats)")
    p.add_argument("views", help="multi-view folder (cameras.json + a folder of frames per view)")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument("--mesh", default=None, help="static mesh (OBJ/PLY/glTF) in the cameras' frame, first-frame pose")
    p.add_argument("--iterations", type=int, default=1000, help="paper: 750 + 250")
    p.add_argument("--batch", type=int, default=64, help="images per optimisation step (default 64)")
    p.add_argument("--gaussians", type=int, default=30000, help="Gaussians sampled on the canonical mesh (default 30000)")
    p.add_argument("--time-basis", type=int, default=4, help="4D SH cosine terms (1 = static SH)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--rig", default=None, help="also write a skinned rig (.usda/.usdc/.glb) via rig-from-motion")
    p.add_argument("--no-splats", action="store_true", help="skip the .ply / USD splat exports")
    p.set_defaults(func=run, inputs={"views": "folder", "--mesh": "asset"},
                   flags={"--iterations": "int>=1", "--batch": "int>=1", "--gaussians": "int>=1", "--time-basis": "int>=1"})


def run(args) -> int:
    import numpy as np
    import torch
    from ..util.progress import cli_bar, sub
    from ..errors import InvalidInputError
    from ..gs4d.export import to_gaussian_sequence, to_mesh_sequence
    from ..gs4d.fit import Fit4DConfig, canonical_from_mesh, fit_4dgs, render_model, video_cameras
    from ..io.multiview import read_gt, read_multiview
    from ..util.atomic import atomic_path, atomic_write_text
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if args.iterations < 1 or args.batch < 1 or args.gaussians < 1:
        raise InvalidInputError("--iterations, --batch and --gaussians must be >= 1", field="--iterations")
    video = read_multiview(args.views)
    if args.mesh:
        from ..io import load_asset
        asset = load_asset(args.mesh)
        v0, faces = asset.mesh.vertices, asset.mesh.faces
        ap = asset.appearance
    else:
        gt = read_gt(args.views)
        if gt is None or "canonical" not in gt:
            raise InvalidInputError(f"{args.views} has no gt.npz canonical mesh: pass --mesh", field="--mesh")
        v0, faces, ap = gt["canonical"], gt["faces"], None
        vc = gt.get("vertex_colors")
    kw = {}
    if ap is not None:
        kw = dict(vertex_colors=ap.vertex_colors, uvs=ap.uvs if ap.texture is not None else None,
                  texture=ap.texture, textured=ap.textured if ap.texture is not None else None)
    elif not args.mesh and vc is not None:
        kw = dict(vertex_colors=vc)
    can = canonical_from_mesh(v0, faces, args.gaussians, **kw)
    cfg = Fit4DConfig(iterations=args.iterations, refine_iterations=args.iterations // 4,
                      progressive_iterations=(3 * args.iterations) // 4, batch=args.batch, time_basis=args.time_basis)
    with cli_bar("reconstruct-4d") as top:
        progress = sub(top, 0.0, 0.9)  # the command's steps fill 0-90 %
        res = fit_4dgs(video, can, cfg, device=device, progress=progress, canonical_vertices=len(v0))
        out = Path(args.output)
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(out / "model.pt") as tmp:
            torch.save({"state_dict": res.model.state_dict(), "summary": res.summary(), "n_vertices": len(v0)}, tmp)
        seq = to_mesh_sequence(res.model, len(v0), faces, video.times, fps=video.fps, name=video.name)
        with atomic_path(out / "mesh_sequence.npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, vertices=seq.vertices, faces=seq.faces, times=video.times, fps=video.fps)
        report = res.summary()
        if not args.no_splats:
            from exporters.splat_ply import write_splat_ply_sequence
            gs = to_gaussian_sequence(res.model, video.times, fps=video.fps, name=video.name)
            write_splat_ply_sequence(gs, out / "splats")
            try:
                from exporters.usd_splat import write_splats_usd
                write_splats_usd(gs, out / "splats.usda")
                report["splats_usd"] = "splats.usda"
            except ImportError as e:  # no usd-core, or one without the ParticleField schema
                report["splats_usd"] = f"skipped: {e}"
        try:  # USD points cache (exporters.usd_cache, from the mesh-cache work), when present
            from exporters.usd_cache import write_mesh_cache_usd
            write_mesh_cache_usd(seq, out / "mesh_cache.usdc")
            report["mesh_cache"] = "mesh_cache.usdc"
        except ImportError as e:
            report["mesh_cache"] = f"skipped: {e}"
        if args.rig:
            from ..motionrig.pipeline import rig_from_motion
            rig, rep = rig_from_motion(seq, device=None if device == "cpu" else device)
            rig.export(args.rig)
            report["rig"] = {k: v for k, v in rep.items() if k in ("bones", "rmse", "rmse_rel", "seconds")}
        with torch.no_grad():
            cams = video_cameras(video, device)
            r = render_model(res.model, cams, [float(video.times[-1])] * video.n_views, video.background)
        from PIL import Image
        strip = np.concatenate([np.concatenate(list(video.frames[:, -1]), 1),
                                np.concatenate(list(r.rgb.clamp(0, 1).cpu().numpy()), 1)], 0)
        Image.fromarray((strip * 255).astype(np.uint8)).save(out / "preview.png")
        atomic_write_text(out / "report.json", json.dumps(report, indent=1, default=str))
    print(f"fitted {res.model.n} Gaussians to {video.n_views} views x {video.n_frames} frames in {res.seconds:.1f} s "
          f"on {device}; wrote {out}")
    return 0
