"""The SP4D parts pipeline (library home of ``articulate parts`` and ``Articulator.parts``): render a mesh from
orbit views, generate the part branch with the model (RGB branch held at the renders), back-map the colour encodings
into part maps consistent across views and lift them onto the vertices (``--method colour``: colour clustering of
the renders, no model).
"""
from __future__ import annotations

import numpy as np

from ...util.progress import ProgressFn


def predict_parts(vertices, faces, method: str = "sp4d", weights=None, steps: int = 12, passes: int = 2,
                  sam_checkpoint=None, seed: int = 0, device=None, progress: ProgressFn | None = None) -> dict:
    """Render, generate, back-map and lift. Returns dict with labels [V], part_maps [N,H,W], enc, rgb, cameras.

    vertices [V, 3], faces [F, 3]; method "sp4d" (the model, ``weights`` or the registry's sp4d-small) or "colour"
    (colour clustering of the renders); ``progress(fraction, message)`` once per orbit pass, then back-mapping."""
    import torch
    from ...config import settings
    from ...errors import InvalidInputError
    from .backmap import backmap
    from .lifting import lift_part_maps
    from .views import DataConfig, camera_inputs, normalize_frames, view_cameras
    from ...render import render_mesh
    from ...util.progress import Steps

    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    if len(f) == 0 or not np.isfinite(v).all():
        raise InvalidInputError("mesh has no faces or non-finite vertices", field="mesh")
    dev = torch.device(device) if device else settings.torch_device()
    model = None
    if method == "sp4d":
        from ..registry import require_weight
        from .model import SP4DModel
        model = SP4DModel.load(weights or require_weight("sp4d-small"), device=dev)
        cfg = model.cfg
        dc = DataConfig(views=cfg.num_views, frames=cfg.num_frames, res=model.meta.image_size,
                        radius=model.meta.camera_radius, fov_deg=model.meta.fov_deg)
    else:
        dc = DataConfig()
    vn = normalize_frames(v[None])[0]
    el = 0.35
    rgbs, encs, masks, fids, cams_all = [], [], [], [], []
    if method not in ("sp4d", "colour"):
        raise InvalidInputError(f"unknown part method '{method}' (sp4d, colour)", field="method")
    steps_done = Steps(progress, passes + 2)
    for p in range(passes):
        steps_done(f"views {p + 1}/{passes}")
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
    steps_done("back-mapping")
    maps = backmap(enc, fg=fg, sam_checkpoint=sam_checkpoint, seed=seed, face_ids=np.concatenate(fids))
    from ...render import Camera
    cams = Camera(torch.cat([c.world_to_cam for c in cams_all]), torch.cat([c.focal for c in cams_all]),
                  dc.res, dc.res, torch.cat([c.azimuth for c in cams_all]), torch.cat([c.elevation for c in cams_all]))
    labels, conf = lift_part_maps(vn, f, cams.to("cpu"), maps)
    labels = np.unique(labels, return_inverse=True)[1].reshape(-1).astype(np.int64)  # compact ids 0..K-1
    steps_done("lifted")
    return {"labels": labels, "confidence": conf, "part_maps": maps, "enc": enc, "rgb": rgb, "cameras": cams,
            "vertices": vn, "faces": f}


def _frame0(cams, dc):
    import torch
    idx = torch.arange(dc.views) * dc.frames
    from ...render import Camera
    return Camera(cams.world_to_cam[idx], cams.focal[idx], cams.width, cams.height, cams.azimuth[idx],
                  cams.elevation[idx])
