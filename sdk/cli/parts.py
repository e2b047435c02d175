"""``articulate parts INPUT -o OUTDIR``: kinematic part maps (SP4D) and lifted per-vertex part labels of a mesh.

The mesh is normalised and rendered from orbit views with the project's renderer; the small SP4D model
(shipped weights) generates the part branch for those views with the RGB branch held at the renders;
back-mapping turns the colour encodings into part maps consistent across views; lifting votes them onto
the vertices. ``--method colour`` skips the model (colour clustering of the renders).

Writes: part_maps.npz (labels [N,H,W], encodings [N,H,W,3], rgb [N,H,W,3]), preview.png,
vertex_labels.npy ([V] int64) and vertex_labels.json.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def register(sub) -> None:
    p = sub.add_parser("parts", help="kinematic part maps and per-vertex part labels of a mesh (SP4D)",
                       description=__doc__)
    p.add_argument("input", help="mesh file (obj, glb, ply, ...)")
    p.add_argument("-o", "--out", required=True, help="output folder")
    p.add_argument("--method", choices=["sp4d", "colour"], default="sp4d")
    p.add_argument("--weights", default=None, help="SP4D .safetensors (default: sp4d_small from the registry)")
    p.add_argument("--steps", type=int, default=12, help="sampler steps")
    p.add_argument("--passes", type=int, default=2, help="orbit passes (each adds 4 views, rotated 45 deg)")
    p.add_argument("--sam-checkpoint", default=None, help="SAM checkpoint for back-mapping (default: colour fallback)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    p.set_defaults(func=run)


def _load_mesh(path: str):
    """(vertices [V,3] float64, faces [F,3] int64) via sdk.io when available, else trimesh."""
    from ..errors import AssetReadError
    if not Path(path).is_file():
        raise AssetReadError(path, "no such file")
    try:
        from ..io import load_asset
    except ImportError:
        load_asset = None
    if load_asset is not None:
        a = load_asset(path)
        return np.asarray(a.mesh.vertices, dtype=np.float64), np.asarray(a.mesh.faces, dtype=np.int64)
    import trimesh
    try:
        m = trimesh.load(path, force="mesh")
    except Exception as e:  # trimesh raises many types
        raise AssetReadError(path, f"cannot read mesh: {e}") from e
    return np.asarray(m.vertices, dtype=np.float64), np.asarray(m.faces, dtype=np.int64)


def predict_parts(vertices, faces, method: str = "sp4d", weights=None, steps: int = 12, passes: int = 2,
                  sam_checkpoint=None, seed: int = 0, device=None) -> dict:
    """Render, generate, back-map and lift. Returns dict with labels [V], part_maps [N,H,W], enc, rgb, cameras."""
    import torch
    from ..config import settings
    from ..errors import InvalidInputError
    from ..models.sp4d.backmap import backmap
    from ..models.sp4d.lifting import lift_part_maps
    from ..models.sp4d.views import DataConfig, camera_inputs, normalize_frames, view_cameras
    from ..render import render_mesh
    from ..util.progress import progress

    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    if len(f) == 0 or not np.isfinite(v).all():
        raise InvalidInputError("mesh has no faces or non-finite vertices", field="mesh")
    dev = torch.device(device) if device else settings.torch_device()
    model = None
    if method == "sp4d":
        from ..models.registry import require_weight
        from ..models.sp4d.model import SP4DModel
        model = SP4DModel.load(weights or require_weight("sp4d-small"), device=dev)
        cfg = model.cfg
        dc = DataConfig(views=cfg.num_views, frames=cfg.num_frames, res=model.meta.image_size,
                        radius=model.meta.camera_radius, fov_deg=model.meta.fov_deg)
    else:
        dc = DataConfig()
    vn = normalize_frames(v[None])[0]
    el = 0.35
    rgbs, encs, masks, fids, cams_all = [], [], [], [], []
    for p in progress(range(passes), desc="views"):
        cams = view_cameras(p * np.pi / 4 / max(1, passes // 2), el, dc, dev)
        r = render_mesh(vn, f, cams)
        rgb = r.rgb.reshape(dc.views, dc.frames, dc.res, dc.res, 3)
        if model is not None:
            x = rgb.permute(0, 1, 4, 2, 3)[None].float()
            cam_in = torch.tensor(camera_inputs(el, dc), dtype=torch.float32, device=dev)[None]
            with torch.no_grad():
                _, parts = model.generate(x, x[:, 0], cam_in, steps=steps, seed=seed + p)
            enc = parts[0].permute(0, 1, 3, 4, 2)[:, 0]
        else:
            enc = rgb[:, 0]
        rgbs.append(rgb[:, 0].cpu().numpy())
        encs.append(enc.float().cpu().numpy())
        masks.append(r.mask.reshape(dc.views, dc.frames, dc.res, dc.res)[:, 0].cpu().numpy())
        fids.append(r.face_id.reshape(dc.views, dc.frames, dc.res, dc.res)[:, 0].cpu().numpy())
        cams_all.append(_frame0(cams, dc))
    rgb = np.concatenate(rgbs)
    enc = np.concatenate(encs)
    fg = np.concatenate(masks)
    # the mesh is known: pool predicted colours per visible triangle across views (docs/models.md)
    maps = backmap(enc, fg=fg, sam_checkpoint=sam_checkpoint, seed=seed, face_ids=np.concatenate(fids))
    from ..render import Camera
    cams = Camera(torch.cat([c.world_to_cam for c in cams_all]), torch.cat([c.focal for c in cams_all]),
                  dc.res, dc.res, torch.cat([c.azimuth for c in cams_all]), torch.cat([c.elevation for c in cams_all]))
    labels, conf = lift_part_maps(vn, f, cams.to("cpu"), maps)
    labels = np.unique(labels, return_inverse=True)[1].reshape(-1).astype(np.int64)  # compact ids 0..K-1
    return {"labels": labels, "confidence": conf, "part_maps": maps, "enc": enc, "rgb": rgb, "cameras": cams,
            "vertices": vn, "faces": f}


def _frame0(cams, dc):
    import torch
    idx = torch.arange(dc.views) * dc.frames
    from ..render import Camera
    return Camera(cams.world_to_cam[idx], cams.focal[idx], cams.width, cams.height, cams.azimuth[idx],
                  cams.elevation[idx])


def _preview(res: dict, path) -> None:
    import torch
    from PIL import Image
    from ..render import render_mesh
    pal = np.random.default_rng(3).uniform(0.1, 0.95, (256, 3))
    lab_img = lambda lab: np.where(lab[..., None] >= 0, pal[lab.clip(0) % 256], 1.0)
    vc = pal[res["labels"] % 256]
    lifted = render_mesh(res["vertices"], res["faces"], res["cameras"].to("cpu"), vertex_colors=vc, ambient=1.0)
    rows = [res["rgb"], res["enc"], lab_img(res["part_maps"]), lifted.rgb.numpy()]
    img = np.concatenate([np.concatenate(list(r), 1) for r in rows], 0)
    img = (np.clip(img, 0, 1) * 255).astype(np.uint8)
    from ..util.atomic import atomic_path
    with atomic_path(path) as tmp:
        Image.fromarray(img).resize((img.shape[1] * 2, img.shape[0] * 2), Image.NEAREST).save(tmp, format="PNG")


def run(args) -> int:
    from ..util.atomic import atomic_path, atomic_write_text
    v, f = _load_mesh(args.input)
    res = predict_parts(v, f, args.method, args.weights, args.steps, args.passes, args.sam_checkpoint,
                        args.seed, args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "part_maps.npz") as tmp:
        np.savez_compressed(tmp, labels=res["part_maps"], encodings=res["enc"].astype(np.float32),
                            rgb=res["rgb"].astype(np.float32))
    with atomic_path(out / "vertex_labels.npy") as tmp:
        np.save(tmp, res["labels"])
    counts = np.bincount(res["labels"]).tolist()
    atomic_write_text(out / "vertex_labels.json", json.dumps({
        "input": str(args.input), "method": args.method, "num_vertices": int(len(v)),
        "num_parts": int(len(np.unique(res["labels"]))), "vertices_per_part": counts,
        "mean_vote_confidence": float(res["confidence"].mean()), "labels": res["labels"].tolist()}))
    _preview(res, out / "preview.png")
    print(f"{len(np.unique(res['labels']))} parts on {len(v)} vertices -> {out}")
    return 0
